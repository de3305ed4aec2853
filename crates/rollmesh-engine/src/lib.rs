//! The node's engine, without I/O of its own beyond the data directory and the store: local edits become
//! signed changes, incoming records meet the authority policy before they reach the store, credentials are
//! requested, issued, installed and revoked, bundles are written and read, and [`PeerLog`] decides what of
//! our log a peer may see. The `rollmesh` binary is a thin layer over it (CLI, daemon wiring, rendering).

pub mod authority;
pub mod i18n;
pub mod csv_import;
pub mod node;
pub mod org;

pub use node::{AcceptReport, Node, NodeError, NodeSettings, PeerSettings};
