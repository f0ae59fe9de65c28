//! Durations written the way operators write them: `900s`, `15m`, `1h`, `1h30m`, `250ms`, `1d`
//! (the syntax is shared with scenario files: `sim::time`).
//!
//! A unit is mandatory: a bare `900` is refused rather than guessed (seconds? minutes?).

use super::CapacityError;
use leaklab_base::duration::parse_duration_parts;

/// Parses a duration into seconds with leaklab's one duration syntax
/// ([`leaklab_base::duration::parse_duration_parts`]), under the planner's stricter policy: a unit is
/// required and the total must be > 0.
pub fn parse_duration(input: &str) -> Result<f64, CapacityError> {
    let err = |reason: &str| CapacityError::InvalidDuration {
        input: input.to_string(),
        reason: reason.to_string(),
    };
    match parse_duration_parts(input) {
        Err(e) => Err(err(e.reason())),
        Ok((_, false)) => Err(err("missing unit (use ms, s, m, h, d or w)")),
        Ok((total, true)) if total.is_finite() && total > 0.0 => Ok(total),
        Ok(_) => Err(err("must be greater than zero")),
    }
}

/// Formats seconds compactly for reports (`900s` → `15m`).
pub fn format_duration(seconds: f64) -> String {
    if seconds >= 3600.0 && (seconds % 3600.0).abs() < 1e-9 {
        format!("{}h", seconds / 3600.0)
    } else if seconds >= 60.0 && (seconds % 60.0).abs() < 1e-9 {
        format!("{}m", seconds / 60.0)
    } else {
        format!("{seconds}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_common_forms() {
        assert_eq!(parse_duration("900s"), Ok(900.0));
        assert_eq!(parse_duration("15m"), Ok(900.0));
        assert_eq!(parse_duration("1h"), Ok(3600.0));
        assert_eq!(parse_duration("1h30m"), Ok(5400.0));
        assert_eq!(parse_duration("250ms"), Ok(0.25));
        assert_eq!(parse_duration("1.5h"), Ok(5400.0));
    }

    #[test]
    fn refuses_ambiguous_or_bad() {
        for bad in ["", "900", "15x", "m", "0s", "-5m", "1..2s"] {
            assert!(parse_duration(bad).is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(format_duration(900.0), "15m");
        assert_eq!(format_duration(3600.0), "1h");
        assert_eq!(format_duration(45.0), "45s");
    }
}
