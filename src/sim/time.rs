//! Simulated time: `f64` seconds since the leak. Durations in scenario files are written as
//! `"90s"`, `"15m"`, `"1h"`, `"7d"`, `"2w"` (or a bare number of seconds); `"none"` means
//! unbounded where a key allows it.

pub const MINUTE: f64 = 60.0;
pub const HOUR: f64 = 3600.0;
pub const DAY: f64 = 86_400.0;
pub const WEEK: f64 = 7.0 * DAY;

/// Parses a duration such as `"15m"` into seconds. Returns `None` if malformed or negative.
pub fn parse_duration(text: &str) -> Option<f64> {
    let t = text.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num.trim().parse().ok()?;
    let scale = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "m" | "min" => MINUTE,
        "h" => HOUR,
        "d" => DAY,
        "w" => WEEK,
        _ => return None,
    };
    let secs = value * scale;
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
        assert_eq!(parse_duration("abc"), None);
    }
}
