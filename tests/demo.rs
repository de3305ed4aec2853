//! The README's main command: `rollmesh demo --once` brings up the 15-node mesh, converges at the city
//! and exits 0 within a minute.

mod support;

use std::time::Duration;

#[test]
fn demo_once_converges_and_exits_zero() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = support::arg(dir.path(), "demo");
    let o = support::run_with_limit(
        &[
            "--lang",
            "en",
            "demo",
            "--once",
            "--members-per-cell",
            "10",
            "--dir",
            &d,
        ],
        Duration::from_secs(60),
    );
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    assert!(
        o.stdout.contains("The city holds all 80 members"),
        "{}",
        o.stdout
    );
    assert_eq!(
        o.stdout.matches("visible at the city").count(),
        3,
        "{}",
        o.stdout
    );
    // Every process it started has stopped: the data directories are free again.
    let city = dir.path().join("demo/hn");
    let node = rollmesh::Node::open(&city).expect("the city's store is no longer held");
    assert_eq!(node.store().member_count(), 80);
}
