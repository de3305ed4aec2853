//! The sync protocol between two nodes, as a pure state machine in the manner of quinn-proto: it takes
//! `(now, input)` and returns effects (messages to send, records to apply, a peer to authenticate), with
//! the store reached only through the [`Log`] trait. The async node only moves bytes, reads the clock and
//! runs the effects, so every behaviour here is testable in-process and deterministically, with loss,
//! duplication, reordering, partitions and restores (see the `rollmesh-sim` crate).
//!
//! A session starts with `Auth` each way; the driver checks the peer's credential and tells the session
//! the verdict. Then each side pulls the other's append-only change log from a checkpoint
//! `(index id, sequence)`: `Pull{index, from}` asks for the entries after `from`; the answer is
//! `Batch{index, from, upto, records}`. The next `Pull` acknowledges a batch after it has been applied
//! durably. Once a puller has caught up, the serving side pushes new entries as they are appended. A pull
//! against a different index id (first contact, or the log was restored) is answered with `Reset`, and the
//! puller reconciles its documents with the peer's (negentropy over `(document, state hash)`), then asks
//! with `Want` for the histories it lacks: the fallback path.

mod empty;
mod recon;
mod record;
mod session;

pub use empty::EmptyLog;
pub use record::{Record, RecordKind};
pub use session::{
    DocId, Effect, Log, LogBatch, LogError, Session, SessionConfig, SessionStats, StateHash,
    SyncError,
};

use serde::{Deserialize, Serialize};

/// Protocol messages (postcard-encoded in frames; see docs/PROTOCOL.md §9).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Msg {
    /// First message each way: the sender's credential chain and the revocations it holds.
    Auth {
        /// Encoded credential chain.
        chain: Vec<u8>,
        /// Encoded revocations.
        revocations: Vec<Vec<u8>>,
    },
    /// Asks for the receiver's log entries after `from` (and acknowledges everything up to it).
    Pull {
        /// The index id of the receiver's log the sender knows (0 if none).
        index: u64,
        /// The last sequence number the sender has applied.
        from: u64,
    },
    /// Entries `(from, upto]` of the sender's log that the receiver may see, as bundle-style records.
    Batch {
        /// The sender's log index id.
        index: u64,
        /// The position the batch starts after.
        from: u64,
        /// The last sequence number the batch covers (entries outside the receiver's scope are skipped).
        upto: u64,
        /// The sender's log head when the batch was made.
        head: u64,
        /// Revocations, chains, then changes.
        records: Vec<Record>,
    },
    /// Answer to a pull against a log index the sender no longer has (first contact, or a checkpoint made
    /// void by a restore): the puller reconciles its documents with the sender's instead of replaying.
    Reset {
        /// The sender's current log index id.
        index: u64,
        /// The sender's log head.
        head: u64,
    },
    /// The puller's round of range-based set reconciliation (negentropy) over `(document id, state
    /// hash)`; the served side answers with `ReconReply`.
    Recon {
        /// The negentropy message.
        payload: Vec<u8>,
    },
    /// After reconciliation: the state hashes the puller lacks; the answer is a batch with the full
    /// history of those documents, ending at the log position the reconciliation started from.
    Want {
        /// State hashes (the sender's ids) of the documents to send.
        ids: Vec<[u8; 32]>,
        /// Documents the sender holds in a state the receiver did not offer: any that left the sender's
        /// scope are answered with their changes up to the move, so the sender lets them go.
        gone: Vec<[u8; 16]>,
    },
    /// The sender is closing, and why.
    Bye {
        /// The reason.
        reason: String,
    },
    /// The served side's answer to a `Recon`. A separate message, so that when both sides reconcile at
    /// once (first contact with documents on both sides) neither mistakes the other's question for an
    /// answer.
    ReconReply {
        /// The negentropy message.
        payload: Vec<u8>,
    },
}

impl Msg {
    /// Encodes for a frame.
    pub fn encode(&self) -> Result<Vec<u8>, postcard::Error> {
        postcard::to_allocvec(self)
    }

    /// The message's name, for traces and counters.
    pub fn name(&self) -> &'static str {
        match self {
            Msg::Auth { .. } => "Auth",
            Msg::Pull { .. } => "Pull",
            Msg::Batch { .. } => "Batch",
            Msg::Reset { .. } => "Reset",
            Msg::Recon { .. } => "Recon",
            Msg::ReconReply { .. } => "ReconReply",
            Msg::Want { .. } => "Want",
            Msg::Bye { .. } => "Bye",
        }
    }

    /// Decodes a frame.
    pub fn decode(bytes: &[u8]) -> Result<Msg, postcard::Error> {
        postcard::from_bytes(bytes)
    }
}
