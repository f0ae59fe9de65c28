//! The schema of `signers.csv` / `signers.parquet`: written by `leaklab bench signers`
//! (`leaklab-signer-bench`, through `leaklab-report`), read back by the capacity planner's
//! measured profiles (`leaklab-capacity`). It lives here, below both, so that neither side
//! depends on the other for it.

/// The columns, in order.
pub const COLUMNS: [&str; 17] = [
    "device",
    "backend",
    "operation",
    "concurrency",
    "ops_per_s",
    "mean_us",
    "p10_us",
    "p50_us",
    "p90_us",
    "p99_us",
    "p999_us",
    "max_us",
    "samples",
    "reference",
    "ratio_to_reference",
    "host",
    "leaklab_version",
];

/// The `operation` of a row that measures one in-process ES256 signature (the rows the
/// capacity planner prefers for a device's profile).
pub const SIGN_OPERATION: &str = "es256 sign";
