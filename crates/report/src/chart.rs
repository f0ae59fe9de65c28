//! The chart model: what a chart shows, independent of how it is drawn. The same values are
//! drawn by plotters into SVG and PNG files ([`crate::plot`]) and as inline SVG on the HTML
//! pages ([`crate::html::Page`]).
//!
//! A series is keyed by its name (a strategy, which picks its style and its toggle on a page)
//! and optionally an attacker policy: a chart may hold one series per strategy × policy.

/// One line: a strategy (or another named quantity), optionally for one attacker policy.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The strategy or quantity; it picks the style (see [`crate::plot`]).
    pub name: String,
    pub attacker: Option<String>,
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// A series of no particular attacker policy.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.into(),
            attacker: None,
            points,
        }
    }

    /// The name shown in a legend: the strategy, and the policy if there is one.
    pub fn label(&self) -> String {
        match &self.attacker {
            Some(a) => format!("{} ({a})", self.name),
            None => self.name.clone(),
        }
    }
}

/// The table view of a line chart: every series' value at chosen x values.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TableView {
    /// What the values are; the columns read "`value` at `label`".
    pub value: String,
    /// (label, x)
    pub at: Vec<(String, f64)>,
}

/// A line chart with optional log axes and fixed ranges.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LineChart {
    /// Unique on a page (the HTML element id).
    pub id: String,
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
    /// Shown under the chart on a page; `None` for none.
    pub table: Option<TableView>,
}

impl LineChart {
    /// The series of one attacker policy, named by their strategy alone (a chart file shows
    /// the headline policy only).
    pub fn of_attacker(&self, attacker: &str) -> LineChart {
        LineChart {
            series: self
                .series
                .iter()
                .filter(|s| s.attacker.as_deref() == Some(attacker))
                .map(|s| Series::new(s.name.clone(), s.points.clone()))
                .collect(),
            ..self.clone()
        }
    }
}

/// A bar per category; a category named like a series gets that series' style.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BarChart {
    /// Unique on a page (the HTML element id).
    pub id: String,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub log_y: bool,
    /// (category, value)
    pub bars: Vec<(String, f64)>,
    /// Horizontal reference lines (label, value), e.g. device capacities; drawn on the page
    /// (the files show the bars alone).
    pub lines: Vec<(String, f64)>,
}
