//! The rollmesh node: a data directory holding the node's key and its store, the operations a clerk runs
//! on it (add, edit, import, bundles, verify), and the `rollmesh` command line over them.

pub mod admin;
pub mod authority;
pub mod cli;
pub mod csv_import;
pub mod daemon;
pub mod demo;
pub mod i18n;
pub mod node;
pub mod org;
pub mod render;

pub use node::{AcceptReport, Node, NodeError, NodeSettings, PeerSettings};
