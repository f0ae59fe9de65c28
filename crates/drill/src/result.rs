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

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(id: u64, predicted: f64, measured: f64, agrees: bool) -> CustomerResult {
        CustomerResult {
            customer: id,
            predicted_ttd_s: predicted,
            measured_ttd_s: measured,
            requests: 3,
            agrees,
        }
    }

    fn cell(skipped: Option<&str>, customers: Vec<CustomerResult>) -> CellResult {
        CellResult {
            strategy: "split-dpop".into(),
            leak: "edge".into(),
            policy: "maximal".into(),
            skipped: skipped.map(str::to_owned),
            customers,
        }
    }

    #[test]
    fn a_skipped_cell_is_one_row_and_a_replayed_one_a_row_per_customer() {
        let skipped = cell(Some("why"), Vec::new());
        let rows = skipped.rows();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].customer, None);
        assert_eq!(rows[0].skipped.as_deref(), Some("why"));
        let replayed = cell(
            None,
            vec![
                customer(1, 10.0, 12.0, true),
                customer(2, f64::INFINITY, 5.0, false),
            ],
        );
        let rows = replayed.rows();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].customer, Some(2));
        assert_eq!(rows[1].agrees, Some(false));
        assert!(rows.iter().all(|r| r.skipped.is_none()));
        // Only customers with both times finite count towards the gap.
        assert_eq!(replayed.largest_gap_s(), 2.0);
        let summary = DrillSummary::of(&[skipped, replayed]);
        assert_eq!(
            summary,
            DrillSummary {
                agreeing: 1,
                customers: 2
            }
        );
        assert!(!summary.all_agree());
    }

    #[test]
    fn the_terminal_line_names_the_agreement_or_why_not_replayed() {
        let line = cell(None, vec![customer(1, 1.0, 1.0, true)]).to_string();
        assert_eq!(line, "split-dpop         edge       1 of 1 customers agree");
        let line = cell(Some("policy"), Vec::new()).to_string();
        assert_eq!(line, "split-dpop         edge       not replayed: policy");
    }
}
