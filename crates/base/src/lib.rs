//! What the simulator and the capacity planner share, in one place each: durations (one parser,
//! one formatter), the counter-based RNG and the distributions drawn from it, the strict TOML
//! reader that names file, key, value and allowed values, the strategy catalogue that says
//! what each token-binding strategy makes a device sign, and the `signers.csv` schema shared by
//! the signer benchmark and the planner.

pub mod catalogue;
pub mod dist;
pub mod duration;
pub mod rng;
pub mod signers_csv;
pub mod toml_reader;
