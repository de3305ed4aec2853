//! Cases over real processes: `rollmesh run` per node on 127.0.0.1, the clerk's `case` commands at the
//! cell, the ward and the district reaching the running nodes through their APIs, the steps travelling
//! the mesh, and the status they decide seen everywhere.

mod support;

use std::time::Duration;

use rollmesh::demo::Mesh;
use rollmesh_model::OrgTree;
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(60);

fn data(m: &Mesh, unit: &str) -> String {
    m.nodes[m.index(unit)].data.to_string_lossy().into_owned()
}

/// Adds a member at a stopped node with the CLI; returns the id.
fn add(data: &str, name: &str, dob: &str, status: &str) -> String {
    let o = support::ok(&[
        "member", "add", "--data", data, "--name", name, "--dob", dob, "--status", status, "--json",
    ]);
    o.json()["id"].as_str().expect("id").to_string()
}

/// `member show --json` at a running node, or `Null` while it does not hold the member.
fn show(m: &Mesh, unit: &str, id: &str) -> Value {
    m.admin(m.index(unit), &json!({"cmd": "member.show", "id": id}))
        .unwrap_or(Value::Null)
}

fn field(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or("").to_string()
}

/// Whether `unit`'s inbox (`case list --waiting`) holds `id`'s case waiting for `next`.
fn waiting(m: &Mesh, unit: &str, id: &str, next: &str) -> bool {
    let o = support::run(&[
        "case",
        "list",
        "--waiting",
        "--json",
        "--data",
        &data(m, unit),
    ]);
    o.code == 0
        && o.json()["cases"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["member"] == id && c["next"] == next)
}

/// `rollmesh case step` at `unit`, which must succeed; returns its output.
fn step(m: &Mesh, unit: &str, id: &str, what: &str, extra: &[&str]) -> String {
    let d = data(m, unit);
    let args = [&["case", "step", id, what, "--data", &d][..], extra].concat();
    support::ok(&args).stdout
}

fn flags(m: &Mesh, unit: &str, rule: &str, as_of: &str) -> Vec<Value> {
    let o = support::ok(&[
        "screen",
        "list",
        "--rule",
        rule,
        "--as-of",
        as_of,
        "--json",
        "--data",
        &data(m, unit),
    ]);
    o.json()["flags"].as_array().cloned().unwrap_or_default()
}

#[test]
fn an_admission_opened_at_a_cell_is_resolved_at_the_ward_decided_at_the_district_and_confirmed() {
    const CELL: &str = "hn.d01.w01.c01";
    const WARD: &str = "hn.d01.w01";
    const DISTRICT: &str = "hn.d01";
    let _serial = support::mesh_lock();
    let dir = tempfile::tempdir().expect("tmp");
    let tree = OrgTree::from_toml(rollmesh::org::DEMO_TREE).expect("demo tree");
    let mut m = Mesh::create(&support::bin(), dir.path(), &tree).expect("mesh");
    let cell_data = data(&m, CELL);
    let a = add(&cell_data, "Trần Văn Bình", "12/03/1970", "official");
    let b = add(&cell_data, "Lê Thị Cúc", "01/07/1975", "official");
    add(&cell_data, "Phạm Văn Dũng", "20/10/1980", "official");
    let cand = add(&cell_data, "Nguyễn Văn An", "05/05/1998", "candidate");
    for unit in ["hn", DISTRICT, WARD, CELL] {
        m.start(m.index(unit)).expect("start");
    }

    // The cell opens the case and votes, with the node running.
    let o = support::ok(&[
        "case",
        "open",
        &cand,
        "admission",
        "--sponsor",
        &a,
        "--sponsor",
        &b,
        "--certificate",
        "GCN số 15/2024",
        "--date",
        "06/01/2025",
        "--data",
        &cell_data,
    ]);
    assert!(o.stdout.contains("Nguyễn Văn An"), "{}", o.stdout);
    let out = step(
        &m,
        CELL,
        &cand,
        "vote",
        &["--for", "3", "--against", "0", "--date", "20/01/2025"],
    );
    assert!(out.contains("3 tán thành"), "{out}");
    // The cell may not resolve or decide its own admission: refused with the level that may.
    let o = support::run(&[
        "case",
        "step",
        &cand,
        "decision",
        "--date",
        "21/01/2025",
        "--data",
        &cell_data,
    ]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("chưa đến lượt"), "{}", o.stderr);

    // The ward's inbox holds it; the ward resolves; the district decides.
    m.wait_until(LIMIT, |m| waiting(m, WARD, &cand, "resolution"))
        .unwrap_or_else(|e| panic!("{e}\n{}", m.report()));
    let o = support::run(&[
        "case",
        "step",
        &cand,
        "decision",
        "--date",
        "21/01/2025",
        "--data",
        &data(&m, WARD),
    ]);
    assert_ne!(o.code, 0, "{}", o.stdout);
    step(
        &m,
        WARD,
        &cand,
        "resolution",
        &["--number", "15-NQ/ĐU", "--date", "03/02/2025"],
    );
    m.wait_until(LIMIT, |m| waiting(m, DISTRICT, &cand, "decision"))
        .unwrap_or_else(|e| panic!("{e}\n{}", m.report()));
    let o = support::run(&[
        "case",
        "step",
        &cand,
        "decision",
        "--date",
        "03/03/2025",
        "--data",
        &data(&m, WARD),
    ]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("Quận/Huyện"), "{}", o.stderr);
    let out = step(
        &m,
        DISTRICT,
        &cand,
        "decision",
        &["--number", "125-QĐ/QU", "--date", "03/03/2025"],
    );
    assert!(out.contains("Dự bị"), "{out}");

    // The decision arrives back at the cell, and at the city: probationary, admitted on 03/03/2025.
    for unit in [CELL, WARD, "hn"] {
        m.wait_until(LIMIT, |m| {
            let v = show(m, unit, &cand);
            field(&v, "status") == "probationary" && field(&v, "admission_date") == "2025-03-03"
        })
        .unwrap_or_else(|e| panic!("{unit}: {e}\n{}", m.report()));
    }
    step(&m, CELL, &cand, "ceremony", &["--date", "20/03/2025"]);

    // Twelve months on, the probation alert is raised at the cell and at the ward.
    m.wait_until(LIMIT, |m| flags(m, WARD, "R8", "21/03/2026").len() == 1)
        .unwrap_or_else(|e| panic!("{e}\n{}", m.report()));
    let at_cell = flags(&m, CELL, "R8", "21/03/2026");
    assert_eq!(at_cell.len(), 1, "{at_cell:?}");
    assert!(
        at_cell[0]["explanation_vi"]
            .as_str()
            .unwrap_or("")
            .contains("20/03/2025"),
        "{at_cell:?}"
    );
    assert!(flags(&m, CELL, "R8", "19/03/2026").is_empty());

    // The cell reviews, the district confirms: official everywhere.
    step(
        &m,
        CELL,
        &cand,
        "review",
        &["--for", "3", "--against", "0", "--date", "26/03/2026"],
    );
    m.wait_until(LIMIT, |m| waiting(m, DISTRICT, &cand, "confirm"))
        .unwrap_or_else(|e| panic!("{e}\n{}", m.report()));
    step(
        &m,
        DISTRICT,
        &cand,
        "confirm",
        &["--number", "40-QĐ/QU", "--date", "06/04/2026"],
    );
    for unit in [CELL, WARD, DISTRICT, "hn"] {
        m.wait_until(LIMIT, |m| {
            let v = show(m, unit, &cand);
            field(&v, "status") == "official" && field(&v, "official_date") == "2026-03-20"
        })
        .unwrap_or_else(|e| panic!("{unit}: {e}\n{}", m.report()));
    }
    // The case reads the same at the cell: every step, who took it, and done.
    let v = support::ok(&["case", "show", &cand, "--json", "--data", &cell_data]).json();
    let c = &v["cases"][0];
    assert_eq!(c["state"]["state"], "done", "{v}");
    let units: Vec<&str> = c["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["unit"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(units, [CELL, CELL, WARD, DISTRICT, CELL, CELL, DISTRICT]);
    // Nothing anywhere was quarantined.
    for unit in [CELL, WARD, DISTRICT, "hn"] {
        let q = m
            .admin(m.index(unit), &json!({"cmd": "quarantine.list"}))
            .expect("quarantine");
        assert_eq!(
            q["entries"].as_array().map(Vec::len).unwrap_or(0),
            0,
            "{unit}: {q}"
        );
    }
    m.stop_all();
}

#[test]
fn in_the_three_level_tree_the_ward_decides_and_a_candidate_over_sixty_needs_the_city() {
    const CELL: &str = "hn.p01.c01";
    const WARD: &str = "hn.p01";
    let _serial = support::mesh_lock();
    let dir = tempfile::tempdir().expect("tmp");
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/org-3level.toml"),
    )
    .expect("three-level tree");
    let tree = OrgTree::from_toml(&text).expect("tree");
    let mut m = Mesh::create(&support::bin(), dir.path(), &tree).expect("mesh");
    let cell_data = data(&m, CELL);
    let a = add(&cell_data, "Trần Văn Bình", "12/03/1970", "official");
    let b = add(&cell_data, "Lê Thị Cúc", "01/07/1975", "official");
    add(&cell_data, "Phạm Văn Dũng", "20/10/1980", "official");
    let young = add(&cell_data, "Nguyễn Văn An", "05/05/1998", "candidate");
    let old = add(&cell_data, "Hoàng Văn Bảy", "01/02/1963", "candidate");
    let minor = add(&cell_data, "Đỗ Thị Hoa", "01/09/2008", "candidate");
    for unit in ["hn", WARD, CELL] {
        m.start(m.index(unit)).expect("start");
    }
    for id in [&young, &old, &minor] {
        support::ok(&[
            "case",
            "open",
            id,
            "admission",
            "--sponsor",
            &a,
            "--sponsor",
            &b,
            "--certificate",
            "GCN",
            "--date",
            "06/01/2025",
            "--data",
            &cell_data,
        ]);
    }
    // R13: under 18 at the vote is refused; over 60 is recorded and goes to the city.
    let o = support::run(&[
        "case",
        "step",
        &minor,
        "vote",
        "--for",
        "3",
        "--against",
        "0",
        "--date",
        "20/01/2025",
        "--data",
        &cell_data,
    ]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("R13"), "{}", o.stderr);
    for id in [&young, &old] {
        step(
            &m,
            CELL,
            id,
            "vote",
            &["--for", "3", "--against", "0", "--date", "20/01/2025"],
        );
    }
    for id in [&young, &old] {
        m.wait_until(LIMIT, |m| waiting(m, WARD, id, "resolution"))
            .unwrap_or_else(|e| panic!("{e}\n{}", m.report()));
        step(
            &m,
            WARD,
            id,
            "resolution",
            &["--number", "7-NQ/ĐU", "--date", "03/02/2025"],
        );
    }
    // The ward decides the young candidate's admission itself (the three-level competence)…
    let out = step(
        &m,
        WARD,
        &young,
        "decision",
        &["--number", "9-QĐ/ĐU", "--date", "10/02/2025"],
    );
    assert!(out.contains("Dự bị"), "{out}");
    // …but not the older one's: that waits for the city.
    let o = support::run(&[
        "case",
        "step",
        &old,
        "decision",
        "--date",
        "10/02/2025",
        "--data",
        &data(&m, WARD),
    ]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("Thành phố"), "{}", o.stderr);
    m.wait_until(LIMIT, |m| waiting(m, "hn", &old, "decision"))
        .unwrap_or_else(|e| panic!("{e}\n{}", m.report()));
    step(
        &m,
        "hn",
        &old,
        "decision",
        &["--number", "3-QĐ/TU", "--date", "12/02/2025"],
    );
    for id in [&young, &old] {
        m.wait_until(LIMIT, |m| {
            field(&show(m, CELL, id), "status") == "probationary"
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", m.report()));
    }
    m.stop_all();
}

/// Official members the `stats` of `unit`'s node counts in `cell`.
fn counted(m: &Mesh, unit: &str, cell: &str) -> u64 {
    let v = m
        .admin(m.index(unit), &json!({"cmd": "stats", "unit": cell}))
        .unwrap_or(Value::Null);
    v["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["unit"] == cell && r["status"] == "official")
        .map(|r| r["count"].as_u64().unwrap_or(0))
        .sum()
}

#[test]
fn a_cross_district_transfer_moves_the_dossier_and_its_history_and_keeps_the_old_cells_books() {
    const OLD: &str = "hn.d01.w01.c01";
    const NEW: &str = "hn.d02.w01.c01";
    let _serial = support::mesh_lock();
    let dir = tempfile::tempdir().expect("tmp");
    let tree = OrgTree::from_toml(rollmesh::org::DEMO_TREE).expect("demo tree");
    let mut m = Mesh::create(&support::bin(), dir.path(), &tree).expect("mesh");
    let old_data = data(&m, OLD);
    let id = add(&old_data, "Nguyễn Văn Chuyển", "05/05/1980", "official");
    let chain = [
        "hn",
        "hn.d01",
        "hn.d01.w01",
        OLD,
        "hn.d02",
        "hn.d02.w01",
        NEW,
    ];
    for unit in chain {
        m.start(m.index(unit)).expect("start");
    }
    // The old cell's book has the member's dues for March and April.
    for month in ["03/2025", "04/2025"] {
        support::ok(&[
            "dues",
            "record",
            "--data",
            &old_data,
            "--member",
            &id,
            "--month",
            month,
            "--paid",
            "30000",
            "--paid-on",
            "10/04/2025",
        ]);
    }
    support::ok(&[
        "case",
        "open",
        &id,
        "transfer",
        "--to",
        "hn.d02.w01.c01",
        "--date",
        "05/05/2025",
        "--note",
        "Chuyển nơi cư trú",
        "--data",
        &old_data,
    ]);
    // Neither the old cell, its ward nor its district covers the new cell: the city decides.
    m.wait_until(LIMIT, |m| waiting(m, "hn", &id, "send"))
        .unwrap_or_else(|e| panic!("{e}\n{}", m.report()));
    let o = support::run(&[
        "case",
        "step",
        &id,
        "send",
        "--date",
        "12/05/2025",
        "--data",
        &data(&m, "hn.d01"),
    ]);
    assert_ne!(o.code, 0, "{}", o.stdout);
    assert_eq!(counted(&m, "hn", NEW), 0);
    step(
        &m,
        "hn",
        &id,
        "send",
        &["--number", "88-GGT/TU", "--date", "12/05/2025"],
    );
    // The dossier leaves the old branch and arrives on the new one.
    for unit in ["hn.d01", "hn.d01.w01", OLD] {
        m.wait_until(LIMIT, |m| show(m, unit, &id).is_null())
            .unwrap_or_else(|e| panic!("{unit}: {e}\n{}", m.report()));
    }
    m.wait_until(LIMIT, |m| waiting(m, NEW, &id, "receive"))
        .unwrap_or_else(|e| panic!("{e}\n{}", m.report()));
    // Held by the new branch, but counted nowhere until the new cell receives the member.
    for unit in ["hn", "hn.d02", NEW] {
        assert_eq!(counted(&m, unit, NEW), 0, "{unit}");
        assert_eq!(
            field(&show(&m, unit, &id), "status"),
            "transferring",
            "{unit}"
        );
    }
    step(&m, NEW, &id, "receive", &["--date", "20/05/2025"]);
    for unit in ["hn", "hn.d02", "hn.d02.w01", NEW] {
        m.wait_until(LIMIT, |m| counted(m, unit, NEW) == 1)
            .unwrap_or_else(|e| panic!("{unit}: {e}\n{}", m.report()));
    }
    assert_eq!(counted(&m, "hn", OLD), 0);
    // Its history came along: the new cell reads every step and the old fields.
    let h = support::ok(&["member", "history", &id, "--data", &data(&m, NEW)]).stdout;
    assert!(h.contains("Giới thiệu chuyển sinh hoạt"), "{h}");
    assert!(h.contains(OLD), "{h}");
    // The old cell's book still shows the member's months.
    let l = support::ok(&["ledger", "--year", "2025", "--json", "--data", &old_data]).stdout;
    assert!(l.contains(&id), "{l}");
    m.stop_all();
}
