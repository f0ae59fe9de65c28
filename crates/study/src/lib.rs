//! Parameter studies over leaklab scenarios: a sweep file is a scenario plus a `[sweep]` table;
//! its design gives points (grid, Latin hypercube, Saltelli), each point a scenario with some
//! keys set and its own seed. Pure: no files, no simulation. The CLI runs the points (any
//! shard anywhere) and the report crate writes and merges their results; this crate also holds
//! the check that a set of shards is one complete sweep ([`shards`]) and the analysis of merged
//! results: Sobol indices and robust claim verdicts.

pub mod apply;
pub mod design;
pub mod robust;
pub mod shards;
pub mod sobol;
pub mod spec;

/// Which share of a sweep one process computes: `index` of `count` (`--shard I/N`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Whether point `point` is this shard's.
    pub fn has(&self, point: u64) -> bool {
        design::in_shard(point, self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    /// `I/N` with 0 ≤ I < N.
    fn from_str(s: &str) -> Result<Shard, String> {
        let err = || format!("expected I/N with 0 <= I < N, such as 0/4 (got \"{s}\")");
        let (i, n) = s.split_once('/').ok_or_else(err)?;
        let (index, count) = (
            i.trim().parse::<u64>().map_err(|_| err())?,
            n.trim().parse::<u64>().map_err(|_| err())?,
        );
        if count == 0 || index >= count || count > 1_000_000 {
            return Err(err());
        }
        Ok(Shard { index, count })
    }
}
