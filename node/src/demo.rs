//! `rollmesh demo`: placeholder replaced below.
use std::path::PathBuf;

/// Runs the demo.
pub fn run(_once: bool, _per_cell: usize, _dir: Option<PathBuf>) -> anyhow::Result<u8> {
    anyhow::bail!("demo not built yet")
}
