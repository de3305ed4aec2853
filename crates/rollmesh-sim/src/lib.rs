//! Deterministic simulation of the sync protocol: real [`rollmesh_sync::Session`]s between simulated nodes
//! over a virtual network with random delays, lost messages, cut links, dropped connections, node
//! restarts and restores from old snapshots, under a virtual clock. Messages travel on an ordered stream
//! per connection, as over QUIC ([`Transport::Stream`]: a lost message breaks the connection), or each on
//! its own, lost, duplicated and reordered inside a live connection ([`Transport::Datagram`]).
//!
//! Everything is driven from one `u64` seed (a ChaCha8 generator); no OS time or randomness and no hash
//! map iteration, so a seed replays the same run, trace for trace. [`run`] plays a random scenario and
//! returns an [`Outcome`]; [`Sim`] is the harness itself, for scripted scenarios.
//!
//! The model: each node holds the documents of its scope (a dotted unit path; a scope covers the units at
//! and below it) in an append-only log of changes. A session reads the node's store through a [`View`]
//! filtered to the peer's scope. Every batch delivered to a node is checked against the node's scope, and
//! at the end every node must hold exactly the changes of its scope that exist anywhere.

mod node;
mod sim;

use std::collections::BTreeMap;

pub use node::{covers, state_hash, Change, DecodeError, SimNode, Snapshot, View};
pub use rollmesh_sync::SessionConfig;
pub use sim::Sim;

/// One node of a scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSpec {
    /// Its name (its credential).
    pub name: String,
    /// Its unit: it holds the documents of this unit and those below.
    pub scope: String,
}

impl NodeSpec {
    /// A node.
    pub fn new(name: &str, scope: &str) -> NodeSpec {
        NodeSpec {
            name: name.to_owned(),
            scope: scope.to_owned(),
        }
    }
}

/// How the network carries the messages of one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// What the node uses (one QUIC stream per connection): messages arrive in order and once, after
    /// random delays; a lost message breaks the connection (both sessions end, without a word, and the
    /// link is dialled again).
    Stream,
    /// Every message on its own: lost, duplicated and delayed (so reordered) independently, inside a
    /// connection that stays up. Harsher than QUIC; the model of the first simulation. Only a sender's
    /// `Auth` is never overtaken by what it sends later.
    Datagram,
}

/// What goes wrong, and how often.
#[derive(Clone, Debug, PartialEq)]
pub struct Faults {
    /// How messages travel.
    pub transport: Transport,
    /// Probability that a message is lost (on a [`Transport::Stream`], that its connection breaks).
    pub loss: f64,
    /// Probability that a message is delivered twice ([`Transport::Datagram`] only).
    pub dup: f64,
    /// Largest network delay (each message takes 1..=this; on a datagram network messages overtake each
    /// other, on a stream the two directions interleave at random).
    pub max_delay_ms: u64,
    /// Per round: probability that a random link is cut.
    pub cut: f64,
    /// Per round: probability that every cut link heals.
    pub heal: f64,
    /// Per round: probability that a random link's connection drops and is dialled again.
    pub link_restart: f64,
    /// Per round: probability that a random node restarts (its sessions and applies in progress are lost;
    /// its store and checkpoints are not).
    pub node_restart: f64,
    /// Restore one random node from a snapshot taken a quarter into the rounds, three quarters in.
    pub restore: bool,
    /// A restored store keeps its old index id (instead of taking a new one, as a restore should).
    pub restore_keeps_index: bool,
    /// Largest time a node takes to prepare (check) a batch handed to it.
    pub max_prepare_ms: u64,
    /// Largest time a node then takes to write it.
    pub max_write_ms: u64,
    /// Largest time a node takes to check a peer's credential.
    pub max_auth_ms: u64,
}

impl Faults {
    /// A perfect network and instant nodes (still with delays of 1 ms).
    pub fn none() -> Faults {
        Faults {
            transport: Transport::Stream,
            loss: 0.0,
            dup: 0.0,
            max_delay_ms: 1,
            cut: 0.0,
            heal: 0.0,
            link_restart: 0.0,
            node_restart: 0.0,
            restore: false,
            restore_keeps_index: false,
            max_prepare_ms: 0,
            max_write_ms: 0,
            max_auth_ms: 0,
        }
    }

    /// Everything at once, on the node's transport: connections that break (2% of messages), random
    /// delays, cut links, link and node restarts, a restore, slow applies and credential checks.
    pub fn harsh() -> Faults {
        Faults {
            transport: Transport::Stream,
            loss: 0.02,
            dup: 0.0,
            max_delay_ms: 50,
            cut: 0.15,
            heal: 0.2,
            link_restart: 0.06,
            node_restart: 0.03,
            restore: true,
            restore_keeps_index: false,
            max_prepare_ms: 30,
            max_write_ms: 30,
            max_auth_ms: 30,
        }
    }

    /// [`Faults::harsh`] on a datagram network: 10% of messages lost, 10% duplicated, reordered.
    pub fn datagram() -> Faults {
        Faults {
            transport: Transport::Datagram,
            loss: 0.1,
            dup: 0.1,
            ..Faults::harsh()
        }
    }
}

/// A scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The nodes.
    pub nodes: Vec<NodeSpec>,
    /// The links (each a connection both ends keep dialling), by node index.
    pub links: Vec<(usize, usize)>,
    /// The units documents are created in (a node creates documents only inside its scope).
    pub units: Vec<String>,
    /// Rounds of edits and faults.
    pub rounds: u32,
    /// Steps per round.
    pub steps_per_round: u32,
    /// Virtual time per step.
    pub step_ms: u64,
    /// At most this many edits per round, anywhere.
    pub max_edits_per_round: u32,
    /// After the rounds, at most this many steps to converge (faults other than loss and duplication
    /// stop; cut links heal).
    pub settle_steps: u32,
    /// The sessions' configuration.
    pub session: SessionConfig,
    /// The faults.
    pub faults: Faults,
    /// `(a, b)`: node `a` refuses node `b`'s credential.
    pub refusals: Vec<(usize, usize)>,
    /// A closed connection is dialled again after this long (never if `None`).
    pub redial_ms: Option<u64>,
    /// Keep the trace lines (the running hash is kept either way).
    pub keep_trace: bool,
    /// Test of the checker only: the logs ignore the peer's scope.
    pub leaky_scope: bool,
}

impl Config {
    /// The session configuration the scenarios use: small batches, quick retries, a short auth timeout.
    pub fn sim_session() -> SessionConfig {
        SessionConfig {
            batch_max: 3,
            retry_ms: 300,
            auth_timeout_ms: 1_000,
            max_early: 64,
        }
    }

    /// The chain city – district – ward – cell plus a sibling cell under the ward, with every fault of
    /// [`Faults::harsh`] (on the stream transport), 60 rounds of up to 2 edits and 5 steps of 10 ms.
    /// Nodes: 0 city `h`, 1 district `h.d`, 2 ward `h.d.w`, 3 cell `h.d.w.c1`, 4 sibling cell `h.d.w.c2`.
    pub fn chain() -> Config {
        Config {
            nodes: vec![
                NodeSpec::new("city", "h"),
                NodeSpec::new("district", "h.d"),
                NodeSpec::new("ward", "h.d.w"),
                NodeSpec::new("cell", "h.d.w.c1"),
                NodeSpec::new("sibling", "h.d.w.c2"),
            ],
            links: vec![(0, 1), (1, 2), (2, 3), (2, 4)],
            units: ["h", "h.x", "h.d", "h.d.y", "h.d.w", "h.d.w.c1", "h.d.w.c2"]
                .iter()
                .map(|u| (*u).to_owned())
                .collect(),
            rounds: 60,
            steps_per_round: 5,
            step_ms: 10,
            max_edits_per_round: 2,
            settle_steps: 20_000,
            session: Config::sim_session(),
            faults: Faults::harsh(),
            refusals: Vec::new(),
            redial_ms: Some(100),
            keep_trace: true,
            leaky_scope: false,
        }
    }

    /// Two nodes with the same scope on one link, no faults, no edits.
    pub fn pair() -> Config {
        Config {
            nodes: vec![NodeSpec::new("a", "h"), NodeSpec::new("b", "h")],
            links: vec![(0, 1)],
            units: vec!["h".to_owned()],
            rounds: 0,
            steps_per_round: 5,
            step_ms: 10,
            max_edits_per_round: 0,
            settle_steps: 5_000,
            session: Config::sim_session(),
            faults: Faults::none(),
            refusals: Vec::new(),
            redial_ms: Some(100),
            keep_trace: true,
            leaky_scope: false,
        }
    }
}

/// Counters of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages sent (by sessions, and injected).
    pub sent: u64,
    /// Messages lost (to loss or a cut link).
    pub lost: u64,
    /// Messages duplicated.
    pub duplicated: u64,
    /// Connections broken by a lost message (on a stream).
    pub broken: u64,
    /// Messages delivered, by kind (`"Auth"`, `"Pull"`, `"Batch"`, `"Reset"`, `"Recon"`, `"Want"`,
    /// `"Bye"`).
    pub delivered: BTreeMap<&'static str, u64>,
    /// Messages delivered, by kind and receiving node.
    pub delivered_to: BTreeMap<(&'static str, usize), u64>,
    /// Change records delivered in batches, by receiving node.
    pub records_delivered: BTreeMap<usize, u64>,
    /// Change records written (new to the node).
    pub changes_applied: u64,
    /// Connections closed by a session, by reason.
    pub closes: BTreeMap<String, u64>,
    /// Connections set up.
    pub connects: u64,
    /// Links cut.
    pub cuts: u64,
    /// Links restarted.
    pub link_restarts: u64,
    /// Nodes restarted.
    pub node_restarts: u64,
    /// Nodes restored from a snapshot.
    pub restores: u64,
    /// Edits made.
    pub edits: u64,
    /// Steps run.
    pub steps: u64,
}

/// What a run ended with.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The seed.
    pub seed: u64,
    /// Every delivered message, effect and event, in order (empty unless the config keeps it).
    pub trace: Vec<String>,
    /// A running hash of the trace lines.
    pub trace_hash: u64,
    /// Number of trace lines.
    pub trace_len: u64,
    /// Every node holds exactly the changes of its scope that exist anywhere.
    pub converged: bool,
    /// Nothing was in flight at the end.
    pub quiet: bool,
    /// By node, the changes of its scope that exist somewhere and it lacks.
    pub missing: BTreeMap<usize, Vec<u64>>,
    /// Every session left at the end, as `n{a}/n{b} c{connection}: {session:?}` (for diagnosis).
    pub sessions: Vec<String>,
    /// Broken safety properties (records outside the receiver's scope, undecodable records, lost changes).
    pub violations: Vec<String>,
    /// Sessions that failed with an error (the driver closed their connection).
    pub errors: Vec<String>,
    /// Counters.
    pub stats: Stats,
    /// Changes held, by node.
    pub holdings: Vec<usize>,
    /// The virtual time at the end.
    pub now: u64,
}

impl Outcome {
    /// Messages of this kind delivered.
    pub fn delivered(&self, kind: &str) -> u64 {
        self.stats.delivered.get(kind).copied().unwrap_or(0)
    }

    /// Converged, with no violation; otherwise a description naming the seed.
    pub fn check(&self) -> Result<(), String> {
        if self.converged && self.violations.is_empty() {
            return Ok(());
        }
        let tail: Vec<&String> = self.trace.iter().rev().take(30).collect();
        Err(format!(
            "seed {}: converged={} quiet={} missing={:?} holdings={:?} violations={:?} errors={:?} stats={:?}\n\
             last trace lines (newest first):\n{}\n(rerun: ROLLMESH_SIM_SEED={})",
            self.seed,
            self.converged,
            self.quiet,
            self.missing,
            self.holdings,
            self.violations.iter().take(10).collect::<Vec<_>>(),
            self.errors.iter().take(10).collect::<Vec<_>>(),
            self.stats,
            tail.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            self.seed
        ))
    }
}

/// Plays the random scenario of `config` from `seed`: rounds of random edits and faults, then healing and
/// settling until the nodes converge and the network is quiet (or `settle_steps` run out).
pub fn run(seed: u64, config: &Config) -> Outcome {
    let mut sim = Sim::new(seed, config.clone());
    let n = config.nodes.len();
    let links = config.links.len();
    let f = config.faults.clone();
    let mut restored = None;
    for round in 0..config.rounds {
        let edits = sim.gen_range(0, u64::from(config.max_edits_per_round));
        for _ in 0..edits {
            let node = sim.gen_index(n);
            sim.random_edit(node);
        }
        if links > 0 {
            if sim.gen_bool(f.cut) {
                let (a, b) = config.links[sim.gen_index(links)];
                sim.cut(a, b);
            }
            if sim.gen_bool(f.heal) {
                sim.heal_all();
            }
            if sim.gen_bool(f.link_restart) {
                let (a, b) = config.links[sim.gen_index(links)];
                sim.restart_link(a, b);
            }
        }
        if n > 0 && sim.gen_bool(f.node_restart) {
            let node = sim.gen_index(n);
            sim.restart_node(node);
        }
        if f.restore && n > 0 {
            if round == config.rounds / 4 {
                let node = sim.gen_index(n);
                sim.snapshot(node);
                restored = Some(node);
            }
            if round == config.rounds * 3 / 4 {
                if let Some(node) = restored.take() {
                    sim.restore(node);
                }
            }
        }
        sim.run_steps(config.steps_per_round);
    }
    sim.heal_all();
    sim.settle(config.settle_steps);
    sim.finish()
}
