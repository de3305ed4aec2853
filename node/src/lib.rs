//! The `rollmesh` binary's library half: the command line (one module per command group), the daemon's
//! wiring of the engine to QUIC, and rendering for clerks. The decisions live in `rollmesh-engine`.

pub mod api;
pub mod cli;
pub mod client;
pub mod daemon;
pub mod demo;
pub mod i18n;
pub mod import;
pub mod ops;
pub mod render;

pub use rollmesh_engine::org;
pub use rollmesh_engine::{AcceptReport, Node, NodeError, NodeSettings, PeerSettings};
