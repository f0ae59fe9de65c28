//! Line and bar charts written as SVG and PNG through plotters.
//!
//! # Styles
//! A series is styled by its *name*, never by its position, so a strategy looks the same in
//! every chart (containment curves, TTD CDFs, signing-load bars): the strategies of
//! `scenarios/*.toml` have fixed styles ([`STRATEGY_STYLES`]), any other name gets one from a
//! stable hash of the name. Colours come from the Okabe–Ito colour-blind-safe palette; line
//! width, dash pattern and marker shape tell series apart without colour too.
//!
//! Curves that coincide stay visible (a leak of the core host makes `bearer` and `single-dpop`
//! identical, a leak at the edge does the same to most strategies): series are drawn in a fixed
//! layer order, wide light lines underneath and narrower, mostly dashed ones on top, so a lower
//! curve shows at the edges and through the gaps of the one above; and every series puts its
//! markers at its own horizontal offset, so identical curves still show every marker. Markers
//! are drawn after all lines, with a white halo. The legend sits to the right of the plot area
//! and shows each series' line and marker.
//!
//! # Fonts
//! plotters' `ab_glyph` text renderer has no built-in font: one must be registered at run time.
//! The first usable TrueType file from `LEAKLAB_FONT` (a path; `none` disables the lookup) and
//! a list of common system locations (DejaVu Sans from the `fonts-dejavu-core` package first)
//! is loaded once per process and registered as `sans-serif`.
//!
//! The SVG never needs the font: plotters only measures text for captions and legends, and this
//! module draws its title and legend itself at fixed positions, so tick labels and axis names
//! become SVG `<text>` elements that the viewer renders. The PNG rasterises glyphs and does
//! need the font; without one it is skipped and [`PlotFiles::png`] is `None` with a note saying
//! why, so the caller can report it. Nothing here panics on data.
//!
//! # Data hygiene
//! Points with a NaN or infinite coordinate, and points ≤ 0 on a logarithmic axis, are dropped
//! and counted in [`PlotFiles::notes`]. An empty chart is still drawn (axes over a default
//! range, "no data" in the title), never an error.
//!
//! # Determinism
//! The same chart gives the same bytes: no timestamps, sizes and styles that depend only on the
//! chart, a name hash that does not change between runs or builds, and SVG text rendered from a
//! `String` written in one go.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;

use crate::chart::{BarChart, LineChart};
use crate::ReportError;

/// Width of the plot part and height of every chart, in pixels; a line chart's legend adds
/// columns to the right.
const SIZE: (u32, u32) = (960, 600);
const FONT_FAMILY: &str = "sans-serif";

/// Space above the plot area for the title.
const TITLE_SPACE: u32 = 50;
/// One legend column: sample line, marker, name.
const LEGEND_COLUMN: u32 = 250;
const LEGEND_ROW: i32 = 24;
/// Characters of a name shown in the legend and under a bar.
const NAME_CHARS: usize = 24;

/// Fixed palette (Okabe–Ito, colour-blind safe).
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(240, 228, 66),
    RGBColor(0, 0, 0),
];
const OI_BLUE: RGBColor = PALETTE[0];
const OI_VERMILLION: RGBColor = PALETTE[1];
const OI_GREEN: RGBColor = PALETTE[2];
const OI_PURPLE: RGBColor = PALETTE[3];
const OI_ORANGE: RGBColor = PALETTE[4];
const OI_SKY: RGBColor = PALETTE[5];
const OI_BLACK: RGBColor = PALETTE[7];
/// Colours for hashed names: the palette without yellow, which is too faint as a line on white.
const HASHED_COLOURS: [RGBColor; 7] = [
    OI_BLUE,
    OI_VERMILLION,
    OI_GREEN,
    OI_PURPLE,
    OI_ORANGE,
    OI_SKY,
    OI_BLACK,
];

/// Dash patterns: on/off lengths in pixels, starting with "on"; empty is a solid line.
const SOLID: &[u32] = &[];
const LONG_DASH: &[u32] = &[16, 5];
const DASH: &[u32] = &[7, 5];
const DASH_DOT: &[u32] = &[11, 4, 3, 4];
const DOT: &[u32] = &[3, 4];
const DASH_DOT_DOT: &[u32] = &[10, 4, 3, 4, 3, 4];
const LONG_SHORT: &[u32] = &[18, 4, 7, 4];
const HASHED_DASHES: [&[u32]; 7] = [
    SOLID,
    LONG_DASH,
    DASH,
    DASH_DOT,
    DOT,
    DASH_DOT_DOT,
    LONG_SHORT,
];

/// Marker "radius" in pixels, and the horizontal grid markers sit on: series with slot `s` put
/// a marker wherever the curve crosses `x = left + MARKER_LEAD + s * MARKER_STEP + k *
/// MARKER_PERIOD`, so curves sharing a stretch never share a marker position.
const MARKER_R: f64 = 5.0;
const MARKER_LEAD: f64 = 8.0;
const MARKER_STEP: f64 = 14.0;
const MARKER_SLOTS: u32 = 8;
const MARKER_PERIOD: f64 = MARKER_STEP * MARKER_SLOTS as f64;

/// Marker shapes, all distinct in outline so they read without colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Marker {
    Circle,
    Square,
    TriangleUp,
    Diamond,
    TriangleDown,
    Cross,
    Plus,
    Star,
}

const MARKERS: [Marker; 8] = [
    Marker::Circle,
    Marker::Square,
    Marker::TriangleUp,
    Marker::Diamond,
    Marker::TriangleDown,
    Marker::Cross,
    Marker::Plus,
    Marker::Star,
];

/// How one series is drawn; chosen from its name only.
#[derive(Clone, Copy, Debug, PartialEq)]
struct SeriesStyle {
    /// Full colour: markers, bar outlines.
    color: RGBColor,
    /// Share of white mixed into the line and bar fill (0 = full colour): wide lines lie
    /// underneath and are lighter, so the narrower ones drawn over them stand out.
    tint: f64,
    width: u32,
    dash: &'static [u32],
    marker: Marker,
    /// Marker offset along x, in [`MARKER_STEP`]s (below [`MARKER_SLOTS`]).
    slot: u32,
    /// Drawing order, lowest first; ties go by name.
    layer: u32,
}

impl SeriesStyle {
    fn line_color(&self) -> RGBColor {
        self.mixed(self.tint)
    }

    /// Bars are filled lighter than lines, so the full-colour marker on them stands out.
    fn bar_fill(&self) -> RGBColor {
        self.mixed(self.tint.max(0.45))
    }

    fn mixed(&self, white: f64) -> RGBColor {
        let mix = |c: u8| (f64::from(c) + (255.0 - f64::from(c)) * white).round() as u8;
        RGBColor(mix(self.color.0), mix(self.color.1), mix(self.color.2))
    }
}

/// Layer for hashed names: above every named strategy.
const HASHED_LAYER: u32 = 100;

/// The strategies in `scenarios/*.toml`, bottom layer first. Strategies whose curves often
/// coincide get strictly decreasing widths in this order (bearer, mtls, jwks, single-dpop under
/// a host or RT-store leak; bearer-rotation, single-dpop-hsm, split-dpop at zero) and distinct
/// marker slots, so every one of them stays visible.
const STRATEGY_STYLES: [(&str, SeriesStyle); 7] = [
    (
        "bearer",
        SeriesStyle {
            color: OI_BLACK,
            tint: 0.68,
            width: 11,
            dash: SOLID,
            marker: Marker::Circle,
            slot: 0,
            layer: 0,
        },
    ),
    (
        "bearer-rotation",
        SeriesStyle {
            color: OI_VERMILLION,
            tint: 0.5,
            width: 8,
            dash: SOLID,
            marker: Marker::Square,
            slot: 4,
            layer: 1,
        },
    ),
    (
        "mtls",
        SeriesStyle {
            color: OI_GREEN,
            tint: 0.2,
            width: 6,
            dash: LONG_DASH,
            marker: Marker::TriangleUp,
            slot: 2,
            layer: 2,
        },
    ),
    (
        "single-dpop-hsm",
        SeriesStyle {
            color: OI_SKY,
            tint: 0.0,
            width: 5,
            dash: SOLID,
            marker: Marker::Cross,
            slot: 6,
            layer: 3,
        },
    ),
    (
        "jwks",
        SeriesStyle {
            color: OI_PURPLE,
            tint: 0.0,
            width: 4,
            dash: DASH_DOT,
            marker: Marker::Diamond,
            slot: 1,
            layer: 4,
        },
    ),
    (
        "single-dpop",
        SeriesStyle {
            color: OI_ORANGE,
            tint: 0.0,
            width: 3,
            dash: DASH,
            marker: Marker::TriangleDown,
            slot: 5,
            layer: 5,
        },
    ),
    (
        "split-dpop",
        SeriesStyle {
            color: OI_BLUE,
            tint: 0.0,
            width: 2,
            dash: SOLID,
            marker: Marker::Star,
            slot: 3,
            layer: 6,
        },
    ),
];

/// 64-bit FNV-1a with a final mix: stable across runs, builds and platforms (unlike std's
/// `DefaultHasher`), so a hashed style never changes.
fn stable_hash(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // splitmix64 finaliser: spreads FNV's weak low bits over the whole word.
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The style of the series called `name` (the same in every chart).
fn series_style(name: &str) -> SeriesStyle {
    let key = name.trim();
    if let Some((_, style)) = STRATEGY_STYLES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(key))
    {
        return *style;
    }
    let h = stable_hash(key);
    let pick = |shift: u32, n: usize| ((h >> shift) % n as u64) as usize;
    SeriesStyle {
        color: HASHED_COLOURS[pick(0, HASHED_COLOURS.len())],
        tint: 0.0,
        width: 3,
        dash: HASHED_DASHES[pick(16, HASHED_DASHES.len())],
        marker: MARKERS[pick(32, MARKERS.len())],
        slot: pick(48, MARKER_SLOTS as usize) as u32,
        layer: HASHED_LAYER,
    }
}

/// How a series is drawn in the HTML report, from the same style table as the PNG/SVG plots:
/// CSS colour of the line, line width (px), SVG dash array ("" for solid) and drawing layer.
#[derive(Clone, Debug, PartialEq)]
pub struct CssStyle {
    pub color: String,
    pub width: u32,
    pub dash: String,
    pub layer: u32,
}

/// The HTML report's style of the series called `name` (see [`CssStyle`]).
pub fn css_style(name: &str) -> CssStyle {
    let s = series_style(name);
    let c = s.line_color();
    CssStyle {
        color: format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2),
        // Thinner than the raster plots: the page draws at 1:1 on screens.
        width: s.width.div_ceil(2).max(1),
        dash: s
            .dash
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(","),
        layer: s.layer,
    }
}

/// Common TrueType locations tried in order.
const FONT_CANDIDATES: [&str; 9] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "/Library/Fonts/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// What was written.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotFiles {
    pub svg: PathBuf,
    /// The SVG file's text (for a page that inlines the chart).
    pub svg_markup: String,
    /// `None` when no font was found (see the module docs).
    pub png: Option<PathBuf>,
    /// Dropped points, empty data, a skipped PNG: things the caller should tell the user.
    pub notes: Vec<String>,
}

/// The registered font's path, or `None` if no usable font was found. Loads once.
pub fn font_path() -> Option<&'static Path> {
    static FONT: OnceLock<Option<PathBuf>> = OnceLock::new();
    FONT.get_or_init(|| {
        let from_env = std::env::var_os("LEAKLAB_FONT").map(PathBuf::from);
        if from_env.as_deref() == Some(Path::new("none")) {
            return None;
        }
        let candidates = from_env
            .into_iter()
            .chain(FONT_CANDIDATES.iter().map(PathBuf::from));
        for path in candidates {
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            // ab_glyph keeps `&'static` font data; this happens at most once per process.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            if plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, bytes).is_ok() {
                return Some(path);
            }
        }
        None
    })
    .as_deref()
}

fn plot_err(stem: &str, e: impl std::fmt::Display) -> ReportError {
    ReportError::Plot {
        plot: stem.to_string(),
        message: e.to_string(),
    }
}

/// Writes `<dir>/<stem>.svg` and, when a font is available, `<dir>/<stem>.png`.
pub fn write_line_chart(
    dir: &Path,
    stem: &str,
    chart: &LineChart,
) -> Result<PlotFiles, ReportError> {
    let prepared = PreparedLines::new(chart);
    let notes = prepared.notes.clone();
    write_both(
        dir,
        stem,
        line_canvas(prepared.series.len()),
        notes,
        &|root| draw_lines(root, &prepared),
        &|root| draw_lines(root, &prepared),
    )
}

/// Writes a bar chart as `<dir>/<stem>.svg` and (font permitting) `.png`.
pub fn write_bar_chart(dir: &Path, stem: &str, chart: &BarChart) -> Result<PlotFiles, ReportError> {
    let prepared = PreparedBars::new(chart);
    let notes = prepared.notes.clone();
    write_both(
        dir,
        stem,
        SIZE,
        notes,
        &|root| draw_bars(root, &prepared),
        &|root| draw_bars(root, &prepared),
    )
}

/// Legend rows that fit in one column beside the plot.
fn legend_rows() -> usize {
    ((SIZE.1 - TITLE_SPACE - 30) as i32 / LEGEND_ROW).max(1) as usize
}

/// Canvas of a line chart: the plot plus as many legend columns as the series need.
fn line_canvas(series: usize) -> (u32, u32) {
    let columns = series.div_ceil(legend_rows()) as u32;
    (SIZE.0 + columns * LEGEND_COLUMN, SIZE.1)
}

/// Draws a chart on an SVG or a bitmap canvas.
type SvgDraw<'f> = dyn Fn(&DrawingArea<SVGBackend, Shift>) -> Result<(), String> + 'f;
type PngDraw<'f> = dyn Fn(&DrawingArea<BitMapBackend, Shift>) -> Result<(), String> + 'f;

/// Renders an SVG to a string (no font needed).
fn render_svg(size: (u32, u32), draw: &SvgDraw<'_>) -> Result<String, String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        draw(&root)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(out)
}

fn write_both(
    dir: &Path,
    stem: &str,
    size: (u32, u32),
    mut notes: Vec<String>,
    draw_svg: &SvgDraw<'_>,
    draw_png: &PngDraw<'_>,
) -> Result<PlotFiles, ReportError> {
    // Register the font (if any) before drawing so SVG and PNG agree on layout.
    let font = font_path();
    let svg = render_svg(size, draw_svg).map_err(|e| plot_err(stem, e))?;
    let svg_path = dir.join(format!("{stem}.svg"));
    std::fs::write(&svg_path, &svg).map_err(|e| ReportError::io(&svg_path, e))?;
    let png = if font.is_some() {
        let png_path = dir.join(format!("{stem}.png"));
        {
            let root = BitMapBackend::new(&png_path, size).into_drawing_area();
            draw_png(&root).map_err(|e| plot_err(stem, e))?;
            root.present().map_err(|e| plot_err(stem, e))?;
        }
        Some(png_path)
    } else {
        notes.push(
            "PNG skipped: no TrueType font found (set LEAKLAB_FONT or install fonts-dejavu-core)"
                .into(),
        );
        None
    };
    Ok(PlotFiles {
        svg: svg_path,
        svg_markup: svg,
        png,
        notes,
    })
}

/// A series ready to draw: the name that picks its style, the legend label, usable points.
struct PlotSeries {
    name: String,
    label: String,
    points: Vec<(f64, f64)>,
}

/// Data with bad points removed and ranges settled.
struct PreparedLines {
    title: String,
    x_label: String,
    y_label: String,
    log_x: bool,
    log_y: bool,
    series: Vec<PlotSeries>,
    x: (f64, f64),
    y: (f64, f64),
    notes: Vec<String>,
}

fn usable(v: f64, log: bool) -> bool {
    v.is_finite() && (!log || v > 0.0)
}

/// A range plotters can draw: increasing, finite, with a finite span (its tick search never
/// ends on an infinite span), and > 0 on a log axis.
fn drawable((lo, hi): (f64, f64), log: bool) -> bool {
    usable(lo, log) && usable(hi, log) && lo < hi && (hi - lo).is_finite()
}

/// A valid axis range: fixed if given and usable (widened by 2% on each side, so a thick line
/// on the boundary is not cut in half by the axis), else fitted to `values` with padding.
fn axis_range(
    fixed: Option<(f64, f64)>,
    values: &[f64],
    log: bool,
    what: &str,
    notes: &mut Vec<String>,
) -> (f64, f64) {
    if let Some((lo, hi)) = fixed {
        if drawable((lo, hi), log) {
            let padded = if log {
                let f = (hi / lo).powf(0.02);
                (lo / f, hi * f)
            } else {
                let pad = (hi - lo) * 0.02;
                (lo - pad, hi + pad)
            };
            // Extreme ranges can overflow when widened; the unpadded range still works.
            return if drawable(padded, log) {
                padded
            } else {
                (lo, hi)
            };
        }
        notes.push(format!(
            "{what} range ({lo}, {hi}) ignored: not an increasing finite range{}",
            if log { " > 0" } else { "" }
        ));
    }
    let default = if log { (1.0, 10.0) } else { (0.0, 1.0) };
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !(lo.is_finite() && hi.is_finite()) {
        return default;
    }
    let fitted = match log {
        false if lo == hi => (lo - lo.abs().max(1.0) * 0.5, hi + hi.abs().max(1.0) * 0.5),
        false => {
            let pad = (hi - lo) * 0.05;
            (lo - pad, hi + pad)
        }
        true => (lo / 1.25, hi * 1.25),
    };
    if drawable(fitted, log) {
        fitted
    } else if drawable((lo, hi), log) {
        (lo, hi)
    } else {
        notes.push(format!(
            "{what} values from {lo} to {hi} cannot be drawn on one axis; default range used"
        ));
        default
    }
}

impl PreparedLines {
    fn new(c: &LineChart) -> Self {
        let mut notes = Vec::new();
        let mut series = Vec::with_capacity(c.series.len());
        for s in &c.series {
            let points: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|&(x, y)| usable(x, c.log_x) && usable(y, c.log_y))
                .collect();
            let dropped = s.points.len() - points.len();
            if dropped > 0 {
                notes.push(format!(
                    "series `{}`: {dropped} point(s) dropped (NaN/infinite, or <= 0 on a log axis)",
                    s.label()
                ));
            }
            series.push(PlotSeries {
                name: s.name.clone(),
                label: s.label(),
                points,
            });
        }
        let xs: Vec<f64> = series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .collect();
        let ys: Vec<f64> = series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .collect();
        let mut title = c.title.clone();
        if xs.is_empty() {
            notes.push(format!("chart `{}` has no data points", c.title));
            title.push_str(" (no data)");
        }
        let x = axis_range(c.x_range, &xs, c.log_x, "x", &mut notes);
        let y = axis_range(c.y_range, &ys, c.log_y, "y", &mut notes);
        Self {
            title,
            x_label: c.x_label.clone(),
            y_label: c.y_label.clone(),
            log_x: c.log_x,
            log_y: c.log_y,
            series,
            x,
            y,
            notes,
        }
    }
}

/// Compact tick labels: `0.05`, `12.5`, `1500`, `2.5e6`.
pub fn format_number(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 {
        "0".into()
    } else if !(1e-3..1e6).contains(&a) {
        format!("{v:.1e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn text_style(size: f64) -> TextStyle<'static> {
    (FONT_FAMILY, size).into_font().color(&BLACK)
}

/// A name cut to `max` characters, with an ellipsis when cut.
fn shorten(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        name.to_string()
    } else {
        let mut s: String = name.chars().take(max - 1).collect();
        s.push('…');
        s
    }
}

type Px = (f64, f64);

/// White background and the title, centred at a fixed position (no text measuring, so the SVG
/// works without a font); a long title gets a smaller font so it fits the canvas.
fn draw_title<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let width = root.dim_in_pixel().0;
    // About 0.6 em per character in DejaVu Sans; deterministic, unlike measuring.
    let chars = title.chars().count().max(1) as f64;
    let size = (f64::from(width.saturating_sub(40)) / (0.6 * chars)).clamp(12.0, 22.0);
    let centred = text_style(size).pos(Pos::new(HPos::Center, VPos::Top));
    root.draw_text(title, &centred, (width as i32 / 2, 10))
        .map_err(|e| e.to_string())
}

/// The legend in the area right of the plot: one row per series (style name, label) in the
/// caller's order, each with a sample of the line (width, tint, dashes) and the marker.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    names: &[(&str, &str)],
) -> Result<(), String> {
    if names.is_empty() {
        return Ok(());
    }
    let rows = legend_rows();
    let top = TITLE_SPACE as i32 + 4;
    let shown_rows = names.len().min(rows) as i32;
    let columns = names.len().div_ceil(rows) as i32;
    let width = columns * LEGEND_COLUMN as i32 - 12;
    area.draw(&Rectangle::new(
        [(0, top - 6), (width, top + shown_rows * LEGEND_ROW + 6)],
        RGBColor(190, 190, 190).stroke_width(1),
    ))
    .map_err(|e| e.to_string())?;
    let label_style = text_style(14.0).pos(Pos::new(HPos::Left, VPos::Center));
    for (i, (name, label)) in names.iter().enumerate() {
        let style = series_style(name);
        let x = (i / rows) as i32 * LEGEND_COLUMN as i32 + 8;
        let cy = top + (i % rows) as i32 * LEGEND_ROW + LEGEND_ROW / 2;
        let sample: Vec<Px> = vec![
            (f64::from(x), f64::from(cy)),
            (f64::from(x + 48), f64::from(cy)),
        ];
        draw_styled_line(area, &sample, &style)?;
        draw_marker(area, style.marker, (x + 24, cy), style.color)?;
        area.draw_text(&shorten(label, NAME_CHARS), &label_style, (x + 58, cy))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Clips a pixel polyline to a rectangle (Liang–Barsky per segment); the visible parts come
/// back as separate polylines. A single inside point stays a one-point polyline.
fn clip_polyline(points: &[Px], (x0, y0, x1, y1): (f64, f64, f64, f64)) -> Vec<Vec<Px>> {
    let inside = |p: Px| (x0..=x1).contains(&p.0) && (y0..=y1).contains(&p.1);
    if points.len() == 1 {
        return if inside(points[0]) {
            vec![points.to_vec()]
        } else {
            vec![]
        };
    }
    let mut out: Vec<Vec<Px>> = Vec::new();
    let mut current: Vec<Px> = Vec::new();
    for w in points.windows(2) {
        let (a, b) = (w[0], w[1]);
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        let mut visible = true;
        for (p, q) in [
            (-dx, a.0 - x0),
            (dx, x1 - a.0),
            (-dy, a.1 - y0),
            (dy, y1 - a.1),
        ] {
            if p == 0.0 {
                if q < 0.0 {
                    visible = false;
                }
            } else {
                let r = q / p;
                if p < 0.0 {
                    t0 = t0.max(r);
                } else {
                    t1 = t1.min(r);
                }
            }
        }
        if !visible || t0 > t1 {
            if current.len() > 1 {
                out.push(std::mem::take(&mut current));
            }
            current.clear();
            continue;
        }
        // t0 = 0 and t1 = 1 leave the ends exactly as given, so pieces join exactly.
        let start = if t0 > 0.0 {
            (a.0 + t0 * dx, a.1 + t0 * dy)
        } else {
            a
        };
        let end = if t1 < 1.0 {
            (a.0 + t1 * dx, a.1 + t1 * dy)
        } else {
            b
        };
        if current.last() != Some(&start) {
            if current.len() > 1 {
                out.push(std::mem::take(&mut current));
            }
            current = vec![start];
        }
        current.push(end);
    }
    if current.len() > 1 {
        out.push(current);
    }
    out
}

/// The "on" stretches of a polyline under a dash pattern (solid: the polyline itself).
fn dashes(points: &[Px], pattern: &[u32]) -> Vec<Vec<Px>> {
    if pattern.iter().all(|&d| d == 0) || points.len() < 2 {
        return vec![points.to_vec()];
    }
    let mut out = Vec::new();
    let mut current = vec![points[0]];
    let mut idx = 0;
    let mut left = f64::from(pattern[0]);
    for w in points.windows(2) {
        let (a, b) = (w[0], w[1]);
        let len = (b.0 - a.0).hypot(b.1 - a.1);
        let mut pos = 0.0;
        while len - pos > left {
            pos += left;
            let t = pos / len;
            let p = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
            if idx % 2 == 0 {
                current.push(p);
                out.push(std::mem::take(&mut current));
            } else {
                current = vec![p];
            }
            idx = (idx + 1) % pattern.len();
            left = f64::from(pattern[idx]);
        }
        left -= len - pos;
        if idx % 2 == 0 {
            current.push(b);
        }
    }
    if idx % 2 == 0 && current.len() > 1 {
        out.push(current);
    }
    out
}

/// Rounds to backend pixels, dropping repeated points (the bitmap backend's wide-line
/// polygons need distinct neighbours).
fn to_pixels(points: &[Px]) -> Vec<(i32, i32)> {
    let mut out: Vec<(i32, i32)> = Vec::with_capacity(points.len());
    for p in points {
        let q = (p.0.round() as i32, p.1.round() as i32);
        if out.last() != Some(&q) {
            out.push(q);
        }
    }
    out
}

/// Draws one polyline (backend pixels) in a series' line style.
fn draw_styled_line<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    points: &[Px],
    style: &SeriesStyle,
) -> Result<(), String> {
    let line = style.line_color().stroke_width(style.width);
    for dash in dashes(points, style.dash) {
        let px = to_pixels(&dash);
        if px.len() > 1 {
            area.draw(&PathElement::new(px, line))
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// A marker's outline in units of [`MARKER_R`], y pointing down; `None` for the circle.
fn marker_outline(marker: Marker) -> Option<Vec<Px>> {
    let plus = |l: f64, w: f64| -> Vec<Px> {
        vec![
            (-w, -l),
            (w, -l),
            (w, -w),
            (l, -w),
            (l, w),
            (w, w),
            (w, l),
            (-w, l),
            (-w, w),
            (-l, w),
            (-l, -w),
            (-w, -w),
        ]
    };
    Some(match marker {
        Marker::Circle => return None,
        Marker::Square => vec![(-0.95, -0.95), (0.95, -0.95), (0.95, 0.95), (-0.95, 0.95)],
        Marker::Diamond => vec![(0.0, -1.4), (0.9, 0.0), (0.0, 1.4), (-0.9, 0.0)],
        Marker::TriangleUp => vec![(0.0, -1.25), (1.15, 0.85), (-1.15, 0.85)],
        Marker::TriangleDown => vec![(0.0, 1.25), (1.15, -0.85), (-1.15, -0.85)],
        Marker::Plus => plus(1.2, 0.38),
        Marker::Cross => {
            let s = std::f64::consts::FRAC_1_SQRT_2;
            plus(1.3, 0.38)
                .into_iter()
                .map(|(x, y)| ((x - y) * s, (x + y) * s))
                .collect()
        }
        Marker::Star => (0..10)
            .map(|k| {
                let r = if k % 2 == 0 { 1.35 } else { 0.6 };
                let a = -std::f64::consts::FRAC_PI_2 + f64::from(k) * std::f64::consts::PI / 5.0;
                (r * a.cos(), r * a.sin())
            })
            .collect(),
    })
}

/// A filled marker with a white halo, so markers stay apart from lines and each other.
fn draw_marker<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    marker: Marker,
    at: (i32, i32),
    color: RGBColor,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let Some(outline) = marker_outline(marker) else {
        let r = MARKER_R.round() as i32;
        area.draw(&Circle::new(at, r + 2, WHITE.filled()))
            .map_err(err)?;
        return area.draw(&Circle::new(at, r, color.filled())).map_err(err);
    };
    let px: Vec<(i32, i32)> = outline
        .iter()
        .map(|&(x, y)| {
            let p = (
                f64::from(at.0) + x * MARKER_R,
                f64::from(at.1) + y * MARKER_R,
            );
            (p.0.round() as i32, p.1.round() as i32)
        })
        .collect();
    let mut ring = px.clone();
    ring.extend(px.first().copied());
    ring.extend(px.get(1).copied()); // closes the corner of the wide outline
    area.draw(&PathElement::new(ring, WHITE.stroke_width(4)))
        .map_err(err)?;
    area.draw(&Polygon::new(px, color.filled())).map_err(err)
}

/// Where a series' markers go on a pixel polyline: where it crosses its slot's x grid. A
/// polyline that crosses none (one point, a vertical line) gets one marker at its start.
fn marker_positions(line: &[Px], left: f64, slot: u32) -> Vec<Px> {
    let base = left + MARKER_LEAD + f64::from(slot % MARKER_SLOTS) * MARKER_STEP;
    let mut out = Vec::new();
    for w in line.windows(2) {
        let (a, b) = (w[0], w[1]);
        if a.0 == b.0 {
            continue;
        }
        let (lo, hi) = (a.0.min(b.0), a.0.max(b.0));
        let mut k = ((lo - base) / MARKER_PERIOD).ceil();
        loop {
            let x = base + k * MARKER_PERIOD;
            if x >= hi {
                break;
            }
            let t = (x - a.0) / (b.0 - a.0);
            out.push((x, a.1 + (b.1 - a.1) * t));
            k += 1.0;
        }
    }
    if out.is_empty() {
        out.extend(line.first().copied());
    }
    out
}

fn draw_lines<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    p: &PreparedLines,
) -> Result<(), String> {
    draw_title(root, &p.title)?;
    let (plot, legend) = root.split_horizontally(SIZE.0);
    let names: Vec<(&str, &str)> = p
        .series
        .iter()
        .map(|s| (s.name.as_str(), s.label.as_str()))
        .collect();
    draw_legend(&legend, &names)?;
    let (x, y) = (p.x.0..p.x.1, p.y.0..p.y.1);
    match (p.log_x, p.log_y) {
        (false, false) => lines_in(&plot, p, x, y),
        (true, false) => lines_in(&plot, p, x.log_scale(), y),
        (false, true) => lines_in(&plot, p, x, y.log_scale()),
        (true, true) => lines_in(&plot, p, x.log_scale(), y.log_scale()),
    }
}

fn lines_in<DB, X, Y>(
    area: &DrawingArea<DB, Shift>,
    p: &PreparedLines,
    x: X,
    y: Y,
) -> Result<(), String>
where
    DB: DrawingBackend,
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(area)
        .margin_top(TITLE_SPACE)
        .margin_right(20)
        .margin_left(10)
        .margin_bottom(10)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(x, y)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc(p.x_label.as_str())
        .y_desc(p.y_label.as_str())
        .x_labels(10)
        .y_labels(10)
        .x_label_formatter(&|v| format_number(*v))
        .y_label_formatter(&|v| format_number(*v))
        .label_style(text_style(13.0))
        .axis_desc_style(text_style(15.0))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(|e| e.to_string())?;
    // Lines and markers are drawn in backend pixels (this area starts at the canvas origin), so
    // dashes and marker spacing are uniform on screen whatever the axis scales.
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    let rect = (
        f64::from(xr.start),
        f64::from(yr.start),
        f64::from(xr.end),
        f64::from(yr.end),
    );
    let mut order: Vec<(SeriesStyle, &PlotSeries)> = p
        .series
        .iter()
        .map(|s| (series_style(&s.name), s))
        .collect();
    // Stable sort: equal (layer, label) keep the caller's order.
    order.sort_by(|a, b| (a.0.layer, &a.1.label).cmp(&(b.0.layer, &b.1.label)));
    let pieces: Vec<Vec<Vec<Px>>> = order
        .iter()
        .map(|(_, s)| {
            let px: Vec<Px> = s
                .points
                .iter()
                .map(|pt| {
                    let (bx, by) = chart.backend_coord(pt);
                    (f64::from(bx), f64::from(by))
                })
                .collect();
            clip_polyline(&px, rect)
        })
        .collect();
    for ((style, _), lines) in order.iter().zip(&pieces) {
        for line in lines {
            draw_styled_line(area, line, style)?;
        }
    }
    for ((style, _), lines) in order.iter().zip(&pieces) {
        for line in lines {
            for (mx, my) in marker_positions(line, rect.0, style.slot) {
                let at = (mx.round() as i32, my.round() as i32);
                draw_marker(area, style.marker, at, style.color)?;
            }
        }
    }
    Ok(())
}

struct PreparedBars {
    title: String,
    x_label: String,
    y_label: String,
    log_y: bool,
    bars: Vec<(String, f64)>,
    y: (f64, f64),
    notes: Vec<String>,
}

impl PreparedBars {
    fn new(c: &BarChart) -> Self {
        let mut notes = Vec::new();
        let bars: Vec<(String, f64)> = c
            .bars
            .iter()
            .filter(|(name, v)| {
                let keep = usable(*v, c.log_y);
                if !keep {
                    notes.push(format!(
                        "bar `{name}` dropped: value {v} cannot be drawn{}",
                        if c.log_y { " on a log axis" } else { "" }
                    ));
                }
                keep
            })
            .cloned()
            .collect();
        let mut title = c.title.clone();
        if bars.is_empty() {
            notes.push(format!("chart `{}` has no bars", c.title));
            title.push_str(" (no data)");
        }
        let mut values: Vec<f64> = bars.iter().map(|b| b.1).collect();
        if !c.log_y {
            values.push(0.0); // bars start at zero on a linear axis
        }
        let (lo, hi) = axis_range(None, &values, c.log_y, "y", &mut notes);
        // On a log axis bars start at the power of ten below the smallest bar, so the smallest
        // bar keeps a visible height.
        let y = if c.log_y {
            let min = values.iter().copied().fold(f64::INFINITY, f64::min);
            let base = if min.is_finite() {
                10f64.powf((min.log10() - 1e-9).floor())
            } else {
                lo
            };
            (base.min(lo), hi)
        } else {
            (lo.min(0.0), hi)
        };
        Self {
            title,
            x_label: c.x_label.clone(),
            y_label: c.y_label.clone(),
            log_y: c.log_y,
            bars,
            y,
            notes,
        }
    }
}

fn draw_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    p: &PreparedBars,
) -> Result<(), String> {
    draw_title(root, &p.title)?;
    let n = p.bars.len().max(1) as f64;
    if p.log_y {
        bars_in(root, p, 0.0..n, (p.y.0..p.y.1).log_scale())
    } else {
        bars_in(root, p, 0.0..n, p.y.0..p.y.1)
    }
}

fn bars_in<DB, Y>(
    root: &DrawingArea<DB, Shift>,
    p: &PreparedBars,
    x: std::ops::Range<f64>,
    y: Y,
) -> Result<(), String>
where
    DB: DrawingBackend,
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(root)
        .margin_top(TITLE_SPACE)
        .margin_right(30)
        .margin_left(10)
        .margin_bottom(10)
        .x_label_area_size(60)
        .y_label_area_size(80)
        .build_cartesian_2d(x, y)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(10)
        .x_desc(p.x_label.as_str())
        .y_desc(p.y_label.as_str())
        .y_label_formatter(&|v| format_number(*v))
        .label_style(text_style(13.0))
        .axis_desc_style(text_style(15.0))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(|e| e.to_string())?;
    let base = p.y.0;
    let below = text_style(13.0).pos(Pos::new(HPos::Center, VPos::Top));
    let above = text_style(13.0).pos(Pos::new(HPos::Center, VPos::Bottom));
    for (i, (name, v)) in p.bars.iter().enumerate() {
        // Same colour and marker as the series of that name in the line charts.
        let style = series_style(name);
        let x0 = i as f64 + 0.15;
        let x1 = i as f64 + 0.85;
        chart
            .draw_series([
                Rectangle::new([(x0, base), (x1, *v)], style.bar_fill().filled()),
                Rectangle::new([(x0, base), (x1, *v)], style.color.stroke_width(2)),
            ])
            .map_err(|e| e.to_string())?;
        // Category name under the bar, marker at its top (above it if the bar is short) and
        // the value above that, positioned in backend pixels.
        let (cx, by) = chart.backend_coord(&(i as f64 + 0.5, base));
        let (_, vy) = chart.backend_coord(&(i as f64 + 0.5, *v));
        let room = 2 * MARKER_R as i32 + 8;
        let (marker_y, text_y) = if by - vy >= room {
            (vy + room / 2, vy - 4)
        } else {
            (vy - room / 2, vy - room - 2)
        };
        draw_marker(root, style.marker, (cx, marker_y), style.color)?;
        root.draw_text(&shorten(name, NAME_CHARS), &below, (cx, by + 8))
            .map_err(|e| e.to_string())?;
        root.draw_text(&format_number(*v), &above, (cx, text_y))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::Series;

    fn chart(log_y: bool) -> LineChart {
        LineChart {
            title: "t".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            log_y,
            series: vec![
                Series::new(
                    "a",
                    vec![(1.0, 1.0), (2.0, 10.0), (3.0, f64::NAN), (4.0, 0.0)],
                ),
                Series::new("empty", vec![]),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn line_chart_is_deterministic_and_filters() {
        let dir = tempfile::tempdir().unwrap();
        let a = write_line_chart(dir.path(), "a", &chart(true)).unwrap();
        let b = write_line_chart(dir.path(), "b", &chart(true)).unwrap();
        let (sa, sb) = (
            std::fs::read(&a.svg).unwrap(),
            std::fs::read(&b.svg).unwrap(),
        );
        assert_eq!(sa, sb);
        assert!(
            a.notes.iter().any(|n| n.contains("2 point(s) dropped")),
            "{:?}",
            a.notes
        );
        if let (Some(pa), Some(pb)) = (&a.png, &b.png) {
            assert_eq!(std::fs::read(pa).unwrap(), std::fs::read(pb).unwrap());
        } else {
            assert!(a.notes.iter().any(|n| n.contains("PNG skipped")));
        }
        // Linear axis keeps the zero point.
        let lin = write_line_chart(dir.path(), "lin", &chart(false)).unwrap();
        assert!(
            lin.notes.iter().any(|n| n.contains("1 point(s) dropped")),
            "{:?}",
            lin.notes
        );
    }

    #[test]
    fn empty_and_degenerate_charts_draw() {
        let dir = tempfile::tempdir().unwrap();
        let empty = LineChart {
            title: "nothing".into(),
            log_x: true,
            log_y: true,
            ..Default::default()
        };
        let f = write_line_chart(dir.path(), "empty", &empty).unwrap();
        assert!(f.notes.iter().any(|n| n.contains("no data")));
        let single = LineChart {
            series: vec![Series::new("one", vec![(5.0, 5.0)])],
            x_range: Some((3.0, 1.0)),
            ..Default::default()
        };
        let f = write_line_chart(dir.path(), "single", &single).unwrap();
        assert!(f.notes.iter().any(|n| n.contains("ignored")));
        let huge = LineChart {
            series: vec![Series::new("huge", vec![(0.0, -1e308), (1.0, 1e308)])],
            y_range: Some((-f64::MAX, f64::MAX)),
            ..Default::default()
        };
        let f = write_line_chart(dir.path(), "huge", &huge).unwrap();
        assert!(
            f.notes.iter().any(|n| n.contains("cannot be drawn")),
            "{:?}",
            f.notes
        );
        let tiny = LineChart {
            series: vec![Series::new(
                "tiny",
                vec![(1.0, 1.0), (1.0 + 1e-15, 1.0 + 1e-15), (2.0, 5e-324)],
            )],
            y_range: Some((1.0, 1.0 + 2e-16)),
            ..Default::default()
        };
        assert!(write_line_chart(dir.path(), "tiny", &tiny).is_ok());
        let wide_bars = BarChart {
            bars: vec![("up".into(), f64::MAX), ("down".into(), -f64::MAX)],
            ..Default::default()
        };
        assert!(write_bar_chart(dir.path(), "wide", &wide_bars).is_ok());
        let bars = BarChart {
            title: "bars".into(),
            log_y: true,
            bars: vec![
                ("a".into(), 10.0),
                ("zero".into(), 0.0),
                ("b".into(), 1000.0),
            ],
            ..Default::default()
        };
        let f = write_bar_chart(dir.path(), "bars", &bars).unwrap();
        assert!(f.notes.iter().any(|n| n.contains("`zero` dropped")));
        let svg = std::fs::read_to_string(&f.svg).unwrap();
        let has = |t: &str| svg.lines().any(|l| l.trim() == t);
        assert!(has("a") && has("b") && !has("zero"));
        let none = BarChart::default();
        assert!(write_bar_chart(dir.path(), "none", &none).is_ok());
    }

    #[test]
    fn numbers_format_compactly() {
        assert_eq!(format_number(0.05), "0.05");
        assert_eq!(format_number(12.5), "12.5");
        assert_eq!(format_number(1500.0), "1500");
        assert_eq!(format_number(2.5e6), "2.5e6");
        assert_eq!(format_number(0.0), "0");
    }

    #[test]
    fn styles_follow_names_not_positions() {
        let names: Vec<&str> = STRATEGY_STYLES.iter().map(|(n, _)| *n).collect();
        for (i, a) in names.iter().enumerate() {
            for b in &names[i + 1..] {
                let (sa, sb) = (series_style(a), series_style(b));
                assert_ne!(sa.color, sb.color, "{a} vs {b}");
                assert_ne!(sa.marker, sb.marker, "{a} vs {b}");
                assert_ne!(sa.slot, sb.slot, "{a} vs {b}");
                assert_ne!(sa.layer, sb.layer, "{a} vs {b}");
            }
            assert!(series_style(a).slot < MARKER_SLOTS);
        }
        // Lower layers are strictly wider, so a coinciding curve underneath shows at the edges.
        let mut by_layer: Vec<SeriesStyle> = STRATEGY_STYLES.iter().map(|(_, s)| *s).collect();
        by_layer.sort_by_key(|s| s.layer);
        assert!(by_layer.windows(2).all(|w| w[0].width > w[1].width));
        assert_eq!(series_style(" Split-DPoP "), series_style("split-dpop"));
        // Unknown names: a fixed, hash-derived style, the same on every call.
        let s = series_style("p99 sojourn");
        assert_eq!(s, series_style("p99 sojourn"));
        assert_eq!(s.layer, HASHED_LAYER);
        assert!(HASHED_COLOURS.contains(&s.color) && s.slot < MARKER_SLOTS);
        // Pinned, so that a change of hash (and of every hashed style) is deliberate.
        assert_eq!(stable_hash("p99 sojourn"), 0x5bf8_dff1_2682_b64c);
    }

    #[test]
    fn dashes_and_clipping() {
        let line = [(0.0, 0.0), (30.0, 0.0), (30.0, 30.0)];
        let on: f64 = dashes(&line, &[7, 5])
            .iter()
            .map(|d| {
                d.windows(2)
                    .map(|w| (w[1].0 - w[0].0).hypot(w[1].1 - w[0].1))
                    .sum::<f64>()
            })
            .sum();
        // 60 px of line: five full 12 px periods, 7 px on in each.
        assert!((on - 35.0).abs() < 1e-9, "{on}");
        assert_eq!(dashes(&line, SOLID), vec![line.to_vec()]);
        let clipped = clip_polyline(
            &[(-10.0, 5.0), (5.0, 5.0), (5.0, 20.0), (5.0, 30.0)],
            (0.0, 0.0, 10.0, 10.0),
        );
        assert_eq!(clipped, vec![vec![(0.0, 5.0), (5.0, 5.0), (5.0, 10.0)]]);
        assert!(clip_polyline(&[(20.0, 20.0)], (0.0, 0.0, 10.0, 10.0)).is_empty());
    }

    #[test]
    fn identical_curves_show_every_marker() {
        let points: Vec<(f64, f64)> = (0..200).map(|i| (f64::from(i), 0.5)).collect();
        let chart = LineChart {
            title: "same".into(),
            series: ["single-dpop", "bearer"]
                .iter()
                .map(|n| Series::new(n.to_string(), points.clone()))
                .collect(),
            ..Default::default()
        };
        let (a, b) = (series_style("bearer"), series_style("single-dpop"));
        let xa = marker_positions(&[(100.0, 50.0), (900.0, 50.0)], 100.0, a.slot);
        let xb = marker_positions(&[(100.0, 50.0), (900.0, 50.0)], 100.0, b.slot);
        assert!(xa.len() >= 6 && xb.len() >= 6);
        assert!(xa
            .iter()
            .all(|p| xb.iter().all(|q| (p.0 - q.0).abs() >= MARKER_STEP)));
        let dir = tempfile::tempdir().unwrap();
        let f = write_line_chart(dir.path(), "same", &chart).unwrap();
        let svg = std::fs::read_to_string(&f.svg).unwrap();
        // Both markers (full colour fills) appear, and the wide bearer band underneath.
        let hex = |c: RGBColor| format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2);
        for colour in [a.color, b.color, a.line_color()] {
            assert!(svg.contains(&hex(colour)), "{} missing", hex(colour));
        }
    }
}
