//! Tidy tables written as both Parquet and CSV through polars (eager `DataFrame` only).
//!
//! A table is a slice of rows of one `Serialize + Deserialize` struct
//! ([`TableBuilder::from_rows`]): its fields are the columns, in order. Columns whose names
//! come from the data (a sweep's parameters) are added one at a time.

mod rows;

use std::fs::File;
use std::path::Path;

use polars::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::ReportError;

/// Writes `df` as `<dir>/<name>.parquet` and `<dir>/<name>.csv`.
///
/// Parquet is written uncompressed-statistics-free with a fixed compression so that the same data
/// gives the same bytes (leaklab's determinism promise covers its output files).
pub fn write_table(dir: &Path, name: &str, df: &mut DataFrame) -> Result<(), ReportError> {
    let err = |source| ReportError::Table {
        table: name.to_string(),
        source,
    };
    let csv_path = dir.join(format!("{name}.csv"));
    let mut csv = File::create(&csv_path).map_err(|e| ReportError::io(&csv_path, e))?;
    CsvWriter::new(&mut csv)
        .include_header(true)
        .finish(df)
        .map_err(err)?;
    write_parquet(dir, name, df)
}

/// Writes `df` as `<dir>/<name>.parquet` only (datasets too large to repeat as CSV).
pub fn write_parquet(dir: &Path, name: &str, df: &mut DataFrame) -> Result<(), ReportError> {
    let err = |source| ReportError::Table {
        table: name.to_string(),
        source,
    };
    let pq_path = dir.join(format!("{name}.parquet"));
    let pq = File::create(&pq_path).map_err(|e| ReportError::io(&pq_path, e))?;
    ParquetWriter::new(pq)
        .with_compression(ParquetCompression::Snappy)
        .with_statistics(StatisticsOptions::empty())
        .finish(df)
        .map_err(err)?;
    Ok(())
}

/// Builds a `DataFrame` column by column.
#[derive(Default)]
pub struct TableBuilder {
    columns: Vec<Column>,
}

/// A table as text for the HTML page: the headers, then the rows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cells {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Cells {
    /// The index of the column called `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|h| h == name)
    }
}

impl TableBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// A table with one row per element of `rows` and one column per field of `T` (see the
    /// module docs for the field types a row may have).
    pub fn from_rows<T: Serialize + DeserializeOwned>(rows: &[T]) -> Result<Self, ReportError> {
        Self::new().rows(rows)
    }

    /// Appends the columns of `rows` (one per field of `T`) after the columns so far.
    pub fn rows<'a, T: Serialize + DeserializeOwned + 'a>(
        mut self,
        rows: impl IntoIterator<Item = &'a T>,
    ) -> Result<Self, ReportError> {
        let columns = rows::columns(rows).map_err(|e| ReportError::RowType {
            row: std::any::type_name::<T>(),
            message: e.to_string(),
        })?;
        self.columns.extend(columns);
        Ok(self)
    }

    pub fn text(mut self, name: &str, values: Vec<String>) -> Self {
        self.columns.push(Column::new(name.into(), values));
        self
    }

    pub fn float(mut self, name: &str, values: Vec<f64>) -> Self {
        self.columns.push(Column::new(name.into(), values));
        self
    }

    pub fn int(mut self, name: &str, values: Vec<u64>) -> Self {
        self.columns.push(Column::new(name.into(), values));
        self
    }

    /// A text column with missing values (written as empty CSV cells and Parquet nulls).
    pub fn text_opt(mut self, name: &str, values: Vec<Option<String>>) -> Self {
        self.columns.push(Column::new(name.into(), values));
        self
    }

    /// A float column with missing values.
    pub fn float_opt(mut self, name: &str, values: Vec<Option<f64>>) -> Self {
        self.columns.push(Column::new(name.into(), values));
        self
    }

    /// An integer column with missing values.
    pub fn int_opt(mut self, name: &str, values: Vec<Option<u64>>) -> Self {
        self.columns.push(Column::new(name.into(), values));
        self
    }

    /// A 32-bit unsigned column (kept narrow where the reader expects it, e.g. `concurrency`).
    pub fn uint32(mut self, name: &str, values: Vec<u32>) -> Self {
        self.columns.push(Column::new(name.into(), values));
        self
    }

    /// The table as text cells for the HTML page (the same data the files get); missing values
    /// are empty, numbers formatted by [`crate::html::num`].
    pub fn cells(&self) -> Cells {
        let headers = self.columns.iter().map(|c| c.name().to_string()).collect();
        let height = self.columns.iter().map(Column::len).max().unwrap_or(0);
        let rows = (0..height)
            .map(|i| {
                self.columns
                    .iter()
                    .map(|c| match c.get(i) {
                        Ok(AnyValue::Null) | Err(_) => String::new(),
                        Ok(AnyValue::Float64(x)) => crate::html::num(x),
                        Ok(AnyValue::Float32(x)) => crate::html::num(f64::from(x)),
                        Ok(AnyValue::String(s)) => s.to_string(),
                        Ok(AnyValue::StringOwned(s)) => s.to_string(),
                        Ok(v) => v.to_string(),
                    })
                    .collect()
            })
            .collect();
        Cells { headers, rows }
    }

    /// Writes the table as Parquet and CSV (see [`write_table`]).
    pub fn write(self, dir: &Path, name: &str) -> Result<(), ReportError> {
        let mut df =
            DataFrame::new_infer_height(self.columns).map_err(|source| ReportError::Table {
                table: name.to_string(),
                source,
            })?;
        write_table(dir, name, &mut df)
    }

    /// As [`TableBuilder::write`], Parquet only.
    pub fn write_parquet(self, dir: &Path, name: &str) -> Result<(), ReportError> {
        let mut df =
            DataFrame::new_infer_height(self.columns).map_err(|source| ReportError::Table {
                table: name.to_string(),
                source,
            })?;
        write_parquet(dir, name, &mut df)
    }
}
