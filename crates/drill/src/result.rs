//! The drill's results: per customer, per cell, the rows of `drill.csv` and the overall
//! agreement.

use std::fmt;

use serde::Serialize;

/// One customer of one cell.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CustomerResult {
    pub customer: u64,
    pub predicted_ttd_s: f64,
    /// `INFINITY`: the attacker still succeeded one second before the horizon.
    pub measured_ttd_s: f64,
    pub requests: u64,
    pub agrees: bool,
}

/// One strategy × leak.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CellResult {
    pub strategy: String,
    pub leak: String,
    pub policy: String,
    /// `Some(reason)` when the cell was not replayed.
    pub skipped: Option<String>,
    pub customers: Vec<CustomerResult>,
}

impl CellResult {
    pub fn agreeing(&self) -> usize {
        self.customers.iter().filter(|c| c.agrees).count()
    }

    /// The largest |measured − predicted| over customers where both are finite (`0` if none).
    pub fn largest_gap_s(&self) -> f64 {
        self.customers
            .iter()
            .filter(|c| c.predicted_ttd_s.is_finite() && c.measured_ttd_s.is_finite())
            .map(|c| (c.predicted_ttd_s - c.measured_ttd_s).abs())
            .fold(0.0, f64::max)
    }

    /// The cell's rows of `drill.csv`: one per customer, or one naming why it was not replayed.
    pub fn rows(&self) -> Vec<DrillRow> {
        let row = |customer: Option<&CustomerResult>| DrillRow {
            strategy: self.strategy.clone(),
            leak: self.leak.clone(),
            policy: self.policy.clone(),
            customer: customer.map(|c| c.customer),
            predicted_ttd_s: customer.map(|c| c.predicted_ttd_s),
            measured_ttd_s: customer.map(|c| c.measured_ttd_s),
            agrees: customer.map(|c| c.agrees),
            requests: customer.map(|c| c.requests),
            skipped: self.skipped.clone(),
        };
        match self.skipped {
            Some(_) => vec![row(None)],
            None => self.customers.iter().map(|c| row(Some(c))).collect(),
        }
    }
}

impl fmt::Display for CellResult {
    /// The cell's terminal line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.skipped {
            Some(why) => write!(
                f,
                "{:<18} {:<10} not replayed: {why}",
                self.strategy, self.leak
            ),
            None => write!(
                f,
                "{:<18} {:<10} {} of {} customers agree",
                self.strategy,
                self.leak,
                self.agreeing(),
                self.customers.len()
            ),
        }
    }
}

/// One row of `drill.csv`: a customer of a cell, or a cell not replayed (`skipped` set, no
/// customer).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DrillRow {
    pub strategy: String,
    pub leak: String,
    #[serde(rename = "attacker")]
    pub policy: String,
    pub customer: Option<u64>,
    pub predicted_ttd_s: Option<f64>,
    pub measured_ttd_s: Option<f64>,
    pub agrees: Option<bool>,
    #[serde(rename = "attacker_requests")]
    pub requests: Option<u64>,
    #[serde(rename = "not_replayed")]
    pub skipped: Option<String>,
}

/// The whole drill's agreement over the replayed customers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DrillSummary {
    pub agreeing: usize,
    pub customers: usize,
}

impl DrillSummary {
    pub fn of(cells: &[CellResult]) -> DrillSummary {
        DrillSummary {
            agreeing: cells.iter().map(CellResult::agreeing).sum(),
            customers: cells.iter().map(|c| c.customers.len()).sum(),
        }
    }

    pub fn all_agree(&self) -> bool {
        self.agreeing == self.customers
    }
}
