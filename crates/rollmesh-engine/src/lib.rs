//! The node's engine, without I/O of its own beyond the data directory and the store: local edits become
//! signed changes, incoming records meet the authority policy before they reach the store, credentials are
//! requested, issued, installed and revoked, bundles are written and read, and [`PeerLog`] decides what of
//! our log a peer may see. The `rollmesh` binary is a thin layer over it (CLI, daemon wiring, rendering).

pub mod accept;
pub mod accounts;
pub mod authority;
pub mod cases;
pub mod credentials;
pub mod csv_import;
pub mod error;
pub mod i18n;
pub mod ids;
pub mod ledger;
pub mod ledger_sheet;
pub mod node;
pub mod org;
pub mod orgdocs;
pub mod peer_auth;
pub mod peer_log;
pub mod screen;
pub mod settings;
#[cfg(test)]
mod testkit;

pub use accept::{AcceptReport, PreparedAccept};
pub use credentials::{issue_credential, read_root_key, root_init, Installed, Issuer};
pub use error::NodeError;
pub use node::Node;
pub use peer_auth::{PeerAuth, PeerRefusal};
pub use peer_log::PeerLog;
pub use settings::{ApiSettings, NodeSettings, PeerSettings};
