//! Runs a scenario: replications × leaks in parallel, customers in fixed-size chunks, every
//! strategy on the same customers (common random numbers). Results do not depend on the number
//! of threads: chunk results are merged in chunk order.

use rayon::prelude::*;

use super::customer::Customer;
use super::engine::EventQueue;
use super::metrics::{time_grid, Accumulator};
use super::model::{simulate, Event};
use super::scenario::Scenario;
use super::strategy::{self, Context, Strategy};
use super::world::World;

/// The number of worker threads a run uses (rayon's global pool).
pub fn threads() -> usize {
    rayon::current_num_threads()
}

/// Customers per chunk: the unit of parallel work and of progress reports.
const CHUNK: u64 = 16_384;
/// Chunks simulated in parallel before their results are merged (bounds memory).
const WAVE: usize = 16;

/// Receives progress: called with the number of customer × strategy runs just completed.
pub trait Progress: Sync {
    fn advance(&self, runs: u64);
}

/// No progress reporting.
pub struct Silent;
impl Progress for Silent {
    fn advance(&self, _runs: u64) {}
}

/// One customer's result, kept only when per-customer output is requested.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomerRow {
    pub customer: u64,
    pub response_class: u8,
    pub ttd: f64,
    pub usable_seconds: f64,
    pub calls_ok: u64,
    pub refresh_ok: u64,
}

/// One strategy × leak × replication.
#[derive(Clone, Debug)]
pub struct Cell {
    pub strategy: usize,
    pub leak: usize,
    pub replication: u32,
    pub acc: Accumulator,
    pub customers: Vec<CustomerRow>,
}

/// A finished run.
#[derive(Clone, Debug)]
pub struct RunResults {
    pub scenario: Scenario,
    pub grid: Vec<f64>,
    /// Ordered by replication, then leak, then strategy.
    pub cells: Vec<Cell>,
    pub events: u64,
    pub customer_runs: u64,
}

impl RunResults {
    pub fn cell(&self, strategy: usize, leak: usize, replication: u32) -> Option<&Cell> {
        self.cells
            .iter()
            .find(|c| c.strategy == strategy && c.leak == leak && c.replication == replication)
    }

    /// Cells of one strategy × leak across replications.
    pub fn replications_of(&self, strategy: usize, leak: usize) -> impl Iterator<Item = &Cell> {
        self.cells
            .iter()
            .filter(move |c| c.strategy == strategy && c.leak == leak)
    }

    /// One metric of one strategy × leak, across replications.
    pub fn metric(&self, strategy: &str, leak: &str, metric: &str) -> Vec<f64> {
        let (Some(s), Some(l)) = (
            self.scenario
                .strategies
                .iter()
                .position(|x| x.name == strategy),
            self.scenario.leaks.iter().position(|x| x.name == leak),
        ) else {
            return Vec::new();
        };
        self.replications_of(s, l)
            .filter_map(|c| {
                c.acc
                    .metrics()
                    .into_iter()
                    .find(|(n, _)| *n == metric)
                    .map(|(_, v)| v)
            })
            .collect()
    }
}

/// Total customer × strategy runs a scenario needs (for progress bars).
pub fn total_runs(scenario: &Scenario) -> u64 {
    scenario.replications as u64
        * scenario.leaks.len() as u64
        * scenario.strategies.len() as u64
        * scenario.customers
}

/// Runs the scenario. `per_customer` keeps one row per affected customer and cell.
pub fn run(scenario: &Scenario, per_customer: bool, progress: &dyn Progress) -> RunResults {
    let grid = time_grid(scenario.horizon, scenario.grid_points);
    let strategies: Vec<Box<dyn Strategy>> =
        scenario.strategies.iter().map(strategy::build).collect();
    let tasks: Vec<(u32, usize)> = (0..scenario.replications)
        .flat_map(|r| (0..scenario.leaks.len()).map(move |l| (r, l)))
        .collect();
    let results: Vec<(Vec<Cell>, u64)> = tasks
        .par_iter()
        .map(|&(rep, leak)| {
            run_task(
                scenario,
                &strategies,
                &grid,
                rep,
                leak,
                per_customer,
                progress,
            )
        })
        .collect();
    let mut cells = Vec::new();
    let mut events = 0;
    for (c, e) in results {
        cells.extend(c);
        events += e;
    }
    RunResults {
        scenario: scenario.clone(),
        grid,
        cells,
        events,
        customer_runs: total_runs(scenario),
    }
}

struct ChunkResult {
    accs: Vec<Accumulator>,
    rows: Vec<Vec<CustomerRow>>,
    events: u64,
}

fn run_task(
    scenario: &Scenario,
    strategies: &[Box<dyn Strategy>],
    grid: &[f64],
    rep: u32,
    leak: usize,
    per_customer: bool,
    progress: &dyn Progress,
) -> (Vec<Cell>, u64) {
    let world = World::draw(scenario, rep as u64, leak as u64);
    let n = scenario.customers;
    let chunks: Vec<(u64, u64)> = (0..n.div_ceil(CHUNK))
        .map(|i| (i * CHUNK, ((i + 1) * CHUNK).min(n)))
        .collect();
    let mut accs: Vec<Accumulator> = strategies
        .iter()
        .map(|_| Accumulator::new(scenario.horizon, grid.len()))
        .collect();
    let mut rows: Vec<Vec<CustomerRow>> = vec![Vec::new(); strategies.len()];
    let mut events = 0;
    for wave in chunks.chunks(WAVE) {
        let done: Vec<ChunkResult> = wave
            .par_iter()
            .map(|&(from, to)| {
                let r = run_chunk(
                    scenario,
                    strategies,
                    grid,
                    &world,
                    leak,
                    from,
                    to,
                    per_customer,
                );
                progress.advance((to - from) * strategies.len() as u64);
                r
            })
            .collect();
        for chunk in done {
            for (acc, c) in accs.iter_mut().zip(&chunk.accs) {
                acc.merge(c);
            }
            for (all, part) in rows.iter_mut().zip(chunk.rows) {
                all.extend(part);
            }
            events += chunk.events;
        }
    }
    let cells = accs
        .into_iter()
        .zip(rows)
        .enumerate()
        .map(|(strategy, (acc, customers))| Cell {
            strategy,
            leak,
            replication: rep,
            acc,
            customers,
        })
        .collect();
    (cells, events)
}

#[allow(clippy::too_many_arguments)]
fn run_chunk(
    scenario: &Scenario,
    strategies: &[Box<dyn Strategy>],
    grid: &[f64],
    world: &World,
    leak: usize,
    from: u64,
    to: u64,
    per_customer: bool,
) -> ChunkResult {
    let compromise = scenario.leaks[leak].compromise;
    let mut queue: EventQueue<Event> = EventQueue::new();
    let mut accs: Vec<Accumulator> = strategies
        .iter()
        .map(|_| Accumulator::new(scenario.horizon, grid.len()))
        .collect();
    let mut rows: Vec<Vec<CustomerRow>> = vec![Vec::new(); strategies.len()];
    let signs: Vec<_> = scenario
        .strategies
        .iter()
        .map(|s| s.device_signs(scenario.core_key_storage))
        .collect();
    for id in from..to {
        let customer = Customer::draw(scenario, world, id);
        for (i, strategy) in strategies.iter().enumerate() {
            let rates = signs[i].rate(&scenario.grant.traffic(customer.refresh_interval));
            accs[i].device_call_signs_per_s += rates.calls;
            accs[i].device_refresh_signs_per_s += rates.refreshes;
            accs[i].device_connection_signs_per_s += rates.connections;
            if !customer.affected {
                continue;
            }
            let ctx = Context {
                world,
                customer: &customer,
                compromise,
                storage: scenario.core_key_storage,
            };
            let bindings = strategy.bindings(&ctx);
            let outcome = simulate(
                &mut queue,
                scenario,
                &scenario.strategies[i],
                bindings,
                compromise,
                world,
                &customer,
            );
            accs[i].record(
                &outcome,
                customer.response_class == 2,
                scenario.horizon,
                grid,
            );
            if per_customer {
                rows[i].push(CustomerRow {
                    customer: id,
                    response_class: customer.response_class,
                    ttd: outcome.ttd,
                    usable_seconds: outcome.usable_seconds,
                    calls_ok: outcome.calls_ok,
                    refresh_ok: outcome.refresh_ok,
                });
            }
        }
    }
    ChunkResult {
        accs,
        rows,
        events: queue.processed(),
    }
}
