//! The time-to-disable simulator: leaklab's main job.
//!
//! A pure simulation core: no files, no terminal, no clock. [`runner::run`] takes a validated
//! [`scenario::Scenario`] and returns [`runner::RunResults`]; the CLI and the report layer turn
//! those into tables, plots and summaries. See `docs/model.md` for the model and its sources.

pub mod customer;
pub mod engine;
pub mod metrics;
pub mod model;
pub mod runner;
pub mod scenario;
pub mod stats;
pub mod strategy;
pub mod summary;
pub mod world;
