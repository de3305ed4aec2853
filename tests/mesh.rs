//! The mesh over real QUIC on 127.0.0.1 and real sled: the design card's four-level tree, every node its
//! own `rollmesh run` process. Convergence means identical heads for every document at every node
//! covering it; stores are checked by reading them after the processes stop.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use rollmesh::demo::Mesh;
use rollmesh::Node;
use rollmesh_model::{DossierEdit, Field, MemberId, OrgTree, UnitPath};
use serde_json::json;

fn tree() -> OrgTree {
    OrgTree::from_toml(rollmesh::org::DEMO_TREE).expect("demo tree")
}

fn mesh(dir: &std::path::Path, per_cell: usize) -> (Mesh, u64) {
    let t = tree();
    let m = Mesh::create(&support::bin(), dir, &t).expect("mesh");
    let total = m.seed(&t, per_cell).expect("seed") as u64;
    (m, total)
}

const LIMIT: Duration = Duration::from_secs(60);

/// Reads every store (processes stopped) and checks: each node holds exactly its subtree's members, and
/// every document has identical heads at every node holding it.
fn check_stores(m: &Mesh, expected_total: usize) {
    let mut heads: BTreeMap<MemberId, Vec<automerge::ChangeHash>> = BTreeMap::new();
    let mut all: BTreeMap<MemberId, UnitPath> = BTreeMap::new();
    let city = Node::open(&m.nodes[0].data).expect("open city");
    for r in city.store().list(None).expect("list") {
        all.insert(r.id, r.unit().expect("unit"));
    }
    assert_eq!(all.len(), expected_total, "the city holds every member");
    drop(city);
    for n in &m.nodes {
        let node = Node::open(&n.data).expect("open");
        let held: Vec<MemberId> = node
            .store()
            .list(None)
            .expect("list")
            .iter()
            .map(|r| r.id)
            .collect();
        let expected: Vec<MemberId> = all
            .iter()
            .filter(|(_, u)| n.unit.covers(u))
            .map(|(id, _)| *id)
            .collect();
        let mut held_sorted = held.clone();
        held_sorted.sort();
        assert_eq!(
            held_sorted, expected,
            "{} holds exactly its subtree",
            n.unit
        );
        for id in held {
            let h = node
                .store()
                .dossier(&id)
                .expect("read")
                .expect("doc")
                .doc()
                .get_heads();
            let e = heads.entry(id).or_insert_with(|| h.clone());
            assert_eq!(*e, h, "heads of {id} differ at {}", n.unit);
        }
        assert!(
            node.store().verify().expect("verify").is_clean(),
            "{} verify",
            n.unit
        );
    }
}

fn dump(m: &Mesh, e: anyhow::Error) -> std::time::Duration {
    panic!("{e}\n{}", m.report())
}

#[test]
fn four_levels_converge_both_ways_and_hold_exactly_their_subtree() {
    let _serial = support::mesh_lock();
    let dir = tempfile::tempdir().expect("tmp");
    let (mut m, total) = mesh(dir.path(), 5);
    m.start_all().expect("start");
    m.wait_until(LIMIT, |m| m.count(0) == Some(total))
        .unwrap_or_else(|e| dump(&m, e));

    // An edit at the city reaches exactly the cell that owns the member.
    let cell = m.index("hn.d02.w01.c02");
    let list = m.admin(cell, &json!({"cmd": "member.list"})).expect("list");
    let id = list["members"][0]["id"].as_str().expect("id").to_string();
    m.admin(
        0,
        &json!({"cmd": "member.edit", "id": id, "fields": {"workplace": "Sở Giáo dục Hà Nội"}}),
    )
    .expect("edit at city");
    m.wait_until(LIMIT, |m| {
        m.admin(cell, &json!({"cmd": "member.show", "id": id}))
            .map(|v| v["workplace"] == "Sở Giáo dục Hà Nội")
            .unwrap_or(false)
    })
    .expect("the edit reaches the owning cell");
    // An edit at every cell reaches the city.
    let cells: Vec<usize> = (0..m.nodes.len())
        .filter(|i| m.nodes[*i].unit.depth() == 3)
        .collect();
    let mut edited = Vec::new();
    for c in &cells {
        let l = m.admin(*c, &json!({"cmd": "member.list"})).expect("list");
        let id = l["members"][1]["id"].as_str().expect("id").to_string();
        let phone = format!("0912{:06}", c);
        m.admin(
            *c,
            &json!({"cmd": "member.edit", "id": id, "fields": {"phone": phone}}),
        )
        .expect("edit");
        edited.push((id, phone));
    }
    m.wait_until(LIMIT, |m| {
        edited.iter().all(|(id, phone)| {
            m.admin(0, &json!({"cmd": "member.show", "id": id}))
                .map(|v| v["phone"].as_str() == Some(phone.as_str()))
                .unwrap_or(false)
        })
    })
    .unwrap_or_else(|e| {
        for (i, n) in m.nodes.iter().enumerate() {
            eprintln!(
                "== {} {:?}",
                n.unit,
                m.admin(i, &json!({"cmd": "status"})).ok()
            );
            eprintln!(
                "{}",
                std::fs::read_to_string(n.data.join("node.log"))
                    .unwrap_or_default()
                    .lines()
                    .rev()
                    .take(5)
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        panic!("every cell's edit reaches the city: {e}")
    });
    // Wait until every node has settled, then stop and read the stores.
    m.wait_until(LIMIT, |m| {
        (0..m.nodes.len()).all(|i| {
            let Ok(v) = m.admin(i, &json!({"cmd": "status"})) else {
                return false;
            };
            v["peers"]
                .as_array()
                .map(|p| p.iter().all(|p| p["backlog"] == 0))
                .unwrap_or(true)
        })
    })
    .expect("settled");
    std::thread::sleep(Duration::from_millis(500));
    m.stop_all();
    check_stores(&m, total as usize);
}

#[test]
fn a_cut_link_heals_and_a_killed_node_rejoins() {
    let _serial = support::mesh_lock();
    let dir = tempfile::tempdir().expect("tmp");
    let (mut m, total) = mesh(dir.path(), 3);
    m.start_all().expect("start");
    m.wait_until(LIMIT, |m| m.count(0) == Some(total))
        .expect("converged");
    let c = m.index("hn.d01.w02.c01");
    let w = m.index("hn.d01.w02");
    let id = m.admin(c, &json!({"cmd": "member.list"})).expect("list")["members"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();

    // Cut the cell off (its process stops), edit on both sides of the cut.
    m.stop(c, false);
    {
        let node = Node::open(&m.nodes[c].data).expect("open cell offline");
        let mid: MemberId = id.parse().expect("id");
        let mut e = DossierEdit::default();
        e.set.insert(Field::Phone, "0987000111".into());
        e.set
            .insert(Field::CurrentResidence, "Ngõ 5 Láng Hạ".into());
        assert!(node.edit_member(mid, &e).expect("edit offline"));
    }
    m.admin(w, &json!({"cmd": "member.edit", "id": id, "fields": {"workplace": "UBND phường", "current_residence": "Số 1 Hàng Bài"}}))
        .expect("edit at ward");
    m.start(c).expect("restart cell");
    for node in [0, c, w] {
        m.wait_until(LIMIT, |m| {
            m.admin(node, &json!({"cmd": "member.show", "id": id}))
                .map(|v| v["phone"] == "0987000111" && v["workplace"] == "UBND phường")
                .unwrap_or(false)
        })
        .expect("both sides' edits everywhere");
    }

    // kill -9 a middle node; the mesh keeps working around it and it rejoins.
    let d = m.index("hn.d01");
    m.stop(d, true);
    let added = m
        .admin(
            c,
            &json!({"cmd": "member.add", "fields": {"full_name": "Lý Thị Sau Sự Cố"}}),
        )
        .expect("add while the district is down");
    let new_id = added["id"].as_str().expect("id").to_string();
    m.start(d).expect("restart district");
    m.wait_until(LIMIT, |m| m.count(0) == Some(total + 1))
        .expect("the new member reaches the city");
    m.wait_until(LIMIT, |m| {
        m.admin(0, &json!({"cmd": "member.show", "id": new_id}))
            .is_ok()
    })
    .expect("present");
    std::thread::sleep(Duration::from_millis(800));
    m.stop_all();
    check_stores(&m, total as usize + 1);
}

#[test]
fn a_transfer_moves_the_record_between_districts() {
    let _serial = support::mesh_lock();
    let dir = tempfile::tempdir().expect("tmp");
    let (mut m, total) = mesh(dir.path(), 3);
    m.start_all().expect("start");
    m.wait_until(LIMIT, |m| m.count(0) == Some(total))
        .unwrap_or_else(|e| dump(&m, e));
    let from = m.index("hn.d01.w01.c01");
    let id = m.admin(from, &json!({"cmd": "member.list"})).expect("list")["members"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    // Edit it at its old cell first, so its history has more than one change.
    m.admin(
        from,
        &json!({"cmd": "member.edit", "id": id, "fields": {"phone": "0911000222"}}),
    )
    .expect("edit");
    m.wait_until(LIMIT, |m| {
        m.admin(0, &json!({"cmd": "member.show", "id": id}))
            .map(|v| v["phone"] == "0911000222")
            .unwrap_or(false)
    })
    .expect("edit at the city");
    // The city, whose scope covers both cells, transfers the member to a cell in district 2.
    m.admin(
        0,
        &json!({"cmd": "member.edit", "id": id, "fields": {"unit": "hn.d02.w01.c02"}}),
    )
    .expect("transfer");
    let to = m.index("hn.d02.w01.c02");
    m.wait_until(LIMIT, |m| {
        m.admin(to, &json!({"cmd": "member.show", "id": id}))
            .map(|v| v["unit"] == "hn.d02.w01.c02" && v["phone"] == "0911000222")
            .unwrap_or(false)
    })
    .unwrap_or_else(|e| dump(&m, e));
    m.wait_until(LIMIT, |m| {
        m.admin(from, &json!({"cmd": "member.show", "id": id}))
            .is_err()
    })
    .unwrap_or_else(|e| dump(&m, e));
    std::thread::sleep(Duration::from_secs(1));
    m.stop_all();
    let mid: MemberId = id.parse().expect("id");
    for unit in ["hn", "hn.d02", "hn.d02.w01", "hn.d02.w01.c02"] {
        let node = Node::open(&m.nodes[m.index(unit)].data).expect("open");
        let rec = node
            .store()
            .record(&mid)
            .expect("read")
            .unwrap_or_else(|| panic!("{unit} holds the member"));
        assert_eq!(rec.get(Field::Unit), Some("hn.d02.w01.c02"));
    }
    for unit in ["hn.d01", "hn.d01.w01", "hn.d01.w01.c01"] {
        let node = Node::open(&m.nodes[m.index(unit)].data).expect("open");
        assert!(
            node.store().record(&mid).expect("read").is_none(),
            "{unit} no longer holds the member"
        );
        assert!(
            node.store().dossier(&mid).expect("read").is_none(),
            "{unit} keeps no document"
        );
        assert!(
            node.store().history(&mid).expect("read").is_empty(),
            "{unit} keeps no history"
        );
        assert!(
            node.store().verify().expect("verify").is_clean(),
            "{unit} verify"
        );
    }
    check_stores(&m, total as usize);
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).expect("copy");
        }
    }
}

#[test]
fn a_restored_node_reconciles_instead_of_trusting_stale_checkpoints() {
    let _serial = support::mesh_lock();
    let dir = tempfile::tempdir().expect("tmp");
    let (mut m, _) = mesh(dir.path(), 20);
    let w = m.index("hn.d01.w01");
    let c1 = m.index("hn.d01.w01.c01");
    let c2 = m.index("hn.d01.w01.c02");
    for i in [w, c1, c2] {
        m.start(i).expect("start");
    }
    m.wait_until(LIMIT, |m| m.count(w) == Some(40))
        .unwrap_or_else(|e| dump(&m, e));
    m.stop(w, false);
    let backup = dir.path().join("ward-backup");
    copy_dir(&m.nodes[w].data, &backup);
    m.start(w).expect("restart ward");
    for k in 0..3 {
        m.admin(
            c1,
            &json!({"cmd": "member.add", "fields": {"full_name": format!("Mới Sau Sao Lưu {k}")}}),
        )
        .expect("add");
    }
    m.wait_until(LIMIT, |m| m.count(w) == Some(43))
        .unwrap_or_else(|e| dump(&m, e));
    // Both cells have taken in the ward's whole log, so their checkpoints point past the backup's.
    m.wait_until(LIMIT, |m| {
        let Some(head) = m
            .admin(w, &json!({"cmd": "status"}))
            .ok()
            .and_then(|v| v["log_seq"].as_u64())
        else {
            return false;
        };
        [c1, c2].iter().all(|c| {
            m.admin(*c, &json!({"cmd": "status"}))
                .ok()
                .and_then(|v| v["peers"][0]["applied_seq"].as_u64())
                == Some(head)
        })
    })
    .unwrap_or_else(|e| dump(&m, e));
    // Disaster: the ward's disk is replaced by last night's backup.
    m.stop(w, false);
    std::fs::remove_dir_all(&m.nodes[w].data).expect("rm");
    copy_dir(&backup, &m.nodes[w].data);
    m.start(w).expect("start restored ward");
    m.wait_until(LIMIT, |m| m.count(w) == Some(43))
        .unwrap_or_else(|e| dump(&m, e));
    // The cells' checkpoints pointed past the restored log: the ward took a new log index and the cells
    // reconciled their documents with it.
    let log = std::fs::read_to_string(m.nodes[w].data.join("node.log")).unwrap_or_default();
    assert!(log.contains("new log index"), "{log}");
    // Everything still flows both ways afterwards.
    let id = m.admin(c2, &json!({"cmd": "member.list"})).expect("list")["members"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    m.admin(
        w,
        &json!({"cmd": "member.edit", "id": id, "fields": {"phone": "0933000111"}}),
    )
    .expect("edit at ward");
    m.wait_until(LIMIT, |m| {
        m.admin(c2, &json!({"cmd": "member.show", "id": id}))
            .map(|v| v["phone"] == "0933000111")
            .unwrap_or(false)
    })
    .unwrap_or_else(|e| dump(&m, e));
    std::thread::sleep(Duration::from_millis(500));
    m.stop_all();
    for i in [w, c1, c2] {
        let node = Node::open(&m.nodes[i].data).expect("open");
        assert!(node.store().verify().expect("verify").is_clean());
    }
}

#[test]
fn two_city_replicas_sync_without_a_central_server() {
    let _serial = support::mesh_lock();
    let dir = tempfile::tempdir().expect("tmp");
    let (mut m, total) = mesh(dir.path(), 4);
    // A standby city node: its own key, certified by the root for the whole city, dialing the first city.
    let standby = dir.path().join("standby");
    let root_pub = std::fs::read_to_string(dir.path().join("root.key.pub")).expect("root pub");
    let root_arg = root_pub.trim().to_string();
    let sb = standby.to_string_lossy().to_string();
    support::ok(&["init", "--unit", "hn", "--root", &root_arg, "--data", &sb]);
    let req = dir.path().join("standby.req").to_string_lossy().to_string();
    let chain = dir
        .path()
        .join("standby.chain")
        .to_string_lossy()
        .to_string();
    let root_key = dir.path().join("root.key").to_string_lossy().to_string();
    support::ok(&["credential", "request", "--data", &sb, "--out", &req]);
    support::ok(&[
        "credential",
        "issue",
        "--request",
        &req,
        "--unit",
        "hn",
        "--root-key",
        &root_key,
        "--out",
        &chain,
    ]);
    support::ok(&["credential", "install", &chain, "--data", &sb]);
    {
        let mut node = Node::open(&standby).expect("open standby");
        let mut s = node.settings().clone();
        s.listen = Some("127.0.0.1:0".into());
        s.peers = vec![rollmesh::PeerSettings {
            address: m.nodes[0].addr.clone(),
            node_id: None,
            name: Some("city".into()),
        }];
        node.save_settings(s).expect("settings");
    }
    m.start_all().expect("start");
    m.wait_until(LIMIT, |m| m.count(0) == Some(total))
        .unwrap_or_else(|e| dump(&m, e));
    let _guard = support::spawn_node(&standby);
    let count = |d: &std::path::Path| {
        rollmesh::client::call(d, &json!({"cmd": "status"}))
            .ok()
            .and_then(|v| v["members"].as_u64())
    };
    m.wait_until(LIMIT, |_| count(&standby) == Some(total))
        .unwrap_or_else(|e| dump(&m, e));
    // An edit made at the standby city reaches the owning cell through the first city.
    let cell = m.index("hn.d01.w02.c02");
    let id = m.admin(cell, &json!({"cmd": "member.list"})).expect("list")["members"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    rollmesh::client::call(
        &standby,
        &json!({"cmd": "member.edit", "id": id, "fields": {"phone": "0977000333"}}),
    )
    .expect("edit at standby");
    m.wait_until(LIMIT, |m| {
        m.admin(cell, &json!({"cmd": "member.show", "id": id}))
            .map(|v| v["phone"] == "0977000333")
            .unwrap_or(false)
    })
    .unwrap_or_else(|e| dump(&m, e));
}

#[test]
fn nodes_joining_late_catch_up_and_forward_edits() {
    let _serial = support::mesh_lock();
    let dir = tempfile::tempdir().expect("tmp");
    let (mut m, total) = mesh(dir.path(), 6);
    // Everything but one ward and its cells runs first; then they join.
    let w = m.index("hn.d02.w02");
    let c1 = m.index("hn.d02.w02.c01");
    let c2 = m.index("hn.d02.w02.c02");
    for i in 0..m.nodes.len() {
        if i != w && i != c1 && i != c2 {
            m.start(i).expect("start");
        }
    }
    m.wait_until(LIMIT, |m| m.count(0) == Some(total - 12))
        .unwrap_or_else(|e| dump(&m, e));
    for i in [w, c1, c2] {
        m.start(i).expect("start late");
    }
    m.wait_until(LIMIT, |m| m.count(0) == Some(total))
        .unwrap_or_else(|e| dump(&m, e));
    let id = m.admin(c1, &json!({"cmd": "member.list"})).expect("list")["members"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    m.admin(
        c1,
        &json!({"cmd": "member.edit", "id": id, "fields": {"phone": "0966000444"}}),
    )
    .expect("edit");
    m.wait_until(LIMIT, |m| {
        m.admin(0, &json!({"cmd": "member.show", "id": id}))
            .map(|v| v["phone"] == "0966000444")
            .unwrap_or(false)
    })
    .unwrap_or_else(|e| dump(&m, e));
}
