//! One self-contained HTML page per result directory (`index.html`): inline SVG charts drawn
//! from the same data as the Parquet/CSV tables, a table view of every chart, show/hide toggles
//! for strategies and attacker policies, no network access (a Content-Security-Policy forbids
//! every fetch), printable, readable without colour (each strategy keeps the dash pattern and
//! width of the PNG plots, `plot::css_style`).
//!
//! The page is deterministic: the same data gives the same bytes. Opening it with `#selftest`
//! runs a check in the browser (charts drawn, a toggle hides its curves, no resource loaded, no
//! script error) and writes the outcome to `body[data-selftest]`; `tests/report_html.rs` reads
//! it from headless Chromium.

use std::fmt::Write as _;

use crate::chart::{BarChart, LineChart, Series};
use crate::plot::css_style;
use crate::table::Cells;

/// Escapes text for HTML element content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Formats a number compactly and deterministically.
pub fn num(x: f64) -> String {
    if !x.is_finite() {
        return if x > 0.0 { "∞".into() } else { "–".into() };
    }
    let a = x.abs();
    if a != 0.0 && !(1e-3..1e6).contains(&a) {
        format!("{x:.3e}")
    } else if a >= 100.0 || x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.3}")
    }
}

/// A grid of mean values over two parameters, grey levels (readable without colour) and the
/// value printed in each cell.
pub struct HeatMap {
    pub id: String,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x_ticks: Vec<String>,
    pub y_ticks: Vec<String>,
    /// `cells[row][col]`, rows bottom-up; `None` for an empty cell.
    pub cells: Vec<Vec<Option<f64>>>,
}

/// A page under construction.
pub struct Page {
    title: String,
    nav: Vec<(String, String)>,
    body: String,
    strategies: Vec<String>,
    attackers: Vec<String>,
    /// Attacker policies shown when the page opens (the others start hidden).
    attackers_on: Vec<String>,
}

const W: f64 = 760.0;
const H: f64 = 380.0;
const ML: f64 = 64.0;
const MR: f64 = 16.0;
const MT: f64 = 16.0;
const MB: f64 = 46.0;

impl Page {
    pub fn new(title: &str) -> Page {
        Page {
            title: title.to_string(),
            nav: Vec::new(),
            body: String::new(),
            strategies: Vec::new(),
            attackers: Vec::new(),
            attackers_on: Vec::new(),
        }
    }

    /// Declares the strategies and attacker policies the toggles control (in display order).
    pub fn toggles(
        &mut self,
        strategies: &[String],
        attackers: &[String],
        attackers_on: &[String],
    ) {
        self.strategies = strategies.to_vec();
        self.attackers = attackers.to_vec();
        self.attackers_on = attackers_on.to_vec();
    }

    pub fn section(&mut self, id: &str, title: &str) {
        self.nav.push((id.to_string(), title.to_string()));
        let _ = writeln!(self.body, "<h2 id=\"{}\">{}</h2>", esc(id), esc(title));
    }

    /// A paragraph of plain text.
    pub fn text(&mut self, text: &str) {
        let _ = writeln!(self.body, "<p>{}</p>", esc(text));
    }

    /// Raw, already escaped HTML (links built with [`esc`]).
    pub fn raw(&mut self, html: &str) {
        self.body.push_str(html);
        self.body.push('\n');
    }

    /// A table; `strategy_column` marks the column whose value ties a row to a strategy toggle,
    /// `attacker_column` to an attacker toggle.
    pub fn table(
        &mut self,
        headers: &[&str],
        rows: &[Vec<String>],
        strategy_column: Option<usize>,
        attacker_column: Option<usize>,
    ) {
        let mut t = String::from("<div class=\"scroll\"><table><thead><tr>");
        for h in headers {
            let _ = write!(t, "<th>{}</th>", esc(h));
        }
        t.push_str("</tr></thead><tbody>\n");
        for r in rows {
            t.push_str("<tr");
            if let Some(c) = strategy_column {
                let _ = write!(t, " data-strategy=\"{}\"", esc(&r[c]));
            }
            if let Some(c) = attacker_column {
                let _ = write!(t, " data-attacker=\"{}\"", esc(&r[c]));
            }
            t.push('>');
            for cell in r {
                let _ = write!(t, "<td>{}</td>", esc(cell));
            }
            t.push_str("</tr>\n");
        }
        t.push_str("</tbody></table></div>\n");
        self.body.push_str(&t);
    }

    /// A table from the cells of a [`crate::table::TableBuilder`] (the same data as its files).
    pub fn data_table(&mut self, cells: &Cells) {
        let headers: Vec<&str> = cells.headers.iter().map(String::as_str).collect();
        self.table(&headers, &cells.rows, None, None);
    }

    /// An SVG file written beside the page (a plotters chart), inlined so the page stands alone.
    pub fn inline_svg(&mut self, title: &str, svg: &str) {
        // Drop any XML prolog; the rest is an <svg> element.
        let body = svg.find("<svg").map_or(svg, |i| &svg[i..]);
        let _ = writeln!(
            self.body,
            "<figure class=\"plot\"><figcaption>{}</figcaption><div class=\"plot\">{}</div></figure>",
            esc(title),
            body
        );
    }

    /// A line chart drawn as inline SVG, with its table view (if it has one) below.
    pub fn line_chart(&mut self, c: &LineChart) {
        let svg = line_svg(c);
        let key = legend(&c.series);
        let (headers, rows) = line_table(c);
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        self.figure(
            &c.id,
            &c.title,
            &svg,
            &key,
            &headers,
            &rows,
            (Some(0), Some(1)),
        );
    }

    pub fn bar_chart(&mut self, c: &BarChart) {
        let vals: Vec<f64> = c
            .bars
            .iter()
            .map(|b| b.1)
            .chain(c.lines.iter().map(|l| l.1))
            .filter(|v| v.is_finite() && (!c.log_y || *v > 0.0))
            .collect();
        let (mut lo, mut hi) = (
            vals.iter().copied().fold(f64::INFINITY, f64::min),
            vals.iter().copied().fold(0.0, f64::max),
        );
        if c.log_y {
            lo = 10f64.powf(lo.max(1e-9).log10().floor());
            hi = 10f64.powf(hi.max(lo * 10.0).log10().ceil());
        } else {
            lo = 0.0;
            hi = if hi > 0.0 { hi * 1.1 } else { 1.0 };
        }
        let fy = |v: f64| {
            let u = if c.log_y {
                (v.max(lo).ln() - lo.ln()) / (hi.ln() - lo.ln())
            } else {
                v / hi
            };
            MT + (1.0 - u.clamp(0.0, 1.0)) * (H - MT - MB)
        };
        let mut svg = String::new();
        let _ = write!(
            svg,
            "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-labelledby=\"{id}-t\"><title id=\"{id}-t\">{t}</title>",
            id = esc(&c.id),
            t = esc(&c.title)
        );
        axes(&mut svg, &c.x_label, &c.y_label);
        let n = c.bars.len().max(1) as f64;
        let slot = (W - ML - MR) / n;
        for (i, (name, v)) in c.bars.iter().enumerate() {
            let st = css_style(name);
            let x = ML + slot * i as f64 + slot * 0.15;
            let top = fy(*v);
            let _ = write!(
                svg,
                "<g data-strategy=\"{n}\"><rect class=\"bar\" x=\"{x:.1}\" y=\"{top:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"{c}\" stroke=\"#000\"><title>{n}: {val}</title></rect><text class=\"tick\" x=\"{cx:.1}\" y=\"{ty}\" text-anchor=\"middle\">{n}</text></g>",
                n = esc(name),
                w = slot * 0.7,
                h = (H - MB - top).max(0.0),
                c = st.color,
                val = esc(&num(*v)),
                cx = x + slot * 0.35,
                ty = H - MB + 16.0
            );
        }
        for (label, v) in &c.lines {
            let y = fy(*v);
            let _ = write!(
                svg,
                "<line class=\"ref\" x1=\"{ML}\" x2=\"{r}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/><text class=\"tick\" x=\"{r}\" y=\"{ty:.1}\" text-anchor=\"end\">{l}</text>",
                r = W - MR,
                ty = y - 4.0,
                l = esc(&format!("{label}: {}", num(*v)))
            );
        }
        for e in 0..=4 {
            let v = if c.log_y {
                (lo.ln() + (hi.ln() - lo.ln()) * f64::from(e) / 4.0).exp()
            } else {
                hi * f64::from(e) / 4.0
            };
            let _ = write!(
                svg,
                "<text class=\"tick\" x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\">{l}</text>",
                tx = ML - 6.0,
                ty = fy(v) + 4.0,
                l = esc(&num(v))
            );
        }
        svg.push_str("</svg>");
        let mut rows: Vec<Vec<String>> = c
            .bars
            .iter()
            .map(|(n, v)| vec![n.clone(), num(*v)])
            .collect();
        rows.extend(c.lines.iter().map(|(l, v)| vec![l.clone(), num(*v)]));
        self.figure(
            &c.id,
            &c.title,
            &svg,
            "",
            &["series", &c.y_label],
            &rows,
            (None, None),
        );
    }

    /// A tornado chart: one horizontal bar per parameter, the total index as a light bar with its
    /// interval as a whisker, the first-order index as a dark inner bar; sorted by total index.
    /// Rows: (parameter, first-order, total, total low, total high).
    pub fn tornado(&mut self, id: &str, title: &str, rows: &[(String, f64, f64, f64, f64)]) {
        let mut rows: Vec<&(String, f64, f64, f64, f64)> = rows.iter().collect();
        rows.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
        let row_h = 22.0;
        let (left, width) = (230.0, 420.0);
        let h = MT + row_h * rows.len() as f64 + 30.0;
        let fx = |v: f64| left + v.clamp(0.0, 1.2) / 1.2 * width;
        let mut svg = String::new();
        let _ = write!(
            svg,
            "<svg class=\"chart tornado\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"{id}-t\"><title id=\"{id}-t\">{t}</title>",
            w = left + width + 20.0,
            id = esc(id),
            t = esc(title)
        );
        for (i, (name, first, total, lo, hi)) in rows.iter().enumerate() {
            let y = MT + row_h * i as f64;
            let _ = write!(
                svg,
                "<text class=\"tick\" x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\">{n}</text>\
                 <rect class=\"bar\" x=\"{left}\" y=\"{y:.1}\" width=\"{tw:.1}\" height=\"{bh}\" fill=\"#c8c8c8\" stroke=\"#000\"><title>{n}: total {tv}, first order {fv}</title></rect>\
                 <rect x=\"{left}\" y=\"{iy:.1}\" width=\"{fw:.1}\" height=\"{ih}\" fill=\"#222\"/>\
                 <line class=\"ref\" x1=\"{lx:.1}\" x2=\"{hx:.1}\" y1=\"{my:.1}\" y2=\"{my:.1}\"/>",
                tx = left - 6.0,
                ty = y + row_h * 0.6,
                n = esc(name),
                tw = fx(*total) - left,
                bh = row_h - 6.0,
                tv = esc(&num(*total)),
                fv = esc(&num(*first)),
                iy = y + (row_h - 6.0) * 0.3,
                fw = fx(*first) - left,
                ih = (row_h - 6.0) * 0.4,
                lx = fx(*lo),
                hx = fx(*hi),
                my = y + (row_h - 6.0) / 2.0
            );
        }
        let base = MT + row_h * rows.len() as f64;
        for v in [0.0, 0.5, 1.0] {
            let _ = write!(
                svg,
                "<text class=\"tick\" x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"middle\">{v}</text>",
                x = fx(v),
                y = base + 14.0
            );
        }
        svg.push_str("</svg>");
        let table: Vec<Vec<String>> = rows
            .iter()
            .map(|r| vec![r.0.clone(), num(r.1), num(r.2), num(r.3), num(r.4)])
            .collect();
        let headers = [
            "parameter",
            "first order",
            "total",
            "total low",
            "total high",
        ];
        self.figure(id, title, &svg, "", &headers, &table, (None, None));
    }

    /// A heat map with its table view.
    pub fn heat_map(&mut self, m: &HeatMap) {
        let svg = heat_map_svg(m);
        let mut headers = vec![format!("{} \\ {}", m.y_label, m.x_label)];
        headers.extend(m.x_ticks.iter().cloned());
        let rows: Vec<Vec<String>> = m
            .cells
            .iter()
            .zip(&m.y_ticks)
            .rev()
            .map(|(row, t)| {
                std::iter::once(t.clone())
                    .chain(row.iter().map(|v| v.map_or("–".into(), num)))
                    .collect()
            })
            .collect();
        let h: Vec<&str> = headers.iter().map(String::as_str).collect();
        self.figure(&m.id, &m.title, &svg, "", &h, &rows, (None, None));
    }

    /// A chart as a figure: caption, the SVG, `after_svg` (a legend), and the chart's data as a
    /// collapsed table view; `toggles` are the table's strategy and attacker columns.
    #[allow(clippy::too_many_arguments)]
    fn figure(
        &mut self,
        id: &str,
        title: &str,
        svg: &str,
        after_svg: &str,
        headers: &[&str],
        rows: &[Vec<String>],
        toggles: (Option<usize>, Option<usize>),
    ) {
        let _ = write!(
            self.body,
            "<figure id=\"{}\"><figcaption>{}</figcaption>{svg}{after_svg}<details><summary>Table view</summary>",
            esc(id),
            esc(title)
        );
        self.table(headers, rows, toggles.0, toggles.1);
        self.body.push_str("</details></figure>\n");
    }

    /// The finished page.
    pub fn finish(self) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{}</title><style>{CSS}</style></head><body>\n<header><h1>{}</h1><nav>",
            esc(&self.title),
            esc(&self.title)
        );
        for (id, title) in &self.nav {
            let _ = write!(out, "<a href=\"#{}\">{}</a> ", esc(id), esc(title));
        }
        out.push_str("</nav>");
        if !self.strategies.is_empty() {
            out.push_str("<form class=\"toggles\" aria-label=\"Show or hide\"><fieldset><legend>Strategies</legend>");
            for s in &self.strategies {
                let st = css_style(s);
                let _ = write!(
                    out,
                    "<label><input type=\"checkbox\" data-toggle=\"strategy\" value=\"{v}\" checked><svg class=\"key\" viewBox=\"0 0 28 10\"><line x1=\"1\" x2=\"27\" y1=\"5\" y2=\"5\" stroke=\"{c}\" stroke-width=\"{w}\"{d}/></svg>{v}</label> ",
                    v = esc(s),
                    c = st.color,
                    w = st.width.min(6),
                    d = if st.dash.is_empty() {
                        String::new()
                    } else {
                        format!(" stroke-dasharray=\"{}\"", st.dash)
                    }
                );
            }
            out.push_str("</fieldset>");
            if !self.attackers.is_empty() {
                out.push_str("<fieldset><legend>Attacker policies</legend>");
                for a in &self.attackers {
                    let _ = write!(
                        out,
                        "<label><input type=\"checkbox\" data-toggle=\"attacker\" value=\"{v}\"{c}>{v}</label> ",
                        v = esc(a),
                        c = if self.attackers_on.contains(a) { " checked" } else { "" }
                    );
                }
                out.push_str("</fieldset>");
            }
            out.push_str("</form>");
        }
        out.push_str("</header>\n<main>\n");
        out.push_str(&self.body);
        let _ = write!(out, "</main>\n<script>{JS}</script>\n</body></html>\n");
        out
    }
}

/// A heat map's inline SVG.
fn heat_map_svg(m: &HeatMap) -> String {
    let HeatMap {
        id,
        title,
        x_label,
        y_label,
        x_ticks,
        y_ticks,
        cells,
    } = m;
    let (nx, ny) = (x_ticks.len().max(1), y_ticks.len().max(1));
    // A wider left margin than the line charts: the y labels are ranges.
    const HL: f64 = 150.0;
    let (cw, ch) = ((W - HL - MR) / nx as f64, (H - MT - MB) / ny as f64);
    let vals: Vec<f64> = cells
        .iter()
        .flatten()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let (lo, hi) = (
        vals.iter().copied().fold(f64::INFINITY, f64::min),
        vals.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    );
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-labelledby=\"{id}-t\"><title id=\"{id}-t\">{t}</title>",
        id = esc(id),
        t = esc(title)
    );
    let _ = write!(
        svg,
        "<text class=\"label\" x=\"{cx}\" y=\"{by}\" text-anchor=\"middle\">{xl}</text><text class=\"label\" transform=\"translate(14 {cy}) rotate(-90)\" text-anchor=\"middle\">{yl}</text>",
        cx = HL + (W - HL - MR) / 2.0,
        by = H - 8.0,
        cy = MT + (H - MT - MB) / 2.0,
        xl = esc(x_label),
        yl = esc(y_label)
    );
    for (r, row) in cells.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            let (x, y) = (HL + cw * c as f64, H - MB - ch * (r + 1) as f64);
            let (fill, text) = match v {
                Some(v) if v.is_finite() => {
                    let u = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
                    let g = (245.0 - 185.0 * u).round() as u8;
                    (format!("#{g:02x}{g:02x}{g:02x}"), num(*v))
                }
                _ => ("#ffffff".to_string(), "–".to_string()),
            };
            let ink = if fill.as_str() < "#909090" {
                "#fff"
            } else {
                "#000"
            };
            let _ = write!(
                svg,
                "<rect class=\"bar\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{cw:.1}\" height=\"{ch:.1}\" fill=\"{fill}\" stroke=\"#fff\"/><text class=\"tick\" x=\"{tx:.1}\" y=\"{ty:.1}\" text-anchor=\"middle\" style=\"fill:{ink}\">{text}</text>",
                tx = x + cw / 2.0,
                ty = y + ch / 2.0 + 4.0,
                text = esc(&text)
            );
        }
    }
    for (c, t) in x_ticks.iter().enumerate() {
        let _ = write!(
            svg,
            "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            HL + cw * (c as f64 + 0.5),
            H - MB + 16.0,
            esc(t)
        );
    }
    for (r, t) in y_ticks.iter().enumerate() {
        let _ = write!(
            svg,
            "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            HL - 6.0,
            H - MB - ch * (r as f64 + 0.5) + 4.0,
            esc(t)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// One axis of a line chart: its range, scale and pixel span.
struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
    /// Pixels of `lo` and `hi`.
    from: f64,
    to: f64,
}

impl Axis {
    /// `range`, or one fitted to `values` (what is drawable on the scale).
    fn new(range: Option<(f64, f64)>, values: &[f64], log: bool, from: f64, to: f64) -> Axis {
        let (lo, hi) = range.unwrap_or_else(|| {
            let usable = values
                .iter()
                .copied()
                .filter(|v| v.is_finite() && (!log || *v > 0.0));
            let lo = usable.clone().fold(f64::INFINITY, f64::min);
            let hi = usable.fold(f64::NEG_INFINITY, f64::max);
            match (lo.is_finite() && hi.is_finite(), log) {
                (false, false) => (0.0, 1.0),
                (false, true) => (1.0, 10.0),
                (true, _) if lo < hi => (lo, hi),
                (true, false) => (lo - 0.5, hi + 0.5),
                (true, true) => (lo / 2.0, hi * 2.0),
            }
        });
        Axis {
            lo,
            hi,
            log,
            from,
            to,
        }
    }

    /// The pixel of `v`, clamped to the axis.
    fn px(&self, v: f64) -> f64 {
        let u = if self.log {
            (v.max(self.lo).ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        };
        self.from + u.clamp(0.0, 1.0) * (self.to - self.from)
    }

    /// Five evenly spaced values (in the axis' scale) for ticks.
    fn even_ticks(&self) -> Vec<f64> {
        (0..=4)
            .map(|i| {
                let u = f64::from(i) / 4.0;
                if self.log {
                    (self.lo.ln() + u * (self.hi.ln() - self.lo.ln())).exp()
                } else {
                    self.lo + u * (self.hi - self.lo)
                }
            })
            .collect()
    }
}

/// A line chart's inline SVG.
fn line_svg(c: &LineChart) -> String {
    let values = |f: fn(&(f64, f64)) -> f64| -> Vec<f64> {
        c.series
            .iter()
            .flat_map(|s| s.points.iter().map(f))
            .collect()
    };
    let x = Axis::new(c.x_range, &values(|p| p.0), c.log_x, ML, W - MR);
    let y = Axis::new(c.y_range, &values(|p| p.1), c.log_y, H - MB, MT);
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-labelledby=\"{id}-t\"><title id=\"{id}-t\">{title}</title>",
        id = esc(&c.id),
        title = esc(&c.title)
    );
    axes(&mut svg, c.x_label.as_str(), c.y_label.as_str());
    // x ticks: decades of hours on a log axis, else 5 even ticks.
    let ticks: Vec<f64> = if c.log_x {
        [1.0 / 60.0, 1.0, 24.0, 168.0, 720.0, 2160.0, 4320.0]
            .into_iter()
            .filter(|t| *t >= x.lo && *t <= x.hi)
            .collect()
    } else {
        x.even_ticks()
    };
    for t in ticks {
        let label = if c.log_x { hour_label(t) } else { num(t) };
        let _ = write!(
            svg,
            "<line class=\"grid\" x1=\"{px:.1}\" x2=\"{px:.1}\" y1=\"{MT}\" y2=\"{b}\"/><text class=\"tick\" x=\"{px:.1}\" y=\"{ty}\" text-anchor=\"middle\">{l}</text>",
            px = x.px(t),
            b = H - MB,
            ty = H - MB + 16.0,
            l = esc(&label)
        );
    }
    for t in y.even_ticks() {
        let _ = write!(
            svg,
            "<line class=\"grid\" x1=\"{ML}\" x2=\"{r}\" y1=\"{py:.1}\" y2=\"{py:.1}\"/><text class=\"tick\" x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\">{l}</text>",
            r = W - MR,
            py = y.px(t),
            tx = ML - 6.0,
            ty = y.px(t) + 4.0,
            l = esc(&num(t))
        );
    }
    // Wide, light lines first (the plots' layer order), so narrow ones stay visible on top.
    let mut order: Vec<&Series> = c.series.iter().collect();
    order.sort_by_key(|s| css_style(&s.name).layer);
    for s in order {
        series_path(&mut svg, s, &x, &y);
    }
    svg.push_str("</svg>");
    svg
}

/// One series as an SVG path, tied to its strategy and attacker toggles.
fn series_path(svg: &mut String, s: &Series, x: &Axis, y: &Axis) {
    let st = css_style(&s.name);
    let mut d = String::new();
    for (i, (px, py)) in simplify(&s.points).iter().enumerate() {
        let _ = write!(
            d,
            "{}{:.1},{:.1}",
            if i == 0 { "M" } else { " L" },
            x.px(*px),
            y.px(*py)
        );
    }
    let _ = write!(
        svg,
        "<path class=\"series\" data-strategy=\"{}\"{} d=\"{d}\" stroke=\"{}\" stroke-width=\"{}\"{}><title>{}</title></path>",
        esc(&s.name),
        s.attacker
            .as_ref()
            .map_or(String::new(), |a| format!(" data-attacker=\"{}\"", esc(a))),
        st.color,
        st.width,
        if st.dash.is_empty() {
            String::new()
        } else {
            format!(" stroke-dasharray=\"{}\"", st.dash)
        },
        esc(&s.label())
    );
}

/// A line chart's table view: every series at the chosen x values.
fn line_table(c: &LineChart) -> (Vec<String>, Vec<Vec<String>>) {
    let mut headers = vec!["strategy".to_string(), "attacker".to_string()];
    let Some(view) = &c.table else {
        return (headers, Vec::new());
    };
    headers.extend(
        view.at
            .iter()
            .map(|(l, _)| format!("{} at {l}", view.value)),
    );
    let rows = c
        .series
        .iter()
        .map(|s| {
            let mut r = vec![s.name.clone(), s.attacker.clone().unwrap_or_default()];
            r.extend(view.at.iter().map(|(_, x)| num(value_at(&s.points, *x))));
            r
        })
        .collect();
    (headers, rows)
}

fn axes(svg: &mut String, x_label: &str, y_label: &str) {
    let _ = write!(
        svg,
        "<rect class=\"frame\" x=\"{ML}\" y=\"{MT}\" width=\"{w}\" height=\"{h}\"/><text class=\"label\" x=\"{cx}\" y=\"{by}\" text-anchor=\"middle\">{xl}</text><text class=\"label\" transform=\"translate(14 {cy}) rotate(-90)\" text-anchor=\"middle\">{yl}</text>",
        w = W - ML - MR,
        h = H - MT - MB,
        cx = ML + (W - ML - MR) / 2.0,
        by = H - 8.0,
        cy = MT + (H - MT - MB) / 2.0,
        xl = esc(x_label),
        yl = esc(y_label)
    );
}

fn legend(series: &[Series]) -> String {
    // One key per strategy (attacker policies share the strategy's style).
    let mut seen: Vec<&str> = Vec::new();
    let mut out = String::from("<p class=\"legend\">");
    for s in series {
        if seen.contains(&s.name.as_str()) {
            continue;
        }
        seen.push(&s.name);
        let st = css_style(&s.name);
        let _ = write!(
            out,
            "<span data-strategy=\"{v}\"><svg class=\"key\" viewBox=\"0 0 28 10\"><line x1=\"1\" x2=\"27\" y1=\"5\" y2=\"5\" stroke=\"{c}\" stroke-width=\"{w}\"{d}/></svg>{v}</span> ",
            v = esc(&s.name),
            c = st.color,
            w = st.width.min(6),
            d = if st.dash.is_empty() {
                String::new()
            } else {
                format!(" stroke-dasharray=\"{}\"", st.dash)
            }
        );
    }
    out.push_str("</p>");
    out
}

/// Drops interior points of flat runs (the curves are mostly steps): same drawing, less data.
fn simplify(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(points.len());
    for (i, p) in points.iter().enumerate() {
        let flat_before = i > 0 && points[i - 1].1 == p.1;
        let flat_after = i + 1 < points.len() && points[i + 1].1 == p.1;
        if !(flat_before && flat_after) {
            out.push(*p);
        }
    }
    out
}

/// The series' value at `x`: the last point at or before it.
fn value_at(points: &[(f64, f64)], x: f64) -> f64 {
    points
        .iter()
        .take_while(|(px, _)| *px <= x * (1.0 + 1e-9))
        .last()
        .map_or(f64::NAN, |p| p.1)
}

fn hour_label(h: f64) -> String {
    if h < 1.0 {
        format!("{:.0} min", h * 60.0)
    } else if h < 24.0 {
        format!("{h:.0} h")
    } else {
        format!("{:.0} d", h / 24.0)
    }
}

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0 auto;max-width:1100px;padding:0 1rem;color:#111;line-height:1.4}\
header{position:sticky;top:0;background:#fff;border-bottom:1px solid #ccc;padding:.3rem 0;z-index:1}\
h1{font-size:1.4rem;margin:.4rem 0}h2{margin-top:2rem;border-bottom:1px solid #ddd}\
nav a{margin-right:.8rem}fieldset{display:inline-block;border:1px solid #ccc;margin:.2rem .4rem .2rem 0;padding:.1rem .5rem}\
label{margin-right:.6rem;white-space:nowrap;cursor:pointer}\
.scroll{overflow-x:auto}table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}\
th,td{border:1px solid #ccc;padding:.2rem .4rem;text-align:left;vertical-align:top}th{background:#f3f3f3}\
figure{margin:1rem 0}figcaption{font-weight:600}svg.chart{width:100%;height:auto;max-width:760px;display:block}\
svg.key{width:28px;height:10px;vertical-align:middle;margin-right:.2rem}div.plot svg{width:100%;height:auto;max-width:900px}\
.frame{fill:none;stroke:#444}.grid{stroke:#e3e3e3}.ref{stroke:#000;stroke-dasharray:6,3}\
.series{fill:none;stroke-linejoin:round}.tick{font-size:11px;fill:#333}.label{font-size:12px;fill:#111}\
.legend span{margin-right:.8rem;white-space:nowrap}.verdict-yes{font-weight:600}.verdict-no{font-weight:600;text-decoration:underline}\
@media print{header{position:static}details{display:block}details>summary{display:none}form.toggles{display:none}a{color:#000}}";

const JS: &str = "(function(){'use strict';\
var errors=[];window.addEventListener('error',function(e){errors.push(String(e.message));});\
function off(kind){var s={};document.querySelectorAll('input[data-toggle='+kind+']').forEach(function(c){if(!c.checked){s[c.value]=1;}});return s;}\
function apply(){var s=off('strategy'),a=off('attacker');document.querySelectorAll('[data-strategy],[data-attacker]').forEach(function(el){\
var hide=(el.dataset.strategy&&s[el.dataset.strategy])||(el.dataset.attacker&&a[el.dataset.attacker]);el.style.display=hide?'none':'';});}\
document.querySelectorAll('input[data-toggle]').forEach(function(c){c.addEventListener('change',apply);});apply();\
function selftest(){var problems=[];var charts=document.querySelectorAll('svg.chart');\
charts.forEach(function(svg,i){if(!svg.querySelector('path.series,rect.bar')){problems.push('chart '+i+' is empty');}});\
var box=document.querySelector('input[data-toggle=strategy]');if(box){var name=box.value;box.checked=false;apply();\
var shown=Array.prototype.filter.call(document.querySelectorAll('path.series'),function(p){return p.dataset.strategy===name&&getComputedStyle(p).display!=='none';});\
if(shown.length){problems.push('toggling '+name+' left '+shown.length+' curves visible');}box.checked=true;apply();}\
var loaded=performance.getEntriesByType('resource').length;if(loaded){problems.push(loaded+' resources loaded');}\
problems=problems.concat(errors);document.body.dataset.selftest=problems.length?'fail: '+problems.join('; '):'pass: '+charts.length+' charts';}\
if(location.hash==='#selftest'){window.addEventListener('load',selftest);}})();";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_simplifies() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let p = simplify(&[(0.0, 1.0), (1.0, 1.0), (2.0, 1.0), (3.0, 0.5), (4.0, 0.5)]);
        assert_eq!(p, vec![(0.0, 1.0), (2.0, 1.0), (3.0, 0.5), (4.0, 0.5)]);
        assert_eq!(value_at(&p, 2.5), 1.0);
    }
}
