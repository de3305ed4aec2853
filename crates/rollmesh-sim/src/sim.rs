//! The harness: nodes, the connections between them (a pair of real sessions each), the virtual network
//! and clock, the node's driver (credential checks and applies that take their time), and the trace.
//!
//! A step advances the clock by `step_ms`, then delivers the messages that are due (in random order),
//! finishes the credential checks and applies that are due, tears down closed connections and dials
//! again, and ticks every session.

use std::collections::{BTreeMap, BTreeSet};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rollmesh_sync::{Effect, Msg, Record, RecordKind, Session, SyncError};

use crate::node::{covers, mix, Change, SimNode, Snapshot, View};
use crate::{Config, Outcome, Stats, Transport};

/// A message on the wire.
#[derive(Debug)]
struct InFlight {
    at: u64,
    /// Order of sending (a stream delivers each direction in this order).
    seq: u64,
    from: usize,
    to: usize,
    conn: u64,
    msg: Msg,
}

/// A batch the node's driver is applying: prepared (checked) at `prepared_at`, then written at `at`.
#[derive(Debug)]
struct Applying {
    prepared_at: Option<u64>,
    at: u64,
    me: usize,
    peer: usize,
    conn: u64,
    records: Vec<Record>,
    index: u64,
    upto: u64,
}

/// A credential the node's driver is checking.
#[derive(Debug)]
struct AuthCheck {
    at: u64,
    me: usize,
    peer: usize,
    conn: u64,
    chain: Vec<u8>,
}

/// One side of a connection.
#[derive(Debug)]
struct Slot {
    session: Session,
    conn: u64,
}

/// A link's connection.
#[derive(Debug, Default)]
struct Conn {
    /// Which connection this is (messages of an older one are gone with it).
    gen: u64,
    up: bool,
    /// Per direction (0: from the lower node): the sender's `Auth` was sent, and delivered. A stream is
    /// ordered, so nothing the sender sends later arrives before its `Auth`.
    auth_sent: [bool; 2],
    auth_delivered: [bool; 2],
    /// Per direction, when the last message sent arrives (a stream delivers in order).
    last_at: [u64; 2],
    /// A session closed: the connection goes down at this time.
    closing_at: Option<u64>,
    /// Down: dial again at this time.
    redial_at: Option<u64>,
    /// This node runs no session on the link: the test speaks for it with [`Sim::inject`].
    impostor: Option<usize>,
}

/// The trace: lines, and a running hash of them.
#[derive(Debug)]
struct Trace {
    keep: bool,
    lines: Vec<String>,
    hash: u64,
    len: u64,
}

impl Trace {
    fn push(&mut self, now: u64, line: String) {
        let line = format!("{now:>8} {line}");
        let mut h = self.hash ^ 0xcbf2_9ce4_8422_2325;
        for b in line.as_bytes() {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.hash = mix(h);
        self.len += 1;
        if self.keep {
            self.lines.push(line);
        }
    }
}

fn link(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

fn dir(from: usize, to: usize) -> usize {
    usize::from(from > to)
}

fn short(x: u64) -> String {
    format!("{:04x}", x & 0xffff)
}

fn digest(bytes: &[u8]) -> String {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in bytes {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    short(mix(h))
}

/// The change ids in a list of records (a record that is no change, or does not decode, shows as `?`).
fn record_ids(records: &[Record]) -> String {
    let ids: Vec<String> = records
        .iter()
        .map(|r| match (r.kind, Change::decode(&r.body)) {
            (RecordKind::Change, Ok(c)) => c.id.to_string(),
            _ => "?".to_owned(),
        })
        .collect();
    ids.join(",")
}

fn describe(m: &Msg) -> String {
    match m {
        Msg::Auth { chain, revocations } => format!(
            "Auth({}, {} revocations)",
            String::from_utf8_lossy(chain),
            revocations.len()
        ),
        Msg::Pull { index, from } => format!("Pull(ix {}, from {from})", short(*index)),
        Msg::Batch {
            index,
            from,
            upto,
            head,
            records,
        } => format!(
            "Batch(ix {}, ({from}, {upto}], head {head}, [{}])",
            short(*index),
            record_ids(records)
        ),
        Msg::Reset { index, head } => format!("Reset(ix {}, head {head})", short(*index)),
        Msg::Recon { payload } => format!("Recon({} bytes, {})", payload.len(), digest(payload)),
        Msg::ReconReply { payload } => {
            format!("ReconReply({} bytes, {})", payload.len(), digest(payload))
        }
        Msg::Want { ids, gone } => format!(
            "Want({} ids, {} gone, {})",
            ids.len(),
            gone.len(),
            digest(&ids.iter().flatten().copied().collect::<Vec<u8>>())
        ),
        Msg::Bye { reason } => format!("Bye({reason})"),
    }
}

/// The simulation. Nodes are named by their index in [`Config::nodes`]; a method given an index out of
/// range panics (a mistake of the test, not of the protocol).
pub struct Sim {
    seed: u64,
    cfg: Config,
    rng: ChaCha8Rng,
    now: u64,
    nodes: Vec<SimNode>,
    /// The nodes' scopes, apart, so a session can read its node's store for a peer.
    scopes: Vec<String>,
    conns: BTreeMap<(usize, usize), Conn>,
    next_conn: u64,
    /// `sessions[(a, b)]` is `a`'s session with `b`.
    sessions: BTreeMap<(usize, usize), Slot>,
    net: Vec<InFlight>,
    next_seq: u64,
    applies: Vec<Applying>,
    checks: Vec<AuthCheck>,
    cut: BTreeSet<(usize, usize)>,
    snapshots: BTreeMap<usize, Snapshot>,
    trace: Trace,
    violations: Vec<String>,
    errors: Vec<String>,
    stats: Stats,
    next_doc: u64,
    next_change: u64,
    /// Every change made: its unit.
    created: BTreeMap<u64, String>,
    /// Changes a restore took from a node.
    lost_to_restore: BTreeSet<u64>,
}

impl Sim {
    /// A simulation of `config` from `seed`, with every link dialled at time 0.
    pub fn new(seed: u64, config: Config) -> Sim {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let nodes: Vec<SimNode> = config
            .nodes
            .iter()
            .map(|s| SimNode::new(s.name.clone(), s.scope.clone(), rng.gen()))
            .collect();
        let scopes = nodes.iter().map(|n| n.scope.clone()).collect();
        let links = config.links.clone();
        let mut sim = Sim {
            seed,
            trace: Trace {
                keep: config.keep_trace,
                lines: Vec::new(),
                hash: seed,
                len: 0,
            },
            cfg: config,
            rng,
            now: 0,
            nodes,
            scopes,
            conns: BTreeMap::new(),
            next_conn: 0,
            sessions: BTreeMap::new(),
            net: Vec::new(),
            next_seq: 0,
            applies: Vec::new(),
            checks: Vec::new(),
            cut: BTreeSet::new(),
            snapshots: BTreeMap::new(),
            violations: Vec::new(),
            errors: Vec::new(),
            stats: Stats::default(),
            next_doc: 0,
            next_change: 0,
            created: BTreeMap::new(),
            lost_to_restore: BTreeSet::new(),
        };
        for (a, b) in links {
            if a != b && a < sim.nodes.len() && b < sim.nodes.len() {
                sim.connect(a, b);
            }
        }
        sim
    }

    // ---- randomness (for scenarios) ----

    /// A uniform number in `lo..=hi`.
    pub fn gen_range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        self.rng.gen_range(lo..=hi)
    }

    /// A uniform index below `n` (0 if `n` is 0).
    pub fn gen_index(&mut self, n: usize) -> usize {
        if n <= 1 {
            return 0;
        }
        self.rng.gen_range(0..n)
    }

    /// True with probability `p` (clamped to `[0, 1]`).
    pub fn gen_bool(&mut self, p: f64) -> bool {
        let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
        self.rng.gen_bool(p)
    }

    // ---- inspection ----

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The virtual time.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// A node's store.
    pub fn node(&self, n: usize) -> &SimNode {
        &self.nodes[n]
    }

    /// The counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Zeroes the counters.
    pub fn reset_stats(&mut self) {
        self.stats = Stats::default();
    }

    /// The trace so far (empty unless kept).
    pub fn trace(&self) -> &[String] {
        &self.trace.lines
    }

    /// The violations so far.
    pub fn violations(&self) -> &[String] {
        &self.violations
    }

    /// True when `a` has a session with `b`.
    pub fn has_session(&self, a: usize, b: usize) -> bool {
        self.sessions.contains_key(&(a, b))
    }

    /// True when `a`'s session with `b` is authenticated both ways and syncing.
    pub fn is_running(&self, a: usize, b: usize) -> bool {
        self.sessions
            .get(&(a, b))
            .is_some_and(|s| s.session.is_running())
    }

    /// True when every node holds exactly the changes of its scope that exist anywhere.
    pub fn converged(&self) -> bool {
        self.missing().is_empty()
    }

    /// By node, the changes of its scope that exist somewhere and it lacks (nodes lacking none left out).
    pub fn missing(&self) -> BTreeMap<usize, Vec<u64>> {
        let all = self.all_changes();
        let mut out = BTreeMap::new();
        for (i, n) in self.nodes.iter().enumerate() {
            let lacks: Vec<u64> = all
                .iter()
                .filter(|(id, unit)| covers(&n.scope, unit) && !n.holds(**id))
                .map(|(id, _)| *id)
                .collect();
            if !lacks.is_empty() {
                out.insert(i, lacks);
            }
        }
        out
    }

    /// True when nothing is in flight: no message, apply, credential check or connection change.
    pub fn quiet(&self) -> bool {
        self.net.is_empty()
            && self.applies.is_empty()
            && self.checks.is_empty()
            && self
                .conns
                .values()
                .all(|c| c.closing_at.is_none() && c.redial_at.is_none())
    }

    fn all_changes(&self) -> BTreeMap<u64, String> {
        let mut all = BTreeMap::new();
        for n in &self.nodes {
            for (id, unit) in n.changes() {
                all.entry(id).or_insert_with(|| unit.to_owned());
            }
        }
        all
    }

    fn event(&mut self, line: String) {
        self.trace.push(self.now, line);
    }

    fn violation(&mut self, what: String) {
        self.event(format!("VIOLATION {what}"));
        self.violations
            .push(format!("t={} seed={}: {what}", self.now, self.seed));
    }

    // ---- edits ----

    /// Node `node` creates a document in `unit` (which its scope must cover) with one change.
    pub fn new_doc(&mut self, node: usize, unit: &str) -> Option<[u8; 16]> {
        if !covers(&self.nodes[node].scope, unit) {
            return None;
        }
        self.next_doc += 1;
        let mut doc = [0u8; 16];
        doc[..8].copy_from_slice(&self.next_doc.to_be_bytes());
        doc[8..12].copy_from_slice(&(node as u32).to_be_bytes());
        self.write_change(node, doc, unit.to_owned());
        Some(doc)
    }

    /// Node `node` changes a document it holds; false if it holds no such document.
    pub fn change(&mut self, node: usize, doc: [u8; 16]) -> bool {
        let Some(unit) = self.nodes[node]
            .docs()
            .find(|(d, _)| **d == doc)
            .map(|(_, u)| u.to_owned())
        else {
            return false;
        };
        self.write_change(node, doc, unit);
        true
    }

    /// Node `node` changes a random document it holds, or creates one in a random unit of its scope.
    pub fn random_edit(&mut self, node: usize) {
        let docs: Vec<[u8; 16]> = self.nodes[node].docs().map(|(d, _)| *d).collect();
        if docs.is_empty() || self.gen_bool(0.4) {
            let scope = self.nodes[node].scope.clone();
            let units: Vec<String> = self
                .cfg
                .units
                .iter()
                .filter(|u| covers(&scope, u))
                .cloned()
                .collect();
            let unit = if units.is_empty() {
                scope
            } else {
                units[self.gen_index(units.len())].clone()
            };
            self.new_doc(node, &unit);
        } else {
            let doc = docs[self.gen_index(docs.len())];
            self.change(node, doc);
        }
    }

    fn write_change(&mut self, node: usize, doc: [u8; 16], unit: String) {
        self.next_change += 1;
        let change = Change {
            doc,
            unit: unit.clone(),
            id: self.next_change,
        };
        self.stats.edits += 1;
        self.created.insert(change.id, unit.clone());
        self.event(format!(
            "edit n{node} doc {} unit {unit} change {}",
            short(u64::from_be_bytes([
                doc[0], doc[1], doc[2], doc[3], doc[4], doc[5], doc[6], doc[7]
            ])),
            change.id
        ));
        if self.nodes[node].add(change) {
            self.local_head(node);
        }
    }

    // ---- faults ----

    /// Cuts the link between `a` and `b`: every message on it is lost until it heals.
    pub fn cut(&mut self, a: usize, b: usize) {
        if self.cut.insert(link(a, b)) {
            self.stats.cuts += 1;
            self.event(format!("cut n{a}-n{b}"));
        }
    }

    /// Heals the link between `a` and `b`.
    pub fn heal(&mut self, a: usize, b: usize) {
        if self.cut.remove(&link(a, b)) {
            self.event(format!("heal n{a}-n{b}"));
        }
    }

    /// Heals every link.
    pub fn heal_all(&mut self) {
        let cut: Vec<(usize, usize)> = self.cut.iter().copied().collect();
        for (a, b) in cut {
            self.heal(a, b);
        }
    }

    /// Drops the connection between `a` and `b` and dials again at once: new sessions, from the durable
    /// checkpoints.
    pub fn restart_link(&mut self, a: usize, b: usize) {
        if !self.conns.contains_key(&link(a, b)) {
            return;
        }
        self.stats.link_restarts += 1;
        self.event(format!("restart link n{a}-n{b}"));
        self.teardown(link(a, b));
        self.connect(a, b);
    }

    /// Restarts a node: its connections drop (and are dialled again), its credential checks and applies
    /// in progress are lost; its store and checkpoints stay.
    pub fn restart_node(&mut self, node: usize) {
        self.stats.node_restarts += 1;
        self.event(format!("restart node n{node}"));
        self.applies.retain(|a| a.me != node);
        self.checks.retain(|c| c.me != node);
        let links: Vec<(usize, usize)> = self
            .conns
            .iter()
            .filter(|((a, b), c)| (*a == node || *b == node) && c.impostor.is_none())
            .map(|(l, _)| *l)
            .collect();
        for (a, b) in links {
            self.teardown((a, b));
            self.connect(a, b);
        }
    }

    /// Takes a snapshot of a node's store (one per node; a later one replaces it).
    pub fn snapshot(&mut self, node: usize) {
        let snap = self.nodes[node].snapshot();
        self.event(format!("snapshot n{node} at log {}", snap.log_len));
        self.snapshots.insert(node, snap);
    }

    /// Replaces a node's store by its snapshot (under a new index id, unless the faults say the restore
    /// keeps it) and restarts the node. False if it has no snapshot.
    pub fn restore(&mut self, node: usize) -> bool {
        let Some(snap) = self.snapshots.remove(&node) else {
            return false;
        };
        let index = if self.cfg.faults.restore_keeps_index {
            self.nodes[node].index()
        } else {
            self.rng.gen()
        };
        let lost = self.nodes[node].restore(&snap, index);
        self.stats.restores += 1;
        self.event(format!(
            "restore n{node} to log {} ix {} (lost {:?})",
            snap.log_len,
            short(index),
            lost
        ));
        self.lost_to_restore.extend(lost);
        self.restart_node(node);
        true
    }

    // ---- connections ----

    fn connect(&mut self, a: usize, b: usize) {
        self.connect_with(a, b, None);
    }

    /// Sets up a connection on which `impostor` runs no session: what it says is what the test
    /// [`Sim::inject`]s. The other side runs a real session (and sends its `Auth`). Not dialled again.
    pub fn connect_impostor(&mut self, honest: usize, impostor: usize) {
        let l = link(honest, impostor);
        if self.conns.get(&l).is_some_and(|c| c.up) {
            self.teardown(l);
        }
        self.connect_with(honest, impostor, Some(impostor));
    }

    fn connect_with(&mut self, a: usize, b: usize, impostor: Option<usize>) {
        let l = link(a, b);
        self.next_conn += 1;
        let gen = self.next_conn;
        self.net.retain(|m| link(m.from, m.to) != l);
        self.conns.insert(
            l,
            Conn {
                gen,
                up: true,
                impostor,
                ..Conn::default()
            },
        );
        self.stats.connects += 1;
        self.event(format!("connect n{a}-n{b} c{gen}"));
        for (x, y) in [(a, b), (b, a)] {
            if impostor == Some(x) {
                continue;
            }
            let auth = Msg::Auth {
                chain: self.nodes[x].name.as_bytes().to_vec(),
                revocations: Vec::new(),
            };
            let (session, out) = Session::start(self.now, self.cfg.session, auth);
            self.sessions.insert((x, y), Slot { session, conn: gen });
            self.effects(x, y, gen, out);
        }
    }

    /// A session closed: the connection goes down a little later (what was sent before may arrive).
    fn closing(&mut self, a: usize, b: usize) {
        let at = self.now + 2 * self.cfg.faults.max_delay_ms.max(1) + self.cfg.step_ms;
        if let Some(c) = self.conns.get_mut(&link(a, b)) {
            if c.up {
                c.closing_at = Some(c.closing_at.map_or(at, |t| t.min(at)));
            }
        }
    }

    fn teardown(&mut self, l: (usize, usize)) {
        let Some(c) = self.conns.get_mut(&l) else {
            return;
        };
        let gen = c.gen;
        let was_up = c.up;
        c.up = false;
        c.closing_at = None;
        c.redial_at = match (c.impostor, self.cfg.redial_ms) {
            (None, Some(d)) => Some(self.now + d),
            _ => None,
        };
        self.sessions.remove(&(l.0, l.1));
        self.sessions.remove(&(l.1, l.0));
        self.net.retain(|m| m.conn != gen);
        self.checks.retain(|c| c.conn != gen);
        if was_up {
            self.event(format!("down n{}-n{} c{gen}", l.0, l.1));
        }
    }

    fn connections(&mut self) {
        let now = self.now;
        let links: Vec<(usize, usize)> = self.conns.keys().copied().collect();
        for l in links {
            let (closing, redial) = match self.conns.get(&l) {
                Some(c) => (
                    c.up && c.closing_at.is_some_and(|t| t <= now),
                    !c.up && c.redial_at.is_some_and(|t| t <= now),
                ),
                None => continue,
            };
            if closing {
                self.teardown(l);
            } else if redial {
                self.connect(l.0, l.1);
            }
        }
    }

    // ---- the network ----

    /// Sends a message from `from` to `to` on their current connection as if `from`'s session had (for an
    /// impostor, or a test of the session's guard).
    pub fn inject(&mut self, from: usize, to: usize, msg: Msg) {
        self.event(format!("inject n{from}>n{to}"));
        self.send(from, to, msg);
    }

    fn send(&mut self, from: usize, to: usize, msg: Msg) {
        self.stats.sent += 1;
        self.event(format!("send n{from}>n{to} {}", describe(&msg)));
        let l = link(from, to);
        let d = dir(from, to);
        let Some(c) = self.conns.get_mut(&l) else {
            return;
        };
        if !c.up {
            return;
        }
        let gen = c.gen;
        if matches!(msg, Msg::Auth { .. }) {
            c.auth_sent[d] = true;
        }
        let f = &self.cfg.faults;
        let (transport, loss, dup, max_delay) = (f.transport, f.loss, f.dup, f.max_delay_ms.max(1));
        if self.cut.contains(&l) || self.gen_bool(loss) {
            self.stats.lost += 1;
            self.event(format!("lost n{from}>n{to} {}", Msg::name(&msg)));
            if transport == Transport::Stream {
                // A stream that loses data is a broken connection.
                self.stats.broken += 1;
                self.event(format!("broken n{}-n{} c{gen}", l.0, l.1));
                self.teardown(l);
            }
            return;
        }
        let copies = if transport == Transport::Datagram && self.gen_bool(dup) {
            self.stats.duplicated += 1;
            self.event(format!("duplicated n{from}>n{to} {}", Msg::name(&msg)));
            2
        } else {
            1
        };
        for _ in 0..copies {
            let mut at = self.now + self.rng.gen_range(1..=max_delay);
            if transport == Transport::Stream {
                if let Some(c) = self.conns.get_mut(&l) {
                    at = at.max(c.last_at[d]);
                    c.last_at[d] = at;
                }
            }
            self.next_seq += 1;
            self.net.push(InFlight {
                at,
                seq: self.next_seq,
                from,
                to,
                conn: gen,
                msg: msg.clone(),
            });
        }
    }

    fn deliver(&mut self) {
        let now = self.now;
        let (mut due, rest): (Vec<InFlight>, Vec<InFlight>) =
            self.net.drain(..).partition(|m| m.at <= now);
        self.net = rest;
        // Messages due in the same step arrive in random order; on a stream, each direction of a
        // connection still in the order sent.
        for i in (1..due.len()).rev() {
            let j = self.rng.gen_range(0..=i);
            due.swap(i, j);
        }
        if self.cfg.faults.transport == Transport::Stream {
            let mut slots: BTreeMap<(u64, usize), Vec<usize>> = BTreeMap::new();
            for (i, m) in due.iter().enumerate() {
                slots.entry((m.conn, m.from)).or_default().push(i);
            }
            let mut taken: Vec<Option<InFlight>> = due.into_iter().map(Some).collect();
            let mut ordered: Vec<Option<InFlight>> = (0..taken.len()).map(|_| None).collect();
            for positions in slots.values() {
                let mut ms: Vec<InFlight> =
                    positions.iter().filter_map(|i| taken[*i].take()).collect();
                ms.sort_by_key(|m| m.seq);
                for (i, m) in positions.iter().zip(ms) {
                    ordered[*i] = Some(m);
                }
            }
            due = ordered.into_iter().flatten().collect();
        }
        for m in due {
            self.deliver_one(m);
        }
    }

    fn deliver_one(&mut self, mut m: InFlight) {
        let l = link(m.from, m.to);
        let d = dir(m.from, m.to);
        let Some(c) = self.conns.get_mut(&l) else {
            return;
        };
        if !c.up || c.gen != m.conn {
            return;
        }
        if matches!(m.msg, Msg::Auth { .. }) {
            c.auth_delivered[d] = true;
        } else if c.auth_sent[d] && !c.auth_delivered[d] {
            // Behind the sender's Auth on the stream: it waits for it.
            m.at = self.now;
            self.net.push(m);
            return;
        }
        let k = Msg::name(&m.msg);
        *self.stats.delivered.entry(k).or_default() += 1;
        *self.stats.delivered_to.entry((k, m.to)).or_default() += 1;
        self.event(format!(
            "deliver n{}>n{} c{} {}",
            m.from,
            m.to,
            m.conn,
            describe(&m.msg)
        ));
        if let Msg::Batch { records, .. } = &m.msg {
            self.check_scope(m.to, m.from, records, "received");
        }
        let (me, peer) = (m.to, m.from);
        if !self.sessions.contains_key(&(me, peer)) {
            return;
        }
        let msg = m.msg;
        self.call(me, peer, None, |s, log, now| s.on_msg(now, msg, log));
    }

    /// Checks that every change record delivered to `to` is inside its scope.
    fn check_scope(&mut self, to: usize, from: usize, records: &[Record], what: &str) {
        let mut n = 0;
        for r in records {
            if r.kind != RecordKind::Change {
                continue;
            }
            n += 1;
            match Change::decode(&r.body) {
                Ok(c) if covers(&self.scopes[to], &c.unit) => {}
                Ok(c) => self.violation(format!(
                    "n{to} (scope {}) {what} change {} of unit {} from n{from}",
                    self.scopes[to], c.id, c.unit
                )),
                Err(e) => self.violation(format!("n{to} {what} an undecodable record: {e}")),
            }
        }
        if what == "received" {
            *self.stats.records_delivered.entry(to).or_default() += n;
        }
    }

    // ---- the driver ----

    /// Runs `f` on `me`'s session with `peer` (if it exists, and belongs to connection `conn` when given)
    /// over `me`'s store seen for `peer`, then runs the effects.
    fn call<F>(&mut self, me: usize, peer: usize, conn: Option<u64>, f: F)
    where
        F: FnOnce(&mut Session, &mut View<'_>, u64) -> Result<Vec<Effect>, SyncError>,
    {
        let now = self.now;
        let Some(slot) = self.sessions.get_mut(&(me, peer)) else {
            return;
        };
        if conn.is_some_and(|c| c != slot.conn) {
            return;
        }
        let conn = slot.conn;
        let before = self.nodes[me].index();
        let mut view = View::new(
            &mut self.nodes[me],
            &self.scopes[peer],
            self.cfg.leaky_scope,
        );
        let result = f(&mut slot.session, &mut view, now);
        let after = self.nodes[me].index();
        if after != before {
            self.event(format!(
                "n{me} takes a new log index {} (for n{peer})",
                short(after)
            ));
        }
        match result {
            Ok(out) => self.effects(me, peer, conn, out),
            Err(e) => {
                self.event(format!("n{me}/n{peer} session error: {e}"));
                self.errors
                    .push(format!("t={} n{me}/n{peer}: {e}", self.now));
                self.sessions.remove(&(me, peer));
                self.closing(me, peer);
            }
        }
    }

    /// Runs the effects of `me`'s session with `peer` on connection `conn`. The driver goes on with them
    /// even if the connection breaks on the way (a send into a broken stream is lost).
    fn effects(&mut self, me: usize, peer: usize, conn: u64, out: Vec<Effect>) {
        for e in out {
            match e {
                Effect::Send(m) => self.send(me, peer, m),
                Effect::Authenticate { chain, revocations } => {
                    self.event(format!(
                        "n{me}/n{peer} authenticate {} ({} revocations)",
                        String::from_utf8_lossy(&chain),
                        revocations.len()
                    ));
                    let at = self.now + self.gen_range(0, self.cfg.faults.max_auth_ms);
                    self.checks.push(AuthCheck {
                        at,
                        me,
                        peer,
                        conn,
                        chain,
                    });
                }
                Effect::Apply {
                    records,
                    index,
                    upto,
                } => {
                    self.event(format!(
                        "n{me}/n{peer} apply ix {} upto {upto} [{}]",
                        short(index),
                        record_ids(&records)
                    ));
                    let f = &self.cfg.faults;
                    let (max_prepare, max_write) = (f.max_prepare_ms, f.max_write_ms);
                    let prepare = self.gen_range(0, max_prepare);
                    let write = self.gen_range(0, max_write);
                    // Writes happen in the order the batches were handed out.
                    let after = self
                        .applies
                        .iter()
                        .filter(|a| (a.me, a.peer) == (me, peer))
                        .map(|a| a.at)
                        .max()
                        .unwrap_or(0);
                    self.applies.push(Applying {
                        prepared_at: Some(self.now + prepare),
                        at: (self.now + prepare + write).max(after),
                        me,
                        peer,
                        conn,
                        records,
                        index,
                        upto,
                    });
                }
                Effect::Close { reason } => {
                    self.event(format!("n{me}/n{peer} close: {reason}"));
                    *self.stats.closes.entry(reason).or_default() += 1;
                    if self
                        .sessions
                        .get(&(me, peer))
                        .is_some_and(|s| s.conn == conn)
                    {
                        self.sessions.remove(&(me, peer));
                        self.closing(me, peer);
                    }
                }
            }
        }
    }

    fn finish_checks(&mut self) {
        let now = self.now;
        let (due, rest): (Vec<AuthCheck>, Vec<AuthCheck>) =
            self.checks.drain(..).partition(|c| c.at <= now);
        self.checks = rest;
        for c in due {
            let expected = self.nodes[c.peer].name.as_bytes();
            let verdict = if c.chain != expected {
                Err("refused: key_mismatch (credential of another node)")
            } else if self.cfg.refusals.contains(&(c.me, c.peer)) {
                Err("refused: revoked (the simulation refuses this peer)")
            } else {
                Ok(())
            };
            match verdict {
                Ok(()) => {
                    let checkpoint = self.nodes[c.me].checkpoint(c.peer);
                    self.event(format!(
                        "n{}/n{} accept, checkpoint (ix {}, {})",
                        c.me,
                        c.peer,
                        short(checkpoint.0),
                        checkpoint.1
                    ));
                    self.call(c.me, c.peer, Some(c.conn), |s, log, now| {
                        s.accept_peer(now, checkpoint, log)
                    });
                }
                Err(reason) => {
                    self.event(format!("n{}/n{} refuse", c.me, c.peer));
                    self.call(c.me, c.peer, Some(c.conn), |s, _, _| {
                        Ok(s.refuse_peer(reason))
                    });
                }
            }
        }
    }

    fn finish_applies(&mut self) {
        let now = self.now;
        for i in 0..self.applies.len() {
            let Some(a) = self.applies.get_mut(i) else {
                break;
            };
            if a.prepared_at.is_some_and(|t| t <= now) {
                a.prepared_at = None;
                let (me, peer, conn, upto) = (a.me, a.peer, a.conn, a.upto);
                self.event(format!("n{me}/n{peer} prepared upto {upto}"));
                self.call(me, peer, Some(conn), |s, _, now| Ok(s.prepared(now)));
            }
        }
        // In the order they were handed out (equal times keep their order).
        let (due, rest): (Vec<Applying>, Vec<Applying>) = self
            .applies
            .drain(..)
            .partition(|a| a.at <= now && a.prepared_at.is_none());
        self.applies = rest;
        for a in due {
            self.check_scope(a.me, a.peer, &a.records, "was handed to apply");
            let mut grew = 0;
            for r in &a.records {
                if r.kind != RecordKind::Change {
                    continue;
                }
                let Ok(c) = Change::decode(&r.body) else {
                    continue;
                };
                if self.nodes[a.me].add(c) {
                    grew += 1;
                }
            }
            self.stats.changes_applied += grew;
            self.nodes[a.me].set_checkpoint(a.peer, (a.index, a.upto));
            self.event(format!(
                "n{}/n{} written ix {} upto {} ({grew} new)",
                a.me,
                a.peer,
                short(a.index),
                a.upto
            ));
            let (index, upto) = (a.index, a.upto);
            self.call(a.me, a.peer, Some(a.conn), |s, _, now| {
                Ok(s.applied(now, index, upto))
            });
            if grew > 0 {
                self.local_head(a.me);
            }
        }
    }

    fn local_head(&mut self, me: usize) {
        let peers: Vec<usize> = self
            .sessions
            .keys()
            .filter(|(a, _)| *a == me)
            .map(|(_, b)| *b)
            .collect();
        for p in peers {
            self.call(me, p, None, |s, log, now| s.on_local_head(now, log));
        }
    }

    fn tick(&mut self) {
        let keys: Vec<(usize, usize)> = self.sessions.keys().copied().collect();
        for (a, b) in keys {
            self.call(a, b, None, |s, log, now| s.on_tick(now, log));
        }
    }

    // ---- running ----

    /// One step of `step_ms`.
    pub fn step(&mut self) {
        self.now += self.cfg.step_ms.max(1);
        self.stats.steps += 1;
        self.deliver();
        self.finish_checks();
        self.finish_applies();
        self.connections();
        self.tick();
    }

    /// `n` steps.
    pub fn run_steps(&mut self, n: u32) {
        for _ in 0..n {
            self.step();
        }
    }

    /// Steps until converged and quiet, at most `max` steps; returns whether it got there.
    pub fn settle(&mut self, max: u32) -> bool {
        for _ in 0..max {
            // Convergence is only looked at once the network is quiet: it is the dearer check.
            if self.quiet() && self.converged() {
                return true;
            }
            self.step();
        }
        self.quiet() && self.converged()
    }

    /// Ends the run: checks that no change was lost except to a restore, and sums up.
    pub fn finish(mut self) -> Outcome {
        let all = self.all_changes();
        let missing: Vec<u64> = self
            .created
            .keys()
            .filter(|id| !all.contains_key(id) && !self.lost_to_restore.contains(id))
            .copied()
            .collect();
        if !missing.is_empty() {
            self.violation(format!("changes lost: {missing:?}"));
        }
        let missing = self.missing();
        let converged = missing.is_empty();
        let quiet = self.quiet();
        self.event(format!("end converged={converged} quiet={quiet}"));
        Outcome {
            seed: self.seed,
            trace_hash: self.trace.hash,
            trace_len: self.trace.len,
            trace: std::mem::take(&mut self.trace.lines),
            converged,
            quiet,
            missing,
            sessions: self
                .sessions
                .iter()
                .map(|((a, b), s)| format!("n{a}/n{b} c{}: {:?}", s.conn, s.session))
                .collect(),
            holdings: self.nodes.iter().map(|n| n.held().len()).collect(),
            violations: std::mem::take(&mut self.violations),
            errors: std::mem::take(&mut self.errors),
            stats: std::mem::take(&mut self.stats),
            now: self.now,
        }
    }
}
