//! Trust on the network: refused connections name their reason in the log, a peer never receives
//! documents outside its scope, and a revocation made at a district reaches every node and shuts the
//! revoked cell out.

mod support;

use std::time::Duration;

use rollmesh::demo::Mesh;
use rollmesh::{Node, PeerSettings};
use rollmesh_model::{OrgTree, UnitPath};
use rollmesh_proto::{roles, Chain, Credential, NodeKey};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(60);

fn tree() -> OrgTree {
    OrgTree::from_toml(rollmesh::org::DEMO_TREE).expect("demo tree")
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

fn log_of(m: &Mesh, i: usize) -> String {
    std::fs::read_to_string(m.nodes[i].data.join("node.log")).unwrap_or_default()
}

/// A node outside the mesh that dials the city with whatever credential it is given.
fn outsider(
    dir: &std::path::Path,
    name: &str,
    unit: &str,
    root: rollmesh_proto::NodePublicKey,
    city_addr: &str,
) -> (std::path::PathBuf, Node) {
    let data = dir.join(name);
    let mut node = Node::init(
        &data,
        UnitPath::parse(unit).expect("unit"),
        None,
        Some(root),
    )
    .expect("init");
    let mut s = node.settings().clone();
    s.listen = Some("127.0.0.1:0".into());
    s.peers = vec![PeerSettings {
        address: city_addr.into(),
        node_id: None,
        name: Some("city".into()),
    }];
    node.save_settings(s).expect("settings");
    (data, node)
}

fn wait_log(path: &std::path::Path, needle: &str) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < LIMIT {
        if std::fs::read_to_string(path)
            .unwrap_or_default()
            .contains(needle)
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn refused_peers_are_named_with_their_reason() {
    let _serial = support::mesh_lock();
    let dir = tempfile::tempdir().expect("tmp");
    let t = tree();
    let mut m = Mesh::create(&support::bin(), &dir.path().join("org"), &t).expect("mesh");
    m.seed(&t, 2).expect("seed");
    // Only the city runs; outsiders dial it.
    m.start(0).expect("city");
    m.wait_until(LIMIT, |m| m.count(0).is_some())
        .expect("city up");
    let city_addr = m.nodes[0].addr.clone();
    let root_text = std::fs::read_to_string(dir.path().join("org/root.key.pub")).expect("root pub");
    let root = rollmesh_proto::NodePublicKey::from_hex(root_text.trim()).expect("root");
    let root_key = NodeKey::from_file_text(
        &std::fs::read_to_string(dir.path().join("org/root.key"))
            .expect("root key")
            .replace("root-key", "node-key"),
    )
    .expect("root key file");

    // 1. No credential at all.
    let (a, _) = outsider(dir.path(), "nocred", "hn.d09", root, &city_addr);
    // 2. A credential from another organisation's root.
    let (b, node_b) = outsider(dir.path(), "foreign", "hn.d08", root, &city_addr);
    let other_root = NodeKey::generate();
    let foreign = Chain(vec![Credential::issue(
        &other_root,
        node_b.public_key(),
        UnitPath::parse("hn.d08").expect("u"),
        roles::ALL,
        now() - 60,
        now() + 86_400,
        1,
    )]);
    // 3. An expired credential from our root.
    let (c, node_c) = outsider(dir.path(), "expired", "hn.d07", root, &city_addr);
    let expired = Chain(vec![Credential::issue(
        &root_key,
        node_c.public_key(),
        UnitPath::parse("hn.d07").expect("u"),
        roles::ALL,
        now() - 10 * 86_400,
        now() - 86_400,
        2,
    )]);
    // 4. A valid credential — for another key than the one in its TLS certificate.
    let (d, _) = outsider(dir.path(), "mismatch", "hn.d06", root, &city_addr);
    let someone = NodeKey::generate();
    let borrowed = Chain(vec![Credential::issue(
        &root_key,
        someone.public(),
        UnitPath::parse("hn.d06").expect("u"),
        roles::ALL,
        now() - 60,
        now() + 86_400,
        3,
    )]);
    for (data, node, chain) in [
        (&b, node_b, &foreign),
        (&c, node_c, &expired),
        (&d, Node::open(&d).expect("open"), &borrowed),
    ] {
        std::fs::write(data.join("presented.chain"), chain.to_file()).expect("write chain");
        let mut node = node;
        let mut s = node.settings().clone();
        s.credential_file = Some("presented.chain".into());
        node.save_settings(s).expect("settings");
    }
    let _guards: Vec<_> = [&a, &b, &c, &d]
        .iter()
        .map(|p| support::spawn_node(p))
        .collect();
    let city_log = m.nodes[0].data.join("node.log");
    for reason in ["no_credential", "wrong_root", "expired", "key_mismatch"] {
        assert!(
            wait_log(&city_log, reason),
            "the city's log names {reason}:\n{}",
            log_of(&m, 0)
        );
    }
    drop(_guards);
    for p in [&a, &b, &c, &d] {
        let n = Node::open(p).expect("open outsider");
        assert_eq!(
            n.store().member_count(),
            0,
            "a refused node received nothing"
        );
    }
}

#[test]
fn a_peer_gets_nothing_outside_its_scope() {
    let _serial = support::mesh_lock();
    let dir = tempfile::tempdir().expect("tmp");
    let t = tree();
    let mut m = Mesh::create(&support::bin(), dir.path(), &t).expect("mesh");
    let total = m.seed(&t, 4).expect("seed") as u64;
    // Point one cell straight at the city (a neighbour path), then run everything.
    let c = m.index("hn.d02.w02.c01");
    let city_id = Node::open(&m.nodes[0].data).expect("city").id().to_string();
    {
        let mut node = Node::open(&m.nodes[c].data).expect("cell");
        let mut s = node.settings().clone();
        s.peers = vec![PeerSettings {
            address: m.nodes[0].addr.clone(),
            node_id: Some(city_id),
            name: Some("city".into()),
        }];
        node.save_settings(s).expect("settings");
    }
    m.start_all().expect("start");
    m.wait_until(LIMIT, |m| m.count(0) == Some(total))
        .expect("converged at the city");
    // The city holds everything, and the cell is connected to it; give pushes time to happen.
    std::thread::sleep(Duration::from_secs(2));
    m.stop_all();
    let node = Node::open(&m.nodes[c].data).expect("cell store");
    let units: Vec<UnitPath> = node
        .store()
        .list(None)
        .expect("list")
        .iter()
        .filter_map(|r| r.unit())
        .collect();
    assert_eq!(units.len(), 4);
    assert!(
        units.iter().all(|u| u.as_str() == "hn.d02.w02.c01"),
        "{units:?}"
    );
}

#[test]
fn a_revocation_reaches_every_node_and_shuts_the_cell_out() {
    let _serial = support::mesh_lock();
    let dir = tempfile::tempdir().expect("tmp");
    let t = tree();
    let mut m = Mesh::create(&support::bin(), dir.path(), &t).expect("mesh");
    let total = m.seed(&t, 2).expect("seed") as u64;
    m.start_all().expect("start");
    m.wait_until(LIMIT, |m| m.count(0) == Some(total))
        .unwrap_or_else(|e| panic!("converged: {e}\n{}", m.report()));
    let cell = m.index("hn.d01.w01.c01");
    let district = m.index("hn.d01");
    let cell_id = Node::read_id(&m.nodes[cell].data)
        .expect("key file")
        .to_string();
    // A clerk lists the cell's members while its node runs: rows, not just a count.
    let cell_data = m.nodes[cell].data.to_string_lossy().to_string();
    let listed = support::ok(&["member", "list", "--data", &cell_data]).stdout;
    let rows = listed
        .lines()
        .filter(|l| l.contains("hn.d01.w01.c01"))
        .count();
    assert_eq!(
        rows, 2,
        "one row per member through the running node:\n{listed}"
    );
    // Revoke through the CLI while the district runs (it forwards to the running node).
    let district_data = m.nodes[district].data.to_string_lossy().to_string();
    support::ok(&[
        "credential",
        "revoke",
        "--node-id",
        &cell_id,
        "--data",
        &district_data,
    ]);
    // Within one propagation round every node holds it and the cell is refused.
    let ward = m.index("hn.d01.w01");
    m.wait_until(LIMIT, |m| log_of(m, ward).contains("revoked"))
        .expect("the ward drops the cell");
    let before = m.count(0).expect("city count");
    m.admin(
        cell,
        &json!({"cmd": "member.add", "fields": {"full_name": "Sau Khi Bị Thu Hồi"}}),
    )
    .expect("local add");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        m.count(0),
        Some(before),
        "the revoked cell's new member does not reach the city"
    );
    m.wait_until(LIMIT, |m| {
        (0..m.nodes.len())
            .filter(|i| *i != cell)
            .all(|i| m.admin(i, &json!({"cmd": "status"})).is_ok())
    })
    .expect("all up");
    std::thread::sleep(Duration::from_secs(1));
    m.stop_all();
    // Every other node holds the revocation; the cell's later changes are quarantined wherever they land.
    let bundle = dir.path().join("cell-after.bundle");
    let cell_data = m.nodes[cell].data.to_string_lossy().to_string();
    support::ok(&[
        "bundle",
        "export",
        "--data",
        &cell_data,
        "--out",
        &bundle.to_string_lossy(),
    ]);
    for (i, n) in m.nodes.iter().enumerate() {
        if i == cell {
            continue;
        }
        let node = Node::open(&n.data).expect("open");
        assert_eq!(
            node.revocations().expect("revocations").len(),
            1,
            "{} holds the revocation",
            n.unit
        );
        drop(node);
        if n.unit.covers(&m.nodes[cell].unit) {
            let data = n.data.to_string_lossy().to_string();
            let o = support::run(&[
                "bundle",
                "import",
                &bundle.to_string_lossy(),
                "--data",
                &data,
                "--json",
            ]);
            assert_eq!(o.code, 4, "{}: {}", n.unit, o.stdout);
            let q = support::ok(&["quarantine", "list", "--data", &data, "--json"]).json();
            assert!(
                q.as_array()
                    .expect("a")
                    .iter()
                    .any(|e| e["code"] == "revoked"),
                "{}",
                n.unit
            );
        }
    }
}
