//! Line and bar charts written as SVG and PNG through plotters.
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
//! The same chart gives the same bytes: no timestamps, fixed size and palette, and SVG text is
//! rendered from a `String` written in one go.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::ReportError;

/// Width and height of every chart, in pixels.
const SIZE: (u32, u32) = (960, 600);
const FONT_FAMILY: &str = "sans-serif";

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

/// One named line.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// A line chart with optional log axes and fixed ranges.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub log_x: bool,
    pub log_y: bool,
    pub series: Vec<Series>,
    /// Fixed x range; `None` fits the data.
    pub x_range: Option<(f64, f64)>,
    /// Fixed y range; `None` fits the data.
    pub y_range: Option<(f64, f64)>,
}

/// A bar per category.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BarChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub log_y: bool,
    pub bars: Vec<(String, f64)>,
}

/// What was written.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotFiles {
    pub svg: PathBuf,
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
        notes,
        &|root| draw_bars(root, &prepared),
        &|root| draw_bars(root, &prepared),
    )
}

/// Renders an SVG to a string (no font needed).
fn render_svg(
    draw: &dyn Fn(&DrawingArea<SVGBackend, Shift>) -> Result<(), String>,
) -> Result<String, String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        draw(&root)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(out)
}

fn write_both(
    dir: &Path,
    stem: &str,
    mut notes: Vec<String>,
    draw_svg: &dyn Fn(&DrawingArea<SVGBackend, Shift>) -> Result<(), String>,
    draw_png: &dyn Fn(&DrawingArea<BitMapBackend, Shift>) -> Result<(), String>,
) -> Result<PlotFiles, ReportError> {
    // Register the font (if any) before drawing so SVG and PNG agree on layout.
    let font = font_path();
    let svg = render_svg(draw_svg).map_err(|e| plot_err(stem, e))?;
    let svg_path = dir.join(format!("{stem}.svg"));
    std::fs::write(&svg_path, svg).map_err(|e| ReportError::io(&svg_path, e))?;
    let png = if font.is_some() {
        let png_path = dir.join(format!("{stem}.png"));
        {
            let root = BitMapBackend::new(&png_path, SIZE).into_drawing_area();
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
        png,
        notes,
    })
}

/// Data with bad points removed and ranges settled.
struct PreparedLines {
    title: String,
    x_label: String,
    y_label: String,
    log_x: bool,
    log_y: bool,
    series: Vec<Series>,
    x: (f64, f64),
    y: (f64, f64),
    notes: Vec<String>,
}

fn usable(v: f64, log: bool) -> bool {
    v.is_finite() && (!log || v > 0.0)
}

/// A valid axis range: fixed if given and usable, else fitted to `values` with padding.
fn axis_range(
    fixed: Option<(f64, f64)>,
    values: &[f64],
    log: bool,
    what: &str,
    notes: &mut Vec<String>,
) -> (f64, f64) {
    if let Some((lo, hi)) = fixed {
        if usable(lo, log) && usable(hi, log) && lo < hi {
            return (lo, hi);
        }
        notes.push(format!(
            "{what} range ({lo}, {hi}) ignored: not an increasing finite range{}",
            if log { " > 0" } else { "" }
        ));
    }
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    match (log, lo.is_finite() && hi.is_finite()) {
        (false, false) => (0.0, 1.0),
        (true, false) => (1.0, 10.0),
        (false, true) if lo == hi => (lo - lo.abs().max(1.0) * 0.5, hi + hi.abs().max(1.0) * 0.5),
        (false, true) => {
            let pad = (hi - lo) * 0.05;
            (lo - pad, hi + pad)
        }
        (true, true) => (lo / 1.25, hi * 1.25),
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
                    s.name
                ));
            }
            series.push(Series {
                name: s.name.clone(),
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

/// Title and legend drawn at fixed positions (no text measuring, so SVG works without a font).
fn draw_frame<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    legend: &[String],
) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let centred = text_style(22.0).pos(plotters::style::text_anchor::Pos::new(
        plotters::style::text_anchor::HPos::Center,
        plotters::style::text_anchor::VPos::Top,
    ));
    root.draw_text(title, &centred, (SIZE.0 as i32 / 2, 10))
        .map_err(|e| e.to_string())?;
    for (i, name) in legend.iter().enumerate() {
        let col = (i % 4) as i32;
        let row = (i / 4) as i32;
        let (x, y) = (80 + col * 215, 44 + row * 18);
        let color = PALETTE[i % PALETTE.len()];
        root.draw(&PathElement::new(
            vec![(x, y + 7), (x + 24, y + 7)],
            color.stroke_width(3),
        ))
        .map_err(|e| e.to_string())?;
        let short: String = name.chars().take(26).collect();
        root.draw_text(&short, &text_style(14.0), (x + 30, y))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn top_margin(legend_entries: usize) -> u32 {
    48 + 18 * (legend_entries.div_ceil(4) as u32)
}

fn draw_lines<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    p: &PreparedLines,
) -> Result<(), String> {
    let legend: Vec<String> = p.series.iter().map(|s| s.name.clone()).collect();
    draw_frame(root, &p.title, &legend)?;
    let (x, y) = (p.x.0..p.x.1, p.y.0..p.y.1);
    match (p.log_x, p.log_y) {
        (false, false) => lines_in(root, p, x, y, legend.len()),
        (true, false) => lines_in(root, p, x.log_scale(), y, legend.len()),
        (false, true) => lines_in(root, p, x, y.log_scale(), legend.len()),
        (true, true) => lines_in(root, p, x.log_scale(), y.log_scale(), legend.len()),
    }
}

fn lines_in<DB, X, Y>(
    root: &DrawingArea<DB, Shift>,
    p: &PreparedLines,
    x: X,
    y: Y,
    legend: usize,
) -> Result<(), String>
where
    DB: DrawingBackend,
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(root)
        .margin_top(top_margin(legend))
        .margin_right(30)
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
    for (i, s) in p.series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(
                s.points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(
                s.points
                    .iter()
                    .map(|&pt| Circle::new(pt, 3, color.filled())),
            )
            .map_err(|e| e.to_string())?;
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
    draw_frame(root, &p.title, &[])?;
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
        .margin_top(top_margin(0))
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
    for (i, (name, v)) in p.bars.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let x0 = i as f64 + 0.15;
        let x1 = i as f64 + 0.85;
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(x0, base), (x1, *v)],
                color.filled(),
            )))
            .map_err(|e| e.to_string())?;
        // Category name under the bar and value above it, positioned in backend pixels.
        let (cx, by) = chart.backend_coord(&(i as f64 + 0.5, base));
        let (_, vy) = chart.backend_coord(&(i as f64 + 0.5, *v));
        let below = text_style(13.0).pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Center,
            plotters::style::text_anchor::VPos::Top,
        ));
        let above = text_style(13.0).pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Center,
            plotters::style::text_anchor::VPos::Bottom,
        ));
        let short: String = name.chars().take(22).collect();
        root.draw_text(&short, &below, (cx, by + 8))
            .map_err(|e| e.to_string())?;
        root.draw_text(&format_number(*v), &above, (cx, vy - 4))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(log_y: bool) -> LineChart {
        LineChart {
            title: "t".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            log_y,
            series: vec![
                Series {
                    name: "a".into(),
                    points: vec![(1.0, 1.0), (2.0, 10.0), (3.0, f64::NAN), (4.0, 0.0)],
                },
                Series {
                    name: "empty".into(),
                    points: vec![],
                },
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
            series: vec![Series {
                name: "one".into(),
                points: vec![(5.0, 5.0)],
            }],
            x_range: Some((3.0, 1.0)),
            ..Default::default()
        };
        let f = write_line_chart(dir.path(), "single", &single).unwrap();
        assert!(f.notes.iter().any(|n| n.contains("ignored")));
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
}
