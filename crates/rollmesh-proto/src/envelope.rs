//! The signed change envelope: one Automerge change, its author's public key, the document it belongs to,
//! and an ed25519 signature over a domain-separated message. Envelopes are stored and forwarded verbatim,
//! so the city verifies the cell's own signature, never the hop in between.
//!
//! Layout (version 1), all integers big-endian:
//! `version:u8 | kind:u8 | author:[u8;32] | doc:[u8;16] | len:u32 | change:[u8;len] | signature:[u8;64]`.
//! The signature covers `CHANGE_DOMAIN || bytes[0 .. 54+len]`.

use std::fmt;

use automerge::Change;
use ed25519_dalek::{Signature, VerifyingKey};
use rollmesh_model::MemberId;

use crate::identity::{actor_for, NodeId, NodeKey, NodePublicKey};

/// Domain separation for change signatures: no other rollmesh signature can be mistaken for one.
pub const CHANGE_DOMAIN: &[u8] = b"rollmesh/change/v1\0";
/// The envelope version this code writes and reads.
pub const ENVELOPE_VERSION: u8 = 1;
/// Bytes before the change: version, kind, author, doc id, length.
pub const HEADER_LEN: usize = 1 + 1 + 32 + 16 + 4;
/// Largest change accepted (16 MiB): a dossier change is a few hundred bytes.
pub const MAX_CHANGE_LEN: usize = 16 << 20;

/// What kind of document a change belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DocKind {
    /// A member dossier.
    Member,
    /// A cell's ledger for one year (meetings, attendance, dues); the document id is its `LedgerId`.
    Ledger,
    /// An organisation-wide document (the tree, the rule set, the calendar); a fixed id per document.
    Org,
}

impl DocKind {
    /// The wire byte.
    pub fn byte(self) -> u8 {
        match self {
            DocKind::Member => 1,
            DocKind::Ledger => 2,
            DocKind::Org => 3,
        }
    }

    /// From the wire byte.
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(DocKind::Member),
            2 => Some(DocKind::Ledger),
            3 => Some(DocKind::Org),
            _ => None,
        }
    }
}

/// Why bytes are not a well-formed envelope.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    /// Shorter than the fixed parts.
    #[error("envelope is truncated ({0} bytes)")]
    Truncated(usize),
    /// An unknown version byte.
    #[error("unknown envelope version {0}")]
    Version(u8),
    /// An unknown document kind byte.
    #[error("unknown document kind {0}")]
    Kind(u8),
    /// The change length does not match the envelope's size.
    #[error("change length {declared} does not fit an envelope of {total} bytes")]
    Length {
        /// The declared change length.
        declared: usize,
        /// The envelope's size.
        total: usize,
    },
}

/// A well-formed, not yet verified envelope. Holds the exact bytes it was read from.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedChange {
    bytes: Vec<u8>,
}

impl SignedChange {
    /// Wraps and signs a change made by `key`.
    pub fn sign(key: &NodeKey, kind: DocKind, doc: MemberId, change: &[u8]) -> SignedChange {
        let mut bytes = Vec::with_capacity(HEADER_LEN + change.len() + 64);
        bytes.push(ENVELOPE_VERSION);
        bytes.push(kind.byte());
        bytes.extend_from_slice(&key.public().0);
        bytes.extend_from_slice(doc.as_bytes());
        bytes.extend_from_slice(&(change.len() as u32).to_be_bytes());
        bytes.extend_from_slice(change);
        let sig = key.sign(&signed_message(&bytes));
        bytes.extend_from_slice(&sig);
        SignedChange { bytes }
    }

    /// Checks the structure of `bytes` (not the signature).
    pub fn decode(bytes: Vec<u8>) -> Result<SignedChange, EnvelopeError> {
        if bytes.len() < HEADER_LEN + 64 {
            return Err(EnvelopeError::Truncated(bytes.len()));
        }
        if bytes[0] != ENVELOPE_VERSION {
            return Err(EnvelopeError::Version(bytes[0]));
        }
        if DocKind::from_byte(bytes[1]).is_none() {
            return Err(EnvelopeError::Kind(bytes[1]));
        }
        let declared = u32::from_be_bytes([bytes[50], bytes[51], bytes[52], bytes[53]]) as usize;
        if declared > MAX_CHANGE_LEN || HEADER_LEN + declared + 64 != bytes.len() {
            return Err(EnvelopeError::Length {
                declared,
                total: bytes.len(),
            });
        }
        Ok(SignedChange { bytes })
    }

    /// The exact bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The document kind.
    pub fn kind(&self) -> DocKind {
        DocKind::from_byte(self.bytes[1]).unwrap_or(DocKind::Member)
    }

    /// The author's public key.
    pub fn author(&self) -> NodePublicKey {
        let mut k = [0u8; 32];
        k.copy_from_slice(&self.bytes[2..34]);
        NodePublicKey(k)
    }

    /// The document id.
    pub fn doc(&self) -> MemberId {
        let mut d = [0u8; 16];
        d.copy_from_slice(&self.bytes[34..50]);
        MemberId(d)
    }

    /// The Automerge change bytes.
    pub fn change_bytes(&self) -> &[u8] {
        &self.bytes[HEADER_LEN..self.bytes.len() - 64]
    }

    fn signature(&self) -> [u8; 64] {
        let mut s = [0u8; 64];
        s.copy_from_slice(&self.bytes[self.bytes.len() - 64..]);
        s
    }

    /// The message the signature covers.
    pub fn signed_message(&self) -> Vec<u8> {
        signed_message(&self.bytes[..self.bytes.len() - 64])
    }

    /// Verifies the signature (strictly: no malleable or small-order forms), decodes the Automerge change and
    /// checks that its actor is the author's. Says nothing about whether the author may write this document:
    /// that is the node's trust decision.
    pub fn verify(&self) -> Result<VerifiedChange, Rejection> {
        let key = self.author().verifying_key().ok_or_else(|| {
            Rejection::new(RejectCode::BadSignature, "author key is not a valid point")
        })?;
        let sig = Signature::from_bytes(&self.signature());
        key.verify_strict(&self.signed_message(), &sig)
            .map_err(|_| Rejection::new(RejectCode::BadSignature, "signature does not verify"))?;
        self.decode_change()
    }

    /// The part of verification after the signature: decode the change, check its actor.
    fn decode_change(&self) -> Result<VerifiedChange, Rejection> {
        let change = Change::from_bytes(self.change_bytes().to_vec())
            .map_err(|e| Rejection::new(RejectCode::BadChange, e.to_string()))?;
        if change.actor_id() != &actor_for(&self.author()) {
            return Err(Rejection::new(
                RejectCode::ActorMismatch,
                format!("change actor {} is not the author's", change.actor_id()),
            ));
        }
        Ok(VerifiedChange {
            envelope: self.clone(),
            change,
        })
    }

    /// Verifies many envelopes, using ed25519 batch verification when every signature is good and falling
    /// back to one-by-one checks to find the bad ones otherwise.
    pub fn verify_many(envelopes: &[SignedChange]) -> Vec<Result<VerifiedChange, Rejection>> {
        use rayon::prelude::*;
        // Chunks are verified on every core; within a chunk, one batch equation.
        envelopes
            .par_chunks(128)
            .flat_map_iter(Self::verify_chunk)
            .collect()
    }

    fn verify_chunk(envelopes: &[SignedChange]) -> Vec<Result<VerifiedChange, Rejection>> {
        // A batch usually has few authors: decompress each key once.
        let mut known: std::collections::HashMap<NodePublicKey, Option<VerifyingKey>> =
            std::collections::HashMap::new();
        let keys: Option<Vec<VerifyingKey>> = envelopes
            .iter()
            .map(|e| {
                *known
                    .entry(e.author())
                    .or_insert_with(|| e.author().verifying_key())
            })
            .collect();
        if let (Some(keys), true) = (keys, envelopes.len() > 1) {
            let messages: Vec<Vec<u8>> = envelopes.iter().map(|e| e.signed_message()).collect();
            let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
            let sigs: Vec<Signature> = envelopes
                .iter()
                .map(|e| Signature::from_bytes(&e.signature()))
                .collect();
            if ed25519_dalek::verify_batch(&refs, &sigs, &keys).is_ok()
                // Batch verification does not refuse weak (small-order) keys; verify_strict does.
                && known.values().flatten().all(|k| !k.is_weak())
            {
                return envelopes.iter().map(SignedChange::decode_change).collect();
            }
        }
        envelopes.iter().map(SignedChange::verify).collect()
    }
}

impl fmt::Debug for SignedChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedChange")
            .field("author", &self.author().node_id())
            .field("doc", &self.doc().to_string())
            .field("len", &self.bytes.len())
            .finish()
    }
}

fn signed_message(unsigned: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(CHANGE_DOMAIN.len() + unsigned.len());
    m.extend_from_slice(CHANGE_DOMAIN);
    m.extend_from_slice(unsigned);
    m
}

/// An envelope whose signature verified and whose change decoded with the author's actor.
#[derive(Clone, Debug)]
pub struct VerifiedChange {
    /// The envelope, verbatim.
    pub envelope: SignedChange,
    /// The decoded Automerge change.
    pub change: Change,
}

impl VerifiedChange {
    /// Signs one of this node's own fresh changes. The signature was made here a moment ago, so it is not
    /// verified again (that would double the cost of a bulk import); the actor must be the key's.
    pub fn sign_own(
        key: &NodeKey,
        kind: DocKind,
        doc: MemberId,
        change: Change,
    ) -> Result<VerifiedChange, Rejection> {
        if change.actor_id() != &actor_for(&key.public()) {
            return Err(Rejection::new(
                RejectCode::ActorMismatch,
                "own change made with another actor",
            ));
        }
        let envelope = SignedChange::sign(key, kind, doc, change.raw_bytes());
        Ok(VerifiedChange { envelope, change })
    }

    /// Like [`VerifiedChange::sign_own`], carrying the change in Automerge's compressed chunk form
    /// (DEFLATE, for changes over 256 bytes): ledger changes — a month's sheet for a whole cell — are
    /// a third of their raw size. The change hash, the identity, is the same either way.
    pub fn sign_own_compressed(
        key: &NodeKey,
        kind: DocKind,
        doc: MemberId,
        mut change: Change,
    ) -> Result<VerifiedChange, Rejection> {
        if change.actor_id() != &actor_for(&key.public()) {
            return Err(Rejection::new(
                RejectCode::ActorMismatch,
                "own change made with another actor",
            ));
        }
        let envelope = SignedChange::sign(key, kind, doc, &change.bytes());
        Ok(VerifiedChange { envelope, change })
    }

    /// The change hash (Automerge's), the change's identity everywhere.
    pub fn hash(&self) -> [u8; 32] {
        self.change.hash().0
    }

    /// The author's node id.
    pub fn author_id(&self) -> NodeId {
        self.envelope.author().node_id()
    }
}

/// Why a change was refused: a stable code and a human detail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectCode {
    /// Not a well-formed envelope.
    Malformed,
    /// The signature does not verify against the author key.
    BadSignature,
    /// The Automerge change bytes do not decode.
    BadChange,
    /// The change's actor is not the author's.
    ActorMismatch,
    /// The author is not trusted to write here.
    Untrusted,
    /// Applying the change would leave an invalid dossier.
    InvalidDocument,
    /// No credential chain is known for the author.
    NoCredential,
    /// The author's credential chain is invalid (wrong root, expired, bad link…).
    BadCredential,
    /// The author's key has been revoked, and this change was not accepted before the revocation.
    Revoked,
    /// The author's unit does not cover the member's unit (old or new).
    Unauthorized,
}

impl RejectCode {
    /// The stable key stored in quarantine.
    pub fn key(self) -> &'static str {
        match self {
            RejectCode::Malformed => "malformed",
            RejectCode::BadSignature => "bad_signature",
            RejectCode::BadChange => "bad_change",
            RejectCode::ActorMismatch => "actor_mismatch",
            RejectCode::Untrusted => "untrusted_author",
            RejectCode::InvalidDocument => "invalid_document",
            RejectCode::NoCredential => "no_credential",
            RejectCode::BadCredential => "bad_credential",
            RejectCode::Revoked => "revoked",
            RejectCode::Unauthorized => "unauthorized",
        }
    }

    /// From the stored key.
    pub fn from_key(k: &str) -> Option<Self> {
        [
            RejectCode::Malformed,
            RejectCode::BadSignature,
            RejectCode::BadChange,
            RejectCode::ActorMismatch,
            RejectCode::Untrusted,
            RejectCode::InvalidDocument,
            RejectCode::NoCredential,
            RejectCode::BadCredential,
            RejectCode::Revoked,
            RejectCode::Unauthorized,
        ]
        .into_iter()
        .find(|c| c.key() == k)
    }
}

/// A refused change's reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The stable code.
    pub code: RejectCode,
    /// Details for a human (English).
    pub detail: String,
}

impl Rejection {
    /// A rejection with a detail.
    pub fn new(code: RejectCode, detail: impl Into<String>) -> Self {
        Rejection {
            code,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.key(), self.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollmesh_model::{Dossier, Field};
    use std::collections::BTreeMap;

    fn change_by(key: &NodeKey) -> (MemberId, Vec<u8>) {
        let id = MemberId::new(0, rand::random());
        let mut f = BTreeMap::new();
        f.insert(Field::FullName, "Trần Thị Bình".to_string());
        f.insert(Field::Unit, "hn.d01".to_string());
        let (_, c) = Dossier::create(id, actor_for(&key.public()), f, vec![], 5).expect("create");
        (id, c.raw_bytes().to_vec())
    }

    #[test]
    fn sign_decode_verify() {
        let key = NodeKey::from_seed([3; 32]);
        let (id, bytes) = change_by(&key);
        let env = SignedChange::sign(&key, DocKind::Member, id, &bytes);
        let back = SignedChange::decode(env.as_bytes().to_vec()).expect("decode");
        assert_eq!(back.doc(), id);
        assert_eq!(back.author(), key.public());
        assert_eq!(back.change_bytes(), bytes.as_slice());
        let v = back.verify().expect("verifies");
        assert_eq!(v.change.raw_bytes(), bytes.as_slice());
    }

    #[test]
    fn every_flipped_byte_is_caught() {
        let key = NodeKey::from_seed([4; 32]);
        let (id, bytes) = change_by(&key);
        let env = SignedChange::sign(&key, DocKind::Member, id, &bytes);
        for i in 0..env.as_bytes().len() {
            let mut b = env.as_bytes().to_vec();
            b[i] ^= 0x01;
            let ok = SignedChange::decode(b)
                .map(|e| e.verify().is_ok())
                .unwrap_or(false);
            assert!(!ok, "flipping byte {i} went unnoticed");
        }
    }

    #[test]
    fn resigned_change_has_wrong_actor() {
        let cell = NodeKey::from_seed([5; 32]);
        let ward = NodeKey::from_seed([6; 32]);
        let (id, bytes) = change_by(&cell);
        let forged = SignedChange::sign(&ward, DocKind::Member, id, &bytes);
        assert_eq!(
            forged.verify().err().map(|r| r.code),
            Some(RejectCode::ActorMismatch)
        );
    }

    #[test]
    fn batch_verification_finds_the_bad_one() {
        let key = NodeKey::from_seed([8; 32]);
        let mut envs: Vec<SignedChange> = (0..5)
            .map(|_| {
                let (id, bytes) = change_by(&key);
                SignedChange::sign(&key, DocKind::Member, id, &bytes)
            })
            .collect();
        assert!(SignedChange::verify_many(&envs).iter().all(Result::is_ok));
        let mut b = envs[2].as_bytes().to_vec();
        let last = b.len() - 1;
        b[last] ^= 0x40;
        envs[2] = SignedChange::decode(b).expect("structure intact");
        let results = SignedChange::verify_many(&envs);
        assert_eq!(results.iter().filter(|r| r.is_err()).count(), 1);
        assert!(results[2].is_err());
    }
}
