//! The sync protocol between two nodes, as a pure state machine in the manner of quinn-proto: it takes
//! `(now, input)` and returns effects (messages to send, records to apply), with the store reached only
//! through the [`Log`] trait. The async node only shuttles bytes, so every behaviour here is testable
//! in-process and deterministically, with loss, duplication, reordering and partitions.
//!
//! Each side pulls the other's append-only change log from a checkpoint `(index id, sequence)`:
//! `Pull{index, from}` asks for the entries after `from`; the answer is `Batch{index, from, upto, records}`.
//! The next `Pull` acknowledges a batch after it has been applied durably. Once a puller has caught up,
//! the serving side pushes new entries as they are appended. A pull against a different index id (the
//! log was restored or re-created) is answered from the start: the fallback path.

mod session;

pub use session::{Effect, Log, LogBatch, Session, SessionStats};

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
        /// `(tag, body)` records: revocations, chains, then changes.
        records: Vec<(u8, Vec<u8>)>,
    },
    /// Answer to a pull against a log index the sender no longer has (first contact, or a checkpoint made
    /// void by a restore): the puller reconciles its documents with the sender's instead of replaying.
    Reset {
        /// The sender's current log index id.
        index: u64,
        /// The sender's log head.
        head: u64,
    },
    /// One round of range-based set reconciliation (negentropy) over `(document id, state hash)`.
    Recon {
        /// The negentropy message.
        payload: Vec<u8>,
    },
    /// After reconciliation: the state hashes the puller lacks; the answer is a batch with the full
    /// history of those documents, ending at the log position the reconciliation started from.
    Want {
        /// State hashes (the sender's ids) of the documents to send.
        ids: Vec<[u8; 32]>,
    },
    /// The sender is closing, and why.
    Bye {
        /// The reason.
        reason: String,
    },
}

impl Msg {
    /// Encodes for a frame.
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).unwrap_or_default()
    }

    /// Decodes a frame.
    pub fn decode(bytes: &[u8]) -> Result<Msg, postcard::Error> {
        postcard::from_bytes(bytes)
    }
}
