//! Runs a scenario: replications × leaks in parallel, customers in fixed-size chunks, every
//! strategy and attacker policy on the same customers (common random numbers). Results do not
//! depend on the number of threads: chunk results are merged in chunk order.
//!
//! **Attack-driven detection** couples customers: the vendor detects the leak at the earliest
//! alert any customer's attack raises (or on its own, whichever is first), and everything the
//! defenders do follows that time. Before detection no defender acts, so each customer's
//! trajectory up to detection does not depend on the others. Two passes are therefore exact:
//! pass 1 runs every customer with no defender (`Timeline::undetected`) and takes the earliest
//! alert; pass 2 runs every customer in the world of that detection time. Both passes see the
//! same draws, so pass 2 repeats pass 1 up to detection event for event. Pass 1 stops at the
//! exogenous detection time (a later alert cannot matter). `tests/sim_v2.rs` checks the
//! detection times of both passes together against closed forms (volume and reuse alerts).

use rayon::prelude::*;

use super::customer::Customer;
use super::engine::EventQueue;
use super::metrics::{time_grid, Accumulator};
use super::model::{self, simulate, Event, Run};
use super::scenario::{AttackerPolicy, Scenario};
use super::strategy::{self, Bindings, Context, Strategy};
use super::world::{Timeline, World};
use leaklab_base::rng::stream_id;

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

/// One strategy × leak × attacker policy × replication.
#[derive(Clone, Debug)]
pub struct Cell {
    pub strategy: usize,
    pub leak: usize,
    /// Index into `scenario.attacker.policies`.
    pub attacker: usize,
    pub replication: u32,
    pub acc: Accumulator,
    pub customers: Vec<CustomerRow>,
}

/// A finished run.
#[derive(Clone, Debug)]
pub struct RunResults {
    pub scenario: Scenario,
    pub grid: Vec<f64>,
    /// Ordered by replication, then leak, then strategy, then attacker policy.
    pub cells: Vec<Cell>,
    /// Actor state changes processed (both passes).
    pub events: u64,
    /// Customer × strategy × attacker-policy runs (both passes).
    pub customer_runs: u64,
}

impl RunResults {
    pub fn cell(
        &self,
        strategy: usize,
        leak: usize,
        attacker: usize,
        replication: u32,
    ) -> Option<&Cell> {
        self.cells.iter().find(|c| {
            c.strategy == strategy
                && c.leak == leak
                && c.attacker == attacker
                && c.replication == replication
        })
    }

    /// Cells of one strategy × leak × attacker policy across replications.
    pub fn replications_of(
        &self,
        strategy: usize,
        leak: usize,
        attacker: usize,
    ) -> impl Iterator<Item = &Cell> {
        self.cells
            .iter()
            .filter(move |c| c.strategy == strategy && c.leak == leak && c.attacker == attacker)
    }

    /// One metric of one strategy × leak for the headline attacker policy (the scenario's
    /// first), across replications.
    pub fn metric(&self, strategy: &str, leak: &str, metric: &str) -> Vec<f64> {
        match self.scenario.attacker.policies.first() {
            Some(p) => self.metric_of(strategy, leak, p.name(), metric),
            None => Vec::new(),
        }
    }

    /// One metric of one strategy × leak × attacker policy, across replications.
    pub fn metric_of(&self, strategy: &str, leak: &str, attacker: &str, metric: &str) -> Vec<f64> {
        let sc = &self.scenario;
        let (Some(s), Some(l), Some(a)) = (
            sc.strategies.iter().position(|x| x.name == strategy),
            sc.leaks.iter().position(|x| x.name == leak),
            sc.attacker
                .policies
                .iter()
                .position(|p| p.name() == attacker),
        ) else {
            return Vec::new();
        };
        self.replications_of(s, l, a)
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

/// Whether a run needs the first (detection) pass.
fn two_pass(scenario: &Scenario) -> bool {
    scenario.detection.attack_driven()
}

/// Total customer × strategy × attacker-policy runs a scenario needs (for progress bars).
pub fn total_runs(scenario: &Scenario) -> u64 {
    let passes = if two_pass(scenario) { 2 } else { 1 };
    passes
        * scenario.replications as u64
        * scenario.leaks.len() as u64
        * scenario.strategies.len() as u64
        * scenario.attacker.policies.len() as u64
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
            let task = Task::new(scenario, &strategies, &grid, rep, leak);
            task.run(per_customer, progress)
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

/// One (replication, leak): its timeline, the vendor's revocation order, and one world per
/// strategy × attacker policy ("combo", index `strategy * policies + policy`).
struct Task<'a> {
    scenario: &'a Scenario,
    strategies: &'a [Box<dyn Strategy>],
    grid: &'a [f64],
    rep: u32,
    leak: usize,
    timeline: Timeline,
    /// The vendor's mass-revocation position of each customer (empty: no mass revocation).
    ranks: Vec<u64>,
}

struct ChunkResult {
    accs: Vec<Accumulator>,
    rows: Vec<Vec<CustomerRow>>,
    alerts: Vec<f64>,
    events: u64,
}

impl<'a> Task<'a> {
    fn new(
        scenario: &'a Scenario,
        strategies: &'a [Box<dyn Strategy>],
        grid: &'a [f64],
        rep: u32,
        leak: usize,
    ) -> Task<'a> {
        let timeline = Timeline::draw(scenario, rep as u64, leak as u64);
        let ranks = if scenario.vendor.mass_revoke.is_some() {
            // A uniformly random order: sort the customers by a per-customer uniform key.
            let world = timeline.undetected();
            let key =
                |id: u64| world.customer_uniform(const { stream_id("vendor/revoke-order") }, id);
            let mut order: Vec<u64> = (0..scenario.customers).collect();
            order.sort_by(|a, b| key(*a).total_cmp(&key(*b)).then(a.cmp(b)));
            let mut ranks = vec![0; order.len()];
            for (rank, id) in order.into_iter().enumerate() {
                ranks[id as usize] = rank as u64;
            }
            ranks
        } else {
            Vec::new()
        };
        Task {
            scenario,
            strategies,
            grid,
            rep,
            leak,
            timeline,
            ranks,
        }
    }

    fn policies(&self) -> &[AttackerPolicy] {
        &self.scenario.attacker.policies
    }

    fn combos(&self) -> usize {
        self.strategies.len() * self.policies().len()
    }

    fn run(&self, per_customer: bool, progress: &dyn Progress) -> (Vec<Cell>, u64) {
        let exogenous = self.timeline.exogenous_detection;
        let mut events = 0;
        let alerts = if two_pass(self.scenario) {
            let undetected = vec![self.timeline.undetected(); self.combos()];
            let (first, e) = self.pass(&undetected, false, false, progress);
            events += e;
            first.alerts
        } else {
            vec![f64::INFINITY; self.combos()]
        };
        let worlds: Vec<World> = alerts
            .iter()
            .map(|a| self.timeline.world(a.min(exogenous)))
            .collect();
        let (second, e) = self.pass(&worlds, true, per_customer, progress);
        events += e;
        let p = self.policies().len();
        let cells = second
            .accs
            .into_iter()
            .zip(second.rows)
            .enumerate()
            .map(|(k, (mut acc, customers))| {
                acc.detection = worlds[k].detection;
                acc.detected_by_attack = alerts[k] < exogenous;
                Cell {
                    strategy: k / p,
                    leak: self.leak,
                    attacker: k % p,
                    replication: self.rep,
                    acc,
                    customers,
                }
            })
            .collect();
        (cells, events)
    }

    /// One pass over every customer with `worlds[combo]`; `record` fills the accumulators.
    fn pass(
        &self,
        worlds: &[World],
        record: bool,
        per_customer: bool,
        progress: &dyn Progress,
    ) -> (ChunkResult, u64) {
        let n = self.scenario.customers;
        let chunks: Vec<(u64, u64)> = (0..n.div_ceil(CHUNK))
            .map(|i| (i * CHUNK, ((i + 1) * CHUNK).min(n)))
            .collect();
        let mut total = self.empty_result();
        let mut events = 0;
        for wave in chunks.chunks(WAVE) {
            let done: Vec<ChunkResult> = wave
                .par_iter()
                .map(|&(from, to)| {
                    let r = self.chunk(worlds, from, to, record, per_customer);
                    progress.advance((to - from) * self.combos() as u64);
                    r
                })
                .collect();
            for chunk in done {
                for (acc, c) in total.accs.iter_mut().zip(&chunk.accs) {
                    acc.merge(c);
                }
                for (all, part) in total.rows.iter_mut().zip(chunk.rows) {
                    all.extend(part);
                }
                for (a, c) in total.alerts.iter_mut().zip(&chunk.alerts) {
                    *a = a.min(*c);
                }
                events += chunk.events;
            }
        }
        (total, events)
    }

    fn empty_result(&self) -> ChunkResult {
        let sc = self.scenario;
        let legit_calls_per_s = f64::from(sc.grant.edges) * sc.grant.calls_per_s_per_edge;
        ChunkResult {
            accs: (0..self.combos())
                .map(|_| {
                    let mut a = Accumulator::new(sc.horizon, self.grid.len());
                    a.legit_calls_per_s = legit_calls_per_s;
                    a
                })
                .collect(),
            rows: vec![Vec::new(); self.combos()],
            alerts: vec![f64::INFINITY; self.combos()],
            events: 0,
        }
    }

    fn chunk(
        &self,
        worlds: &[World],
        from: u64,
        to: u64,
        record: bool,
        per_customer: bool,
    ) -> ChunkResult {
        let sc = self.scenario;
        let compromise = sc.leaks[self.leak].compromise;
        let mut queue: EventQueue<Event> = EventQueue::new();
        let mut out = self.empty_result();
        let signs: Vec<_> = sc
            .strategies
            .iter()
            .map(|s| s.device_signs(sc.core_key_storage))
            .collect();
        // With server nonces, each edge fetches a fresh one from the authorization server and
        // from the resource server once per nonce lifetime: one extra round trip each.
        let nonce_trips: Vec<f64> = sc
            .strategies
            .iter()
            .map(|st| {
                let dpop = matches!(
                    st.kind.binding(),
                    leaklab_base::catalogue::Binding::SingleDpop
                        | leaklab_base::catalogue::Binding::SplitDpop
                );
                if dpop && sc.dpop.nonce_lifetime.is_finite() {
                    2.0 * f64::from(sc.grant.edges) / sc.dpop.nonce_lifetime
                } else {
                    0.0
                }
            })
            .collect();
        let streams = self.timeline.undetected();
        let p = self.policies().len();
        for id in from..to {
            let mut customer = Customer::draw(sc, &streams, id);
            if let Some(rank) = self.ranks.get(id as usize) {
                customer.vendor_rank = *rank;
            }
            for (k, world) in worlds.iter().enumerate() {
                let (s, policy) = (k / p, self.policies()[k % p]);
                let ctx = Context {
                    world,
                    customer: &customer,
                    compromise,
                    storage: sc.core_key_storage,
                    policy,
                    presign_horizon: sc.dpop.presign_horizon(),
                };
                let run = Run {
                    scenario: sc,
                    strategy: &sc.strategies[s],
                    bindings: if customer.affected {
                        self.strategies[s].bindings(&ctx)
                    } else {
                        Bindings::NONE
                    },
                    compromise,
                    world,
                    customer: &customer,
                    policy,
                    alerts_only_until: (!record).then_some(self.timeline.exogenous_detection),
                    event_by_event: false,
                };
                if !record {
                    if customer.affected {
                        let o = simulate(&mut queue, &run);
                        out.alerts[k] = out.alerts[k].min(o.first_alert);
                    }
                    continue;
                }
                let acc = &mut out.accs[k];
                let rates = signs[s].rate(&sc.grant.traffic(customer.refresh_interval));
                acc.device_call_signs_per_s += rates.calls;
                acc.device_refresh_signs_per_s += rates.refreshes;
                acc.device_connection_signs_per_s += rates.connections;
                acc.nonce_round_trips_per_s += nonce_trips[s];
                if !customer.affected {
                    acc.record_availability(&model::unaffected(&run));
                    continue;
                }
                let outcome = simulate(&mut queue, &run);
                out.alerts[k] = out.alerts[k].min(outcome.first_alert);
                acc.record(
                    &outcome,
                    customer.response_class == 2,
                    sc.horizon,
                    self.grid,
                );
                acc.record_availability(&outcome);
                if per_customer {
                    out.rows[k].push(CustomerRow {
                        customer: id,
                        response_class: customer.response_class,
                        ttd: outcome.ttd,
                        usable_seconds: outcome.counters.usable_seconds,
                        calls_ok: outcome.counters.calls_ok,
                        refresh_ok: outcome.counters.refresh_ok,
                    });
                }
            }
        }
        out.events = queue.processed();
        out
    }
}

/// One affected customer of one cell as the simulator sees it: the draws, the strategy's binding
/// windows and the simulated outcome. The live drill replays these draws against real servers.
#[derive(Clone, Debug)]
pub struct CustomerPlan {
    pub customer: Customer,
    pub world: World,
    pub bindings: Bindings,
    /// [`Strategy::victim_key_until`] for this customer.
    pub victim_key_until: f64,
    /// [`Strategy::credential_disabled_at`] for this customer.
    pub credential_disabled_at: f64,
    /// [`Strategy::jwks_host_end`] for this customer.
    pub jwks_host: Option<strategy::JwksHostEnd>,
    pub outcome: model::Outcome,
}

/// Why a scenario cannot be planned customer by customer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    #[error(
        "detection driven by the attack couples the customers (one vendor detection time for \
         all); the drill needs an exogenous detection delay ([detection] without reuse_alert, \
         binding_alert, customer_report or volume_alert_per_call)"
    )]
    AttackDriven,
    #[error("no strategy {0} / leak {1} in the scenario")]
    OutOfRange(usize, usize),
}

/// The first `customers` customers of `replication` for one strategy, leak and attacker policy
/// (only the affected ones are returned), with the exact draws the simulator uses.
pub fn customer_plans(
    scenario: &Scenario,
    strategy: usize,
    leak: usize,
    policy: AttackerPolicy,
    replication: u32,
    customers: u64,
) -> Result<Vec<CustomerPlan>, PlanError> {
    if two_pass(scenario) {
        return Err(PlanError::AttackDriven);
    }
    if strategy >= scenario.strategies.len() || leak >= scenario.leaks.len() {
        return Err(PlanError::OutOfRange(strategy, leak));
    }
    let strategies: Vec<Box<dyn Strategy>> =
        scenario.strategies.iter().map(strategy::build).collect();
    let task = Task::new(scenario, &strategies, &[], replication, leak);
    let world = task.timeline.world(task.timeline.exogenous_detection);
    let streams = task.timeline.undetected();
    let compromise = scenario.leaks[leak].compromise;
    let mut queue = EventQueue::new();
    let mut plans = Vec::new();
    for id in 0..customers.min(scenario.customers) {
        let mut customer = Customer::draw(scenario, &streams, id);
        if let Some(rank) = task.ranks.get(id as usize) {
            customer.vendor_rank = *rank;
        }
        if !customer.affected {
            continue;
        }
        let ctx = Context {
            world: &world,
            customer: &customer,
            compromise,
            storage: scenario.core_key_storage,
            policy,
            presign_horizon: scenario.dpop.presign_horizon(),
        };
        let bindings = strategies[strategy].bindings(&ctx);
        let victim_key_until = strategies[strategy].victim_key_until(&ctx);
        let credential_disabled_at = strategies[strategy].credential_disabled_at(&ctx);
        let jwks_host = strategies[strategy].jwks_host_end(&ctx);
        let run = Run {
            scenario,
            strategy: &scenario.strategies[strategy],
            bindings,
            compromise,
            world: &world,
            customer: &customer,
            policy,
            alerts_only_until: None,
            event_by_event: false,
        };
        let outcome = simulate(&mut queue, &run);
        plans.push(CustomerPlan {
            customer,
            world: world.clone(),
            bindings,
            victim_key_until,
            credential_disabled_at,
            jwks_host,
            outcome,
        });
    }
    Ok(plans)
}
