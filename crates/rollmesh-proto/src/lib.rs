//! Wire formats of rollmesh, pure and deterministic: node keys and node ids, the signed change envelope
//! that every edit travels in, and bundles (files of envelopes). `docs/PROTOCOL.md` specifies every byte.

pub mod bundle;
pub mod credential;
pub mod envelope;
pub mod identity;

pub use bundle::{
    BundleError, BundleReader, BundleRecord, BundleWriter, TAG_CHAIN, TAG_CHANGE, TAG_REVOCATION,
};
pub use credential::{roles, Chain, ChainError, Credential, CredentialRequest, Revocation};
pub use envelope::{
    DocKind, EnvelopeError, RejectCode, Rejection, SignedChange, VerifiedChange, CHANGE_DOMAIN,
};
pub use identity::{actor_for, NodeId, NodeIdError, NodeKey, NodePublicKey};
