//! Simulated time: `f64` seconds since the leak. Durations in scenario files are written as
//! `"90s"`, `"15m"`, `"1h"`, `"7d"`, `"2w"` (or a bare number of seconds); `"none"` means
//! unbounded where a key allows it.

pub const MINUTE: f64 = 60.0;
pub const HOUR: f64 = 3600.0;
pub const DAY: f64 = 86_400.0;
pub const WEEK: f64 = 7.0 * DAY;

/// Why a duration did not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationError {
    #[error("empty; expected e.g. 900s, 15m, 1h")]
    Empty,
    #[error("expected a number before each unit (e.g. 15m)")]
    MissingNumber,
    #[error("malformed number")]
    MalformedNumber,
    #[error("missing unit (use ms, s, m, h, d or w)")]
    MissingUnit,
    #[error("unknown unit (use ms, s, m, h, d or w)")]
    UnknownUnit,
    #[error("must not be negative")]
    Negative,
    #[error("must be greater than zero")]
    NotPositive,
}

impl DurationError {
    pub fn reason(self) -> String {
        self.to_string()
    }
}

/// What a caller accepts besides `<number><unit>` parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Scenario files: a bare number means seconds; zero is allowed.
    BareSecondsAllowed,
    /// Command-line flags and the planner: a unit is required (`900` could mean seconds or
    /// minutes, so it is refused rather than guessed) and the duration must be > 0.
    UnitRequiredPositive,
}

/// The one duration syntax of leaklab: one or more `<number><unit>` parts (`90s`, `15m`,
/// `1h30m`, `250ms`, `1.5h`, `7d`, `2w`), or, where `policy` allows, a bare number of seconds.
/// Returns seconds, finite and not negative.
pub fn parse_duration(text: &str, policy: Policy) -> Result<f64, DurationError> {
    let (secs, had_unit) = parse_parts(text)?;
    if !secs.is_finite() {
        return Err(DurationError::MalformedNumber);
    }
    if secs < 0.0 {
        return Err(DurationError::Negative);
    }
    match policy {
        Policy::BareSecondsAllowed => Ok(secs),
        Policy::UnitRequiredPositive if !had_unit => Err(DurationError::MissingUnit),
        Policy::UnitRequiredPositive if secs <= 0.0 => Err(DurationError::NotPositive),
        Policy::UnitRequiredPositive => Ok(secs),
    }
}

/// Seconds and whether a unit was written.
fn parse_parts(text: &str) -> Result<(f64, bool), DurationError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    if let Ok(bare) = s.parse::<f64>() {
        return Ok((bare, false));
    }
    let mut total = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(DurationError::MissingNumber);
        }
        let number: f64 = rest[..num_len]
            .parse()
            .map_err(|_| DurationError::MalformedNumber)?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match rest[..unit_len].trim() {
            "ms" => 0.001,
            "s" => 1.0,
            "m" | "min" => MINUTE,
            "h" => HOUR,
            "d" => DAY,
            "w" => WEEK,
            "" => return Err(DurationError::MissingUnit),
            _ => return Err(DurationError::UnknownUnit),
        };
        rest = &rest[unit_len..];
        total += number * factor;
    }
    Ok((total, true))
}

/// Formats seconds compactly for humans: `42s`, `15.0m`, `3.50h`, `3.50d`.
pub fn format_duration(secs: f64) -> String {
    if !secs.is_finite() {
        return "never".into();
    }
    if secs < MINUTE {
        format!("{secs:.0}s")
    } else if secs < HOUR {
        format!("{:.1}m", secs / MINUTE)
    } else if secs < DAY {
        format!("{:.2}h", secs / HOUR)
    } else {
        format!("{:.2}d", secs / DAY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(text: &str) -> Option<f64> {
        parse_duration(text, Policy::BareSecondsAllowed).ok()
    }

    #[test]
    fn parses_units() {
        assert_eq!(scenario("90s"), Some(90.0));
        assert_eq!(scenario("15m"), Some(900.0));
        assert_eq!(scenario("1.5h"), Some(5400.0));
        assert_eq!(scenario("7d"), Some(604_800.0));
        assert_eq!(scenario("3600"), Some(3600.0));
        assert_eq!(scenario("-1h"), None);
        assert_eq!(scenario("1y"), None);
        assert_eq!(scenario("1h30m"), Some(5400.0));
        assert_eq!(scenario("250ms"), Some(0.25));
        assert_eq!(scenario("2w"), Some(2.0 * WEEK));
        assert_eq!(scenario("abc"), None);
    }

    #[test]
    fn unit_required_policy_refuses_ambiguous_or_zero() {
        let strict = |t| parse_duration(t, Policy::UnitRequiredPositive);
        assert_eq!(strict("15m"), Ok(900.0));
        assert_eq!(strict("900"), Err(DurationError::MissingUnit));
        assert_eq!(strict("0s"), Err(DurationError::NotPositive));
        assert_eq!(strict("-5m"), Err(DurationError::MissingNumber));
        for bad in ["", "15x", "m", "1..2s"] {
            assert!(strict(bad).is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(format_duration(45.0), "45s");
        assert_eq!(format_duration(900.0), "15.0m");
        assert_eq!(format_duration(12_600.0), "3.50h");
        assert_eq!(format_duration(f64::INFINITY), "never");
    }
}
