//! One sync session between this node and a peer: the puller of the peer's log and the server of ours.

use std::collections::VecDeque;

use crate::Msg;

/// What a log read returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogBatch {
    /// Records for the peer (already filtered to its scope).
    pub records: Vec<(u8, Vec<u8>)>,
    /// The last sequence number examined.
    pub upto: u64,
}

/// This node's log, as the session sees it.
pub trait Log {
    /// The log's index id.
    fn index(&self) -> u64;
    /// The last sequence number in the log.
    fn head(&self) -> u64;
    /// Entries after `from` that the peer may see, at most `max` of them.
    fn read(&mut self, from: u64, max: usize) -> LogBatch;
    /// Gives the log a new index id (it was rolled back: a peer is ahead of it) and returns it.
    fn rotate_index(&mut self) -> u64 {
        self.index()
    }
}

/// What the driver must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Send a message to the peer.
    Send(Msg),
    /// Our checkpoint is void: reconcile documents with the peer (negentropy), then send `Want`; or, with
    /// nothing to reconcile, call [`Session::replay`].
    Reconcile {
        /// The peer's log index id.
        index: u64,
    },
    /// Verify and apply these records durably, then record the checkpoint `(index, upto)` for the peer
    /// and call [`Session::applied`]. A driver that calls [`Session::prepared`] once the records are
    /// checked may be handed the next batch before this one is written; it writes them in order.
    Apply {
        /// The records.
        records: Vec<(u8, Vec<u8>)>,
        /// The peer's log index id.
        index: u64,
        /// The checkpoint to record once applied.
        upto: u64,
    },
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
type Prefetched = (u64, u64, Vec<(u8, Vec<u8>)>);

/// The per-connection state.
#[derive(Debug)]
pub struct Session {
    batch_max: usize,
    retry_ms: u64,
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
    // Serving our log.
    acked: u64,
    inflight: Option<(u64, u64, u64)>,
    subscribed: bool,
    /// Counters.
    pub stats: SessionStats,
}

impl Session {
    /// Starts a session from our checkpoint of the peer's log (`(0, 0)` if none) and sends the first pull.
    pub fn start(now: u64, checkpoint: (u64, u64)) -> (Session, Vec<Effect>) {
        let mut s = Session {
            batch_max: 2048,
            retry_ms: 2_000,
            peer_index: checkpoint.0,
            have: checkpoint.1,
            applying: VecDeque::new(),
            prefetched: None,
            pull_sent_at: None,
            peer_head: 0,
            acked: 0,
            inflight: None,
            subscribed: false,
            stats: SessionStats::default(),
        };
        let out = vec![s.pull(now)];
        (s, out)
    }

    /// Sets the largest number of log entries per batch.
    pub fn with_batch_max(mut self, n: usize) -> Self {
        self.batch_max = n.max(1);
        self
    }

    /// Our position in the peer's log.
    pub fn checkpoint(&self) -> (u64, u64) {
        (self.peer_index, self.have)
    }

    /// How far behind the peer's log we know we are.
    pub fn backlog(&self) -> u64 {
        self.peer_head.saturating_sub(self.have)
    }

    fn pull(&mut self, now: u64) -> Effect {
        self.pull_sent_at = Some(now);
        self.stats.msgs_sent += 1;
        Effect::Send(Msg::Pull {
            index: self.peer_index,
            from: self.have,
        })
    }

    fn serve(&mut self, now: u64, from: u64, log: &mut dyn Log) -> Effect {
        let b = log.read(from, self.batch_max);
        let head = log.head();
        self.inflight = Some((from, b.upto, now));
        self.stats.msgs_sent += 1;
        self.stats.changes_sent += b.records.iter().filter(|(t, _)| *t == 1).count() as u64;
        Effect::Send(Msg::Batch {
            index: log.index(),
            from,
            upto: b.upto,
            head,
            records: b.records,
        })
    }

    /// Handles a message from the peer.
    pub fn on_msg(&mut self, now: u64, msg: Msg, log: &mut dyn Log) -> Vec<Effect> {
        self.stats.msgs_received += 1;
        match msg {
            Msg::Pull { index, from } => {
                let mut current = log.index();
                if index == current && from > log.head() {
                    // The puller has seen more of this log than it holds: it was restored from a backup.
                    // Its sequence numbers will be reused, so every checkpoint against it must go.
                    current = log.rotate_index();
                }
                self.subscribed = true;
                if index != current {
                    self.acked = 0;
                    self.inflight = None;
                    self.stats.msgs_sent += 1;
                    return vec![Effect::Send(Msg::Reset {
                        index: current,
                        head: log.head(),
                    })];
                }
                // Every pull is answered, with an empty batch if there is nothing new: that answer is what
                // tells the puller its acknowledgement arrived, so neither side can wait on the other.
                self.acked = from;
                vec![self.serve(now, from, log)]
            }
            Msg::Reset { index, head } => {
                if !self.applying.is_empty() {
                    return Vec::new();
                }
                self.peer_index = index;
                self.have = 0;
                self.peer_head = head;
                self.pull_sent_at = None;
                vec![Effect::Reconcile { index }]
            }
            Msg::Batch {
                index,
                from,
                upto,
                head,
                records,
            } => {
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
                if records.is_empty() && upto == self.have {
                    // Nothing new: we are caught up and the peer will push.
                    self.pull_sent_at = None;
                    return Vec::new();
                }
                self.start_apply(now, index, upto, records)
            }
            Msg::Auth { .. } | Msg::Bye { .. } | Msg::Recon { .. } | Msg::Want { .. } => Vec::new(),
        }
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
        records: Vec<(u8, Vec<u8>)>,
    ) -> Vec<Effect> {
        self.stats.changes_received += records.iter().filter(|(t, _)| *t == 1).count() as u64;
        self.applying.push_back((upto, false));
        let pull = Effect::Send(Msg::Pull { index, from: upto });
        self.pull_sent_at = Some(now);
        self.stats.msgs_sent += 1;
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

    /// Nothing to reconcile (we hold no documents the peer could have): replay its log from the start.
    pub fn replay(&mut self, now: u64) -> Vec<Effect> {
        self.have = 0;
        vec![self.pull(now)]
    }

    /// The reconciliation's `Want` was sent; its answer is a batch from position 0.
    pub fn wanted(&mut self, now: u64) {
        self.have = 0;
        self.pull_sent_at = Some(now);
    }

    /// Our log grew: push to a peer that has caught up and has nothing in flight.
    pub fn on_local_head(&mut self, now: u64, log: &mut dyn Log) -> Vec<Effect> {
        if !self.subscribed || self.acked >= log.head() {
            return Vec::new();
        }
        match self.inflight {
            Some((_, upto, _)) if upto > self.acked => Vec::new(),
            _ => vec![self.serve(now, self.acked, log)],
        }
    }

    /// Something outside the log changed (new revocations to forward): send a batch now if the peer is
    /// waiting for nothing from us. The log read decides what the batch carries.
    pub fn push_now(&mut self, now: u64, log: &mut dyn Log) -> Vec<Effect> {
        if !self.subscribed {
            return Vec::new();
        }
        match self.inflight {
            Some((_, upto, _)) if upto > self.acked => Vec::new(),
            _ => vec![self.serve(now, self.acked, log)],
        }
    }

    /// Time passed: retransmit what may have been lost.
    pub fn on_tick(&mut self, now: u64, log: &mut dyn Log) -> Vec<Effect> {
        let mut out = Vec::new();
        if self.applying.is_empty() {
            if let Some(at) = self.pull_sent_at {
                if now.saturating_sub(at) >= self.retry_ms {
                    out.push(self.pull(now));
                }
            }
        }
        match self.inflight {
            Some((_, upto, at)) if upto > self.acked => {
                if now.saturating_sub(at) >= self.retry_ms {
                    out.push(self.serve(now, self.acked, log));
                }
            }
            _ => {
                if self.subscribed && self.acked < log.head() {
                    out.push(self.serve(now, self.acked, log));
                }
            }
        }
        out
    }
}
