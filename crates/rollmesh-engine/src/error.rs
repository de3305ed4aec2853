//! The engine's error type: each variant is one line a clerk can read.

use std::path::{Path, PathBuf};

use rollmesh_model::UnitPath;
use rollmesh_proto::ChainError;
use rollmesh_store::StoreError;

/// Errors of node operations, each meant to be shown to a clerk as one line.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// `init` on a directory that already holds a node.
    #[error("{0} already holds a rollmesh node; nothing was changed")]
    AlreadyInitialised(PathBuf),
    /// A command on a directory without a node.
    #[error("{0} is not a rollmesh data directory (run `rollmesh init` first)")]
    NotInitialised(PathBuf),
    /// The unit is not in the organisation tree given.
    #[error("unit {0} is not in the organisation tree")]
    UnknownUnit(UnitPath),
    /// Members are placed in a unit without units below it (a cell), and this one has some.
    #[error("unit {0} has units below it: a member belongs to a cell")]
    NotACell(UnitPath),
    /// No unit has this code or name (or several share the name).
    #[error("no unit with code or name {0:?} (or several units share that name)")]
    NoSuchUnit(String),
    /// A member's unit lies outside this node's scope.
    #[error("unit {unit} is outside this node's scope ({scope})")]
    OutOfScope {
        /// The unit asked for.
        unit: UnitPath,
        /// The node's own unit.
        scope: UnitPath,
    },
    /// No member matches the id given.
    #[error("no member with id {0}")]
    NoSuchMember(String),
    /// A short id matches several members.
    #[error("id {0} matches several members; type more characters")]
    Ambiguous(String),
    /// A dossier operation was refused.
    #[error(transparent)]
    Dossier(#[from] rollmesh_model::DossierError),
    /// A ledger edit was refused (a meeting outside the year, a month that is not 1-12…).
    #[error(transparent)]
    Ledger(Box<rollmesh_model::ledger::LedgerError>),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The key file is unreadable.
    #[error("{0}: not a rollmesh node key file")]
    KeyFile(PathBuf),
    /// The bundle is not a bundle.
    #[error(transparent)]
    Bundle(#[from] rollmesh_proto::BundleError),
    /// Our own fresh change could not be wrapped (a bug, reported rather than panicking).
    #[error("internal: {0}")]
    Internal(String),
    /// A credential, chain, request or revocation was refused.
    #[error("credential refused: {0}")]
    Credential(#[from] ChainError),
    /// An operation needs the organisation's root key configured.
    #[error("no root key is configured for this node (init --root)")]
    NoRoot,
    /// `node.toml` is unreadable.
    #[error("{path}: {detail}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A credential operation that does not fit this node (wrong unit, wrong key, nothing to revoke…).
    #[error("{0}")]
    Refused(String),
}

impl From<rollmesh_model::ledger::LedgerError> for NodeError {
    fn from(e: rollmesh_model::ledger::LedgerError) -> Self {
        NodeError::Ledger(Box::new(e))
    }
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> NodeError + '_ {
    move |source| NodeError::Io {
        path: path.to_path_buf(),
        source,
    }
}
