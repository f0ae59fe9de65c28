//! Text formats of simulated quantities shared by `summary.md` and the run page.

use leaklab_base::duration::format_duration;
use leaklab_sim::stats::Interval;

/// A duration in seconds, or "never" for an infinite one.
pub(crate) fn duration(x: f64) -> String {
    if x.is_finite() {
        format_duration(x.max(0.0))
    } else {
        "never".into()
    }
}

/// Formats an interval of seconds compactly.
pub(crate) fn duration_ci(i: &Interval) -> String {
    if !i.mean.is_finite() {
        return "never".into();
    }
    format!(
        "{} ({}–{})",
        format_duration(i.mean),
        format_duration(i.low.max(0.0)),
        format_duration(i.high)
    )
}

/// An interval of hours (e.g. `detection_h`) as durations.
pub(crate) fn hours_ci(i: &Interval) -> String {
    duration_ci(&Interval {
        mean: i.mean * 3600.0,
        low: i.low * 3600.0,
        high: i.high * 3600.0,
        ..*i
    })
}

/// A non-negative quantity with its interval, two decimals.
pub(crate) fn number_ci(i: &Interval) -> String {
    format!("{:.2} ({:.2}–{:.2})", i.mean, i.low.max(0.0), i.high)
}

/// A share as a percentage with its interval, clamped to 0–100%.
pub(crate) fn share_ci(i: &Interval) -> String {
    format!(
        "{:.1}% ({:.1}–{:.1})",
        100.0 * i.mean,
        100.0 * i.low.max(0.0),
        100.0 * i.high.min(1.0)
    )
}
