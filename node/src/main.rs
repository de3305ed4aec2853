//! rollmesh
fn main() {}
