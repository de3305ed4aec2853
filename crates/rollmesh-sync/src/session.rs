//! One sync session between this node and a peer: the handshake of credentials, the puller of the peer's
//! log, the server of ours, and the reconciliation fallback.

use std::collections::VecDeque;

use crate::recon::{self, ClientStep};
use crate::{Msg, Record};

/// A document id (a member's id; other document kinds use the same 16 bytes).
pub type DocId = [u8; 16];
/// The hash of a document's state (its Automerge heads), what reconciliation compares.
pub type StateHash = [u8; 32];

/// What a log read returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogBatch {
    /// Records for the peer (already filtered to its scope).
    pub records: Vec<Record>,
    /// The last sequence number examined.
    pub upto: u64,
}

/// The log (the store behind it) failed; the session ends, and nothing is taken as "empty".
#[derive(Debug, thiserror::Error)]
#[error("log: {0}")]
pub struct LogError(pub String);

/// This node's log, as the session sees it for one peer. Every method sees only what that peer may see.
pub trait Log {
    /// The log's index id.
    fn index(&self) -> u64;
    /// The last sequence number in the log.
    fn head(&self) -> u64;
    /// Entries after `from` that the peer may see, at most `max` of them.
    fn read(&mut self, from: u64, max: usize) -> Result<LogBatch, LogError>;
    /// Gives the log a new index id (it was rolled back: a peer is ahead of it) and returns it.
    fn rotate_index(&mut self) -> Result<u64, LogError> {
        Ok(self.index())
    }
    /// Our documents inside the peer's scope, by state hash.
    fn states(&mut self) -> Result<Vec<(StateHash, DocId)>, LogError>;
    /// The full histories of these documents (with what the peer needs to check them), leaving out any
    /// document outside the peer's scope.
    fn histories(&mut self, docs: &[DocId]) -> Result<Vec<Record>, LogError>;
    /// For those of these documents that are no longer inside the peer's scope: the log entries about
    /// them up to `upto` that the peer may see (ending with the one that took each out of its scope).
    fn departures(&mut self, docs: &[DocId], upto: u64) -> Result<Vec<Record>, LogError>;
}

/// Why a session ended on our side.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Our log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// Reconciliation failed (a malformed message from the peer).
    #[error(transparent)]
    Recon(#[from] recon::ReconError),
}

/// What the driver must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Send a message to the peer.
    Send(Msg),
    /// Check the peer's credential chain against the TLS key and the root (recording its revocations
    /// first), then call [`Session::accept_peer`] or [`Session::refuse_peer`].
    Authenticate {
        /// The encoded chain it presented.
        chain: Vec<u8>,
        /// The encoded revocations it holds.
        revocations: Vec<Vec<u8>>,
    },
    /// Verify and apply these records durably, then record the checkpoint `(index, upto)` for the peer
    /// and call [`Session::applied`]. A driver that calls [`Session::prepared`] once the records are
    /// checked may be handed the next batch before this one is written; it writes them in order.
    Apply {
        /// The records.
        records: Vec<Record>,
        /// The peer's log index id.
        index: u64,
        /// The checkpoint to record once applied.
        upto: u64,
    },
    /// End the connection (after sending what came before), for this reason.
    Close {
        /// Why.
        reason: String,
    },
}

/// Timing and sizes of a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// Largest number of log entries examined per batch.
    pub batch_max: usize,
    /// How long to wait for an answer before asking again.
    pub retry_ms: u64,
    /// How long the peer has to present its credential.
    pub auth_timeout_ms: u64,
    /// How many messages may arrive while the peer's credential is being checked.
    pub max_early: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            batch_max: 2048,
            retry_ms: 2_000,
            auth_timeout_ms: 10_000,
            max_early: 64,
        }
    }
}

/// Counters for `status` and measurements.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Messages sent.
    pub msgs_sent: u64,
    /// Messages received.
    pub msgs_received: u64,
    /// Change records sent.
    pub changes_sent: u64,
    /// Change records received.
    pub changes_received: u64,
}

/// A batch received ahead: its `from`, `upto` and records.
type Prefetched = (u64, u64, Vec<Record>);

/// Where the session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Our `Auth` is sent; the peer's has not arrived.
    Hello,
    /// The peer's `Auth` is with the driver to check.
    Checking,
    /// Authenticated both ways: syncing.
    Running,
    /// Ended; nothing more is sent or taken.
    Closed,
}

/// The per-connection state.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    phase: Phase,
    started_at: u64,
    /// Messages that arrived while the peer's credential was being checked, handled once it is accepted.
    early: VecDeque<Msg>,
    // Pulling the peer's log.
    peer_index: u64,
    have: u64,
    /// Batches handed to the driver and not yet applied, oldest first: their checkpoint, and whether the
    /// driver has prepared them (at most two: one being written while the next is prepared).
    applying: VecDeque<(u64, bool)>,
    /// The batch that follows the last one in flight, when it arrived before it could be handed out.
    prefetched: Option<Prefetched>,
    pull_sent_at: Option<u64>,
    peer_head: u64,
    /// Reconciliation as the puller, while it runs.
    recon_client: Option<recon::Client>,
    /// Our `Want` is sent and its batch not yet here.
    awaiting_want: bool,
    // Serving our log.
    acked: u64,
    inflight: Option<(u64, u64, u64)>,
    subscribed: bool,
    /// Reconciliation as the served side, from the peer's first `Recon` until its `Want`.
    recon_server: Option<recon::Server>,
    /// Counters.
    pub stats: SessionStats,
}

impl Session {
    /// Starts a session by presenting our credential (`auth` is our `Msg::Auth`).
    pub fn start(now: u64, config: SessionConfig, auth: Msg) -> (Session, Vec<Effect>) {
        let mut s = Session {
            config: SessionConfig {
                batch_max: config.batch_max.max(1),
                ..config
            },
            phase: Phase::Hello,
            started_at: now,
            early: VecDeque::new(),
            peer_index: 0,
            have: 0,
            applying: VecDeque::new(),
            prefetched: None,
            pull_sent_at: None,
            peer_head: 0,
            recon_client: None,
            awaiting_want: false,
            acked: 0,
            inflight: None,
            subscribed: false,
            recon_server: None,
            stats: SessionStats::default(),
        };
        let out = vec![s.send(auth)];
        (s, out)
    }

    /// True once both sides are authenticated and the session syncs.
    pub fn is_running(&self) -> bool {
        self.phase == Phase::Running
    }

    /// True once the session has ended.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Our position in the peer's log.
    pub fn checkpoint(&self) -> (u64, u64) {
        (self.peer_index, self.have)
    }

    /// How far behind the peer's log we know we are.
    pub fn backlog(&self) -> u64 {
        self.peer_head.saturating_sub(self.have)
    }

    fn send(&mut self, m: Msg) -> Effect {
        self.stats.msgs_sent += 1;
        Effect::Send(m)
    }

    /// Ends the session: tells the peer why, and asks the driver to close.
    pub fn close(&mut self, reason: impl Into<String>) -> Vec<Effect> {
        if self.phase == Phase::Closed {
            return Vec::new();
        }
        let reason = reason.into();
        self.phase = Phase::Closed;
        vec![
            self.send(Msg::Bye {
                reason: reason.clone(),
            }),
            Effect::Close { reason },
        ]
    }

    /// The peer's credential checked out: sync from our checkpoint of its log (`(0, 0)` if none). The
    /// messages that arrived meanwhile are handled now.
    pub fn accept_peer(
        &mut self,
        now: u64,
        checkpoint: (u64, u64),
        log: &mut dyn Log,
    ) -> Result<Vec<Effect>, SyncError> {
        if self.phase != Phase::Checking {
            return Ok(Vec::new());
        }
        self.phase = Phase::Running;
        self.peer_index = checkpoint.0;
        self.have = checkpoint.1;
        let mut out = vec![self.pull(now)];
        while let Some(m) = self.early.pop_front() {
            out.extend(self.on_msg(now, m, log)?);
        }
        Ok(out)
    }

    /// The peer's credential was refused, for this reason (sent to it).
    pub fn refuse_peer(&mut self, reason: impl Into<String>) -> Vec<Effect> {
        self.close(reason)
    }

    fn pull(&mut self, now: u64) -> Effect {
        self.pull_sent_at = Some(now);
        let m = Msg::Pull {
            index: self.peer_index,
            from: self.have,
        };
        self.send(m)
    }

    fn serve(&mut self, now: u64, from: u64, log: &mut dyn Log) -> Result<Effect, SyncError> {
        let b = log.read(from, self.config.batch_max)?;
        let head = log.head();
        self.inflight = Some((from, b.upto, now));
        self.stats.changes_sent += b.records.iter().filter(|r| r.is_change()).count() as u64;
        let m = Msg::Batch {
            index: log.index(),
            from,
            upto: b.upto,
            head,
            records: b.records,
        };
        Ok(self.send(m))
    }

    /// Handles a message from the peer.
    pub fn on_msg(
        &mut self,
        now: u64,
        msg: Msg,
        log: &mut dyn Log,
    ) -> Result<Vec<Effect>, SyncError> {
        if self.phase == Phase::Closed {
            return Ok(Vec::new());
        }
        self.stats.msgs_received += 1;
        if let Msg::Bye { reason } = msg {
            let reason = if self.phase == Phase::Running {
                format!("peer closed: {reason}")
            } else {
                format!("peer refused us: {reason}")
            };
            self.phase = Phase::Closed;
            return Ok(vec![Effect::Close { reason }]);
        }
        match self.phase {
            Phase::Hello => Ok(match msg {
                Msg::Auth { chain, revocations } => {
                    self.phase = Phase::Checking;
                    vec![Effect::Authenticate { chain, revocations }]
                }
                _ => self.close("refused: protocol (first message is not Auth)"),
            }),
            Phase::Checking => {
                if self.early.len() >= self.config.max_early {
                    return Ok(
                        self.close("refused: protocol (too many messages before authentication)")
                    );
                }
                self.early.push_back(msg);
                Ok(Vec::new())
            }
            Phase::Running => self.on_running_msg(now, msg, log),
            Phase::Closed => Ok(Vec::new()),
        }
    }

    fn on_running_msg(
        &mut self,
        now: u64,
        msg: Msg,
        log: &mut dyn Log,
    ) -> Result<Vec<Effect>, SyncError> {
        match msg {
            Msg::Pull { index, from } => self.on_pull(now, index, from, log),
            Msg::Reset { index, head } => {
                if !self.applying.is_empty() {
                    return Ok(Vec::new());
                }
                self.peer_index = index;
                self.have = 0;
                self.peer_head = head;
                self.pull_sent_at = None;
                self.reconcile(now, log)
            }
            Msg::Batch {
                index,
                from,
                upto,
                head,
                records,
            } => Ok(self.on_batch(now, index, from, upto, head, records)),
            Msg::Recon { payload } => self.on_recon_query(&payload, log),
            Msg::ReconReply { payload } => self.on_recon_reply(now, &payload),
            Msg::Want { ids, gone } => self.on_want(now, &ids, &gone, log),
            Msg::Auth { .. } | Msg::Bye { .. } => Ok(Vec::new()),
        }
    }

    fn on_pull(
        &mut self,
        now: u64,
        index: u64,
        from: u64,
        log: &mut dyn Log,
    ) -> Result<Vec<Effect>, SyncError> {
        let mut current = log.index();
        if index == current && from > log.head() {
            // The puller has seen more of this log than it holds: it was restored from a backup.
            // Its sequence numbers will be reused, so every checkpoint against it must go.
            current = log.rotate_index()?;
        }
        if index != current {
            // The puller reconciles next, then pulls with our index: nothing is pushed to it before
            // that, or the whole log would be replayed beside the reconciliation.
            self.subscribed = false;
            self.acked = 0;
            self.inflight = None;
            let m = Msg::Reset {
                index: current,
                head: log.head(),
            };
            return Ok(vec![self.send(m)]);
        }
        // Every pull is answered, with an empty batch if there is nothing new: that answer is what tells
        // the puller its acknowledgement arrived, so neither side can wait on the other.
        self.subscribed = true;
        self.acked = from;
        Ok(vec![self.serve(now, from, log)?])
    }

    fn on_batch(
        &mut self,
        now: u64,
        index: u64,
        from: u64,
        upto: u64,
        head: u64,
        records: Vec<Record>,
    ) -> Vec<Effect> {
        if let Some(&(at, _)) = self.applying.back() {
            // The answer to the pull sent ahead while the previous batch is being applied.
            if index == self.peer_index && from == at && upto >= from {
                self.peer_head = head.max(upto);
                self.pull_sent_at = None;
                if !(records.is_empty() && upto == at) {
                    self.prefetched = Some((from, upto, records));
                    return self.release(now);
                }
            }
            return Vec::new();
        }
        if index != self.peer_index && from == 0 {
            // The peer's log is new to us (first contact, or it was restored): take it from the start.
            self.peer_index = index;
            self.have = 0;
        }
        if index != self.peer_index || upto < from {
            return Vec::new();
        }
        if from != self.have {
            if upto <= self.have {
                // A duplicate of something applied: our acknowledgement was probably lost.
                return vec![self.pull(now)];
            }
            // A gap (a lost or reordered batch): ask again from where we are.
            return if self.pull_sent_at.is_none() {
                vec![self.pull(now)]
            } else {
                Vec::new()
            };
        }
        self.peer_head = head.max(upto);
        let after_want = std::mem::take(&mut self.awaiting_want);
        if records.is_empty() && upto == self.have {
            self.pull_sent_at = None;
            if after_want {
                // The peer answered our `Want` with nothing: pull once with its index, which is what
                // subscribes us to its pushes.
                return vec![self.pull(now)];
            }
            // Nothing new: we are caught up and the peer will push.
            return Vec::new();
        }
        self.start_apply(now, index, upto, records)
    }

    /// Our checkpoint is void: reconcile our documents with the peer's, or, holding none it could have,
    /// replay its log from the start.
    fn reconcile(&mut self, now: u64, log: &mut dyn Log) -> Result<Vec<Effect>, SyncError> {
        let states = log.states()?;
        match recon::Client::start(&states)? {
            None => {
                self.recon_client = None;
                self.have = 0;
                Ok(vec![self.pull(now)])
            }
            Some((client, first)) => {
                self.recon_client = Some(client);
                Ok(vec![self.send(Msg::Recon { payload: first })])
            }
        }
    }

    /// The peer's reconciliation asks: answer as the served side.
    fn on_recon_query(
        &mut self,
        payload: &[u8],
        log: &mut dyn Log,
    ) -> Result<Vec<Effect>, SyncError> {
        if self.recon_server.is_none() {
            let head = log.head();
            self.recon_server = Some(recon::Server::start(log.states()?, head)?);
        }
        let Some(server) = self.recon_server.as_mut() else {
            return Ok(Vec::new());
        };
        let reply = server.step(payload)?;
        Ok(vec![self.send(Msg::ReconReply { payload: reply })])
    }

    /// The peer answers our reconciliation; an answer with none running is stale and ignored.
    fn on_recon_reply(&mut self, now: u64, payload: &[u8]) -> Result<Vec<Effect>, SyncError> {
        let Some(client) = self.recon_client.as_mut() else {
            return Ok(Vec::new());
        };
        Ok(match client.step(payload)? {
            ClientStep::Next(next) => vec![self.send(Msg::Recon { payload: next })],
            ClientStep::Done(ids, gone) => {
                self.recon_client = None;
                // The answer is a batch from position 0 up to where the peer's log stood.
                self.have = 0;
                self.pull_sent_at = Some(now);
                self.awaiting_want = true;
                vec![self.send(Msg::Want { ids, gone })]
            }
        })
    }

    fn on_want(
        &mut self,
        now: u64,
        ids: &[StateHash],
        gone: &[DocId],
        log: &mut dyn Log,
    ) -> Result<Vec<Effect>, SyncError> {
        // Only documents offered in this reconciliation (inside the peer's scope) can be wanted.
        let Some(server) = self.recon_server.take() else {
            // No reconciliation of ours that the ids could come from (the peer's queries went to its
            // own reconciliation, both sides having reconciled at once): its histories would not make
            // up the log up to any head. Replay the log from the start instead, as to a puller with
            // nothing to reconcile; the puller is at 0 after its `Want`.
            self.acked = 0;
            return Ok(vec![self.serve(now, 0, log)?]);
        };
        let mut records = log.histories(&server.docs(ids))?;
        records.extend(log.departures(gone, server.head_at)?);
        self.stats.changes_sent += records.iter().filter(|r| r.is_change()).count() as u64;
        self.inflight = Some((0, server.head_at, now));
        let m = Msg::Batch {
            index: log.index(),
            from: 0,
            upto: server.head_at,
            head: log.head(),
            records,
        };
        Ok(vec![self.send(m)])
    }

    /// Hands a batch to the driver to apply, and asks for the next one at once (which also acknowledges
    /// this one): the peer reads and sends it while we apply. The pull goes first so the driver sends it
    /// before it starts applying. A failed apply ends the connection, and the next one starts again from
    /// the durable checkpoint, so the early acknowledgement loses nothing.
    fn start_apply(
        &mut self,
        now: u64,
        index: u64,
        upto: u64,
        records: Vec<Record>,
    ) -> Vec<Effect> {
        self.stats.changes_received += records.iter().filter(|r| r.is_change()).count() as u64;
        self.applying.push_back((upto, false));
        self.pull_sent_at = Some(now);
        let pull = self.send(Msg::Pull { index, from: upto });
        vec![
            pull,
            Effect::Apply {
                records,
                index,
                upto,
            },
        ]
    }

    /// The driver has prepared the oldest batch it was handed (checked it, done everything but the
    /// write): the next batch, if it is here, may be handed out to be prepared while this one is written.
    /// Optional: a driver that never calls it gets one batch at a time.
    pub fn prepared(&mut self, now: u64) -> Vec<Effect> {
        if let Some(b) = self.applying.iter_mut().find(|b| !b.1) {
            b.1 = true;
        }
        self.release(now)
    }

    /// The driver applied the records of an [`Effect::Apply`] durably and recorded the checkpoint.
    /// Batches are applied in the order they were handed out.
    pub fn applied(&mut self, now: u64, index: u64, upto: u64) -> Vec<Effect> {
        if let Some(i) = self.applying.iter().position(|b| b.0 == upto) {
            self.applying.remove(i);
        }
        if index == self.peer_index && upto >= self.have {
            self.have = upto;
        }
        self.release(now)
    }

    /// Hands out the prefetched batch when nothing is in flight or the one in flight is prepared.
    fn release(&mut self, now: u64) -> Vec<Effect> {
        let Some((from, _, _)) = &self.prefetched else {
            // The next batch is on its way (or we are caught up and the peer will push).
            return Vec::new();
        };
        let last = self.applying.back().map_or(self.have, |b| b.0);
        if *from != last {
            // Not the continuation after all: ask again from where we are.
            self.prefetched = None;
            return if self.applying.is_empty() {
                vec![self.pull(now)]
            } else {
                Vec::new()
            };
        }
        let ready = match self.applying.len() {
            0 => true,
            1 => self.applying[0].1,
            _ => false,
        };
        match (ready, self.prefetched.take()) {
            (true, Some((_, upto, records))) => {
                let index = self.peer_index;
                self.start_apply(now, index, upto, records)
            }
            (_, p) => {
                self.prefetched = p;
                Vec::new()
            }
        }
    }

    /// Our log grew: push to a peer that has caught up and has nothing in flight.
    pub fn on_local_head(&mut self, now: u64, log: &mut dyn Log) -> Result<Vec<Effect>, SyncError> {
        if self.phase != Phase::Running || !self.subscribed || self.acked >= log.head() {
            return Ok(Vec::new());
        }
        self.push_now(now, log)
    }

    /// Something outside the log changed (new revocations to forward): send a batch now if the peer is
    /// waiting for nothing from us. The log read decides what the batch carries.
    pub fn push_now(&mut self, now: u64, log: &mut dyn Log) -> Result<Vec<Effect>, SyncError> {
        if self.phase != Phase::Running || !self.subscribed {
            return Ok(Vec::new());
        }
        Ok(match self.inflight {
            Some((_, upto, _)) if upto > self.acked => Vec::new(),
            _ => vec![self.serve(now, self.acked, log)?],
        })
    }

    /// Time passed: give up on a peer that does not authenticate, retransmit what may have been lost.
    pub fn on_tick(&mut self, now: u64, log: &mut dyn Log) -> Result<Vec<Effect>, SyncError> {
        match self.phase {
            Phase::Hello | Phase::Checking => {
                if now.saturating_sub(self.started_at) >= self.config.auth_timeout_ms {
                    return Ok(self.close("refused: auth_timeout (no credential in time)"));
                }
                return Ok(Vec::new());
            }
            Phase::Closed => return Ok(Vec::new()),
            Phase::Running => {}
        }
        let mut out = Vec::new();
        if self.applying.is_empty() && self.recon_client.is_none() {
            if let Some(at) = self.pull_sent_at {
                if now.saturating_sub(at) >= self.config.retry_ms {
                    out.push(self.pull(now));
                }
            }
        }
        match self.inflight {
            Some((_, upto, at)) if upto > self.acked => {
                if now.saturating_sub(at) >= self.config.retry_ms {
                    out.push(self.serve(now, self.acked, log)?);
                }
            }
            _ => {
                if self.subscribed && self.acked < log.head() {
                    out.push(self.serve(now, self.acked, log)?);
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log of `(document, change)` entries, every document visible to the peer; a document's state
    /// hash is its id repeated.
    struct MemLog {
        index: u64,
        entries: Vec<(DocId, Vec<u8>)>,
    }

    fn hash_of(doc: &DocId) -> StateHash {
        let mut h = [0u8; 32];
        h[..16].copy_from_slice(doc);
        h[16..].copy_from_slice(doc);
        h
    }

    impl MemLog {
        fn new(docs: &[u8]) -> MemLog {
            MemLog {
                index: 77,
                entries: docs.iter().map(|d| ([*d; 16], vec![*d])).collect(),
            }
        }
    }

    impl Log for MemLog {
        fn index(&self) -> u64 {
            self.index
        }
        fn head(&self) -> u64 {
            self.entries.len() as u64
        }
        fn read(&mut self, from: u64, max: usize) -> Result<LogBatch, LogError> {
            let start = (from as usize).min(self.entries.len());
            let end = (start + max).min(self.entries.len());
            Ok(LogBatch {
                records: self.entries[start..end]
                    .iter()
                    .map(|(_, c)| Record::change(c.clone()))
                    .collect(),
                upto: end as u64,
            })
        }
        fn states(&mut self) -> Result<Vec<(StateHash, DocId)>, LogError> {
            Ok(self.entries.iter().map(|(d, _)| (hash_of(d), *d)).collect())
        }
        fn departures(&mut self, _docs: &[DocId], _upto: u64) -> Result<Vec<Record>, LogError> {
            Ok(Vec::new()) // every document of this log stays in the peer's scope
        }
        fn histories(&mut self, docs: &[DocId]) -> Result<Vec<Record>, LogError> {
            Ok(self
                .entries
                .iter()
                .filter(|(d, _)| docs.contains(d))
                .map(|(_, c)| Record::change(c.clone()))
                .collect())
        }
    }

    fn auth(name: &str) -> Msg {
        Msg::Auth {
            chain: name.as_bytes().to_vec(),
            revocations: Vec::new(),
        }
    }

    fn config() -> SessionConfig {
        SessionConfig {
            batch_max: 16,
            retry_ms: 100,
            auth_timeout_ms: 1_000,
            max_early: 4,
        }
    }

    /// A session that has authenticated the peer and answered nothing yet.
    fn running(log: &mut MemLog) -> Session {
        let (mut s, _) = Session::start(0, config(), auth("us"));
        s.on_msg(1, auth("peer"), log).expect("auth");
        let out = s.accept_peer(2, (0, 0), log).expect("accept");
        assert_eq!(out, vec![Effect::Send(Msg::Pull { index: 0, from: 0 })]);
        assert!(s.is_running());
        s
    }

    fn close_reason(out: &[Effect]) -> Option<&str> {
        out.iter().find_map(|e| match e {
            Effect::Close { reason } => Some(reason.as_str()),
            _ => None,
        })
    }

    #[test]
    fn a_first_message_that_is_not_auth_closes_with_the_reason() {
        let mut log = MemLog::new(&[1]);
        let (mut s, out) = Session::start(0, config(), auth("us"));
        assert_eq!(out, vec![Effect::Send(auth("us"))]);
        let out = s
            .on_msg(5, Msg::Pull { index: 77, from: 0 }, &mut log)
            .expect("on_msg");
        let reason = close_reason(&out).expect("closes");
        assert!(reason.contains("first message is not Auth"), "{reason}");
        assert!(matches!(&out[0], Effect::Send(Msg::Bye { reason: r }) if r == reason));
        assert!(s.is_closed());
        // Nothing more is taken or sent.
        assert!(s
            .on_msg(6, auth("peer"), &mut log)
            .expect("on_msg")
            .is_empty());
        assert!(s.on_tick(10_000, &mut log).expect("tick").is_empty());
    }

    #[test]
    fn a_pull_that_arrives_while_the_peer_is_checked_is_answered_after_accept_peer() {
        let mut log = MemLog::new(&[1, 2]);
        let (mut s, _) = Session::start(0, config(), auth("us"));
        let out = s.on_msg(1, auth("peer"), &mut log).expect("auth");
        assert_eq!(
            out,
            vec![Effect::Authenticate {
                chain: b"peer".to_vec(),
                revocations: Vec::new()
            }]
        );
        // The peer accepted us first and pulls at once: nothing is served before it is accepted.
        let out = s
            .on_msg(2, Msg::Pull { index: 77, from: 0 }, &mut log)
            .expect("early pull");
        assert!(out.is_empty());
        assert!(!s.is_running());
        let out = s.accept_peer(3, (5, 9), &mut log).expect("accept");
        assert_eq!(
            out,
            vec![
                Effect::Send(Msg::Pull { index: 5, from: 9 }),
                Effect::Send(Msg::Batch {
                    index: 77,
                    from: 0,
                    upto: 2,
                    head: 2,
                    records: vec![Record::change(vec![1]), Record::change(vec![2])],
                }),
            ]
        );
        // A second verdict changes nothing.
        assert!(s
            .accept_peer(4, (0, 0), &mut log)
            .expect("accept")
            .is_empty());
    }

    #[test]
    fn too_many_messages_while_the_peer_is_checked_close() {
        let mut log = MemLog::new(&[]);
        let (mut s, _) = Session::start(0, config(), auth("us"));
        s.on_msg(1, auth("peer"), &mut log).expect("auth");
        for _ in 0..config().max_early {
            let out = s.on_msg(2, Msg::Pull { index: 0, from: 0 }, &mut log);
            assert!(out.expect("early").is_empty());
        }
        let out = s
            .on_msg(2, Msg::Pull { index: 0, from: 0 }, &mut log)
            .expect("one too many");
        assert!(close_reason(&out).is_some_and(|r| r.contains("too many messages")));
    }

    #[test]
    fn a_peer_that_does_not_authenticate_in_time_is_closed_on_tick() {
        let mut log = MemLog::new(&[]);
        // No Auth at all.
        let (mut s, _) = Session::start(100, config(), auth("us"));
        assert!(s.on_tick(1_099, &mut log).expect("tick").is_empty());
        let out = s.on_tick(1_100, &mut log).expect("tick");
        let reason = close_reason(&out).expect("closes");
        assert!(reason.contains("auth_timeout"), "{reason}");
        assert!(matches!(out[0], Effect::Send(Msg::Bye { .. })));
        assert!(s.is_closed());
        // Auth arrived, but the driver never gave its verdict.
        let (mut s, _) = Session::start(0, config(), auth("us"));
        s.on_msg(10, auth("peer"), &mut log).expect("auth");
        assert!(s.on_tick(999, &mut log).expect("tick").is_empty());
        let out = s.on_tick(1_000, &mut log).expect("tick");
        assert!(close_reason(&out).is_some_and(|r| r.contains("auth_timeout")));
        // A running session does not time out.
        let mut s = running(&mut log);
        assert!(close_reason(&s.on_tick(50_000, &mut log).expect("tick")).is_none());
    }

    #[test]
    fn a_refused_peer_is_told_why_and_gets_nothing() {
        let mut log = MemLog::new(&[1]);
        let (mut s, _) = Session::start(0, config(), auth("us"));
        s.on_msg(1, auth("peer"), &mut log).expect("auth");
        s.on_msg(2, Msg::Pull { index: 77, from: 0 }, &mut log)
            .expect("early pull");
        let out = s.refuse_peer("refused: revoked");
        assert_eq!(
            out,
            vec![
                Effect::Send(Msg::Bye {
                    reason: "refused: revoked".into()
                }),
                Effect::Close {
                    reason: "refused: revoked".into()
                }
            ]
        );
        // The early pull is never answered.
        assert!(s
            .accept_peer(3, (0, 0), &mut log)
            .expect("accept")
            .is_empty());
        assert!(s.on_tick(5, &mut log).expect("tick").is_empty());
    }

    /// The batch among the effects.
    fn batch(out: &[Effect]) -> Option<(u64, u64, &[Record])> {
        out.iter().find_map(|e| match e {
            Effect::Send(Msg::Batch {
                from,
                upto,
                records,
                ..
            }) => Some((*from, *upto, records.as_slice())),
            _ => None,
        })
    }

    #[test]
    fn a_want_for_state_hashes_that_were_not_offered_yields_a_batch_with_no_records() {
        let mut log = MemLog::new(&[1, 2, 3]);
        let mut s = running(&mut log);
        // The peer reconciles: one round over a document we do not hold.
        let (_, first) = recon::Client::start(&[(hash_of(&[9; 16]), [9; 16])])
            .expect("client")
            .expect("states");
        let out = s
            .on_msg(3, Msg::Recon { payload: first }, &mut log)
            .expect("recon");
        assert!(matches!(
            out.as_slice(),
            [Effect::Send(Msg::ReconReply { .. })]
        ));
        // It wants a hash we never offered (another document, or one outside its scope).
        let out = s
            .on_msg(
                4,
                Msg::Want {
                    ids: vec![hash_of(&[9; 16]), [5; 32]],
                    gone: Vec::new(),
                },
                &mut log,
            )
            .expect("want");
        let (from, upto, records) = batch(&out).expect("a batch");
        assert_eq!((from, upto), (0, 3));
        assert!(records.is_empty(), "{records:?}");
    }

    #[test]
    fn a_want_for_offered_state_hashes_yields_those_histories() {
        let mut log = MemLog::new(&[1, 2, 3]);
        let mut s = running(&mut log);
        let (_, first) = recon::Client::start(&[(hash_of(&[9; 16]), [9; 16])])
            .expect("client")
            .expect("states");
        s.on_msg(3, Msg::Recon { payload: first }, &mut log)
            .expect("recon");
        let out = s
            .on_msg(
                4,
                Msg::Want {
                    ids: vec![hash_of(&[2; 16])],
                    gone: Vec::new(),
                },
                &mut log,
            )
            .expect("want");
        let (from, upto, records) = batch(&out).expect("a batch");
        assert_eq!((from, upto), (0, 3));
        assert_eq!(records, &[Record::change(vec![2])]);
    }

    #[test]
    fn a_want_outside_any_reconciliation_is_answered_by_a_replay_from_the_start() {
        // Both sides reconciled at once, so the peer's queries never reached a server of ours: the
        // histories of the wanted documents would not stand for our log up to its head.
        let mut log = MemLog::new(&[1, 2, 3]);
        let mut s = running(&mut log);
        let out = s
            .on_msg(
                3,
                Msg::Want {
                    ids: vec![hash_of(&[2; 16])],
                    gone: Vec::new(),
                },
                &mut log,
            )
            .expect("want");
        let (from, upto, records) = batch(&out).expect("a batch");
        assert_eq!((from, upto), (0, 3));
        assert_eq!(records.len(), 3);
    }
}
