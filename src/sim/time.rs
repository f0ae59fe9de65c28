//! Simulated time: `f64` seconds since the leak. Durations in scenario files are written as
//! `"90s"`, `"15m"`, `"1h"`, `"7d"`, `"2w"` (or a bare number of seconds); `"none"` means
//! unbounded where a key allows it.

pub const MINUTE: f64 = 60.0;
pub const HOUR: f64 = 3600.0;
pub const DAY: f64 = 86_400.0;
pub const WEEK: f64 = 7.0 * DAY;

/// Why a duration did not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DurationError {
    Empty,
    MissingNumber,
    MalformedNumber,
    MissingUnit,
    UnknownUnit,
}

impl DurationError {
    pub fn reason(self) -> &'static str {
        match self {
            DurationError::Empty => "empty; expected e.g. 900s, 15m, 1h",
            DurationError::MissingNumber => "expected a number before each unit (e.g. 15m)",
            DurationError::MalformedNumber => "malformed number",
            DurationError::MissingUnit => "missing unit (use ms, s, m, h, d or w)",
            DurationError::UnknownUnit => "unknown unit (use ms, s, m, h, d or w)",
        }
    }
}

/// The one duration syntax of leaklab: one or more `<number><unit>` parts (`90s`, `15m`,
/// `1h30m`, `250ms`, `1.5h`, `7d`, `2w`), or a bare number of seconds. Returns the seconds and
/// whether a unit was written (callers that refuse bare numbers check it).
pub fn parse_duration_parts(text: &str) -> Result<(f64, bool), DurationError> {
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
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_len == 0 {
            return Err(DurationError::MissingNumber);
        }
        let number: f64 = rest[..num_len].parse().map_err(|_| DurationError::MalformedNumber)?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
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

/// Parses a duration into seconds (see [`parse_duration_parts`]). `None` if malformed, negative
/// or not finite.
pub fn parse_duration(text: &str) -> Option<f64> {
    let (secs, _) = parse_duration_parts(text).ok()?;
    (secs.is_finite() && secs >= 0.0).then_some(secs)
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

    #[test]
    fn parses_units() {
        assert_eq!(parse_duration("90s"), Some(90.0));
        assert_eq!(parse_duration("15m"), Some(900.0));
        assert_eq!(parse_duration("1.5h"), Some(5400.0));
        assert_eq!(parse_duration("7d"), Some(604_800.0));
        assert_eq!(parse_duration("3600"), Some(3600.0));
        assert_eq!(parse_duration("-1h"), None);
        assert_eq!(parse_duration("1y"), None);
        assert_eq!(parse_duration("1h30m"), Some(5400.0));
        assert_eq!(parse_duration("250ms"), Some(0.25));
        assert_eq!(parse_duration("2w"), Some(2.0 * WEEK));
        assert_eq!(parse_duration("abc"), None);
    }
}
