//! The cell's year over real processes: the demo organisation's mesh (`rollmesh run` per node, QUIC on
//! 127.0.0.1), the clerk's CLI commands reaching the running nodes through their APIs, and the
//! screening read at the cell, its ward and the city.

mod support;

use std::time::Duration;

use rollmesh::demo::Mesh;
use rollmesh_model::OrgTree;
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(60);
const CELL: &str = "hn.d01.w01.c01";
const WARD: &str = "hn.d01.w01";
const AS_OF: &str = "15/06/2025";

fn data(m: &Mesh, unit: &str) -> String {
    m.nodes[m.index(unit)].data.to_string_lossy().into_owned()
}

/// The R1 flags `screen list` prints at a node, as (subject, Vietnamese explanation).
fn r1(m: &Mesh, unit: &str) -> Vec<(String, String)> {
    let o = support::run(&[
        "screen",
        "list",
        "--rule",
        "R1",
        "--as-of",
        AS_OF,
        "--json",
        "--data",
        &data(m, unit),
    ]);
    if o.code != 0 {
        return vec![(String::from("error"), o.stderr)];
    }
    o.json()["flags"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|f: &Value| {
            (
                f["subject"]["member"].as_str().unwrap_or("").to_string(),
                f["explanation_vi"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn a_dues_flag_raised_at_a_cell_shows_the_same_at_ward_and_city_and_clears_with_a_late_payment() {
    let _serial = support::mesh_lock();
    let dir = tempfile::tempdir().expect("tmp");
    let tree = OrgTree::from_toml(rollmesh::org::DEMO_TREE).expect("demo tree");
    let mut m = Mesh::create(&support::bin(), dir.path(), &tree).expect("mesh");
    m.seed_unit(m.index(CELL), 2, 1).expect("seed the cell");
    m.start_all().expect("start");
    let cell = m.index(CELL);
    m.wait_until(LIMIT, |m| m.count(cell) == Some(2))
        .unwrap_or_else(|e| panic!("{e}\n{}", m.report()));
    let members = m.admin(cell, &json!({"cmd": "member.list"})).expect("list")["members"]
        .as_array()
        .cloned()
        .expect("members");
    let id = members[0]["id"].as_str().expect("id").to_string();
    let other = members[1]["id"].as_str().expect("id").to_string();

    // The clerk keeps the book with the node running: January and February paid, then three months
    // unpaid without a reason; the other member paid every month.
    let cell_data = data(&m, CELL);
    for n in 1..=5 {
        let month = format!("{n:02}/2025");
        let mut args = vec![
            "dues", "record", "--data", &cell_data, "--month", &month, "--member",
        ];
        let paid = ["--paid", "30000", "--paid-on", "05/02/2025"];
        let mine = if n < 3 { &paid[..] } else { &["--unpaid"][..] };
        let o = support::ok(&[&args[..], &[id.as_str()], mine].concat());
        assert!(o.stdout.contains("Đã ghi đảng phí"), "{}", o.stdout);
        args.push(&other);
        support::ok(&[&args[..], &paid[..]].concat());
    }
    let at_cell = r1(&m, CELL);
    assert_eq!(at_cell.len(), 1, "{at_cell:?}");
    assert_eq!(at_cell[0].0, id);
    assert!(at_cell[0].1.contains("3, 4, 5"), "{}", at_cell[0].1);

    // Within one sync the ward and the city list the same flag with the same words.
    for unit in [WARD, "hn"] {
        m.wait_until(LIMIT, |m| r1(m, unit) == at_cell)
            .unwrap_or_else(|e| panic!("{unit}: {e}: {:?}\n{}", r1(&m, unit), m.report()));
    }

    // A late payment for April, recorded at the cell, clears the flag everywhere.
    support::ok(&[
        "dues",
        "record",
        "--data",
        &cell_data,
        "--member",
        &id,
        "--month",
        "04/2025",
        "--paid",
        "30000",
        "--paid-on",
        "10/06/2025",
    ]);
    assert!(r1(&m, CELL).is_empty());
    for unit in [WARD, "hn"] {
        m.wait_until(LIMIT, |m| r1(m, unit).is_empty())
            .unwrap_or_else(|e| panic!("{unit}: {e}: {:?}\n{}", r1(&m, unit), m.report()));
    }
    // Who changed the book is in the cell's audit log.
    m.stop_all();
    let o = support::ok(&[
        "audit",
        "--action",
        "dues.record",
        "--json",
        "--data",
        &cell_data,
    ]);
    assert_eq!(o.json()["entries"].as_array().map(Vec::len), Some(11));
    // Every node that holds the ledger verifies it against its signed changes.
    for unit in [CELL, WARD, "hn.d01", "hn"] {
        let node = rollmesh::Node::open(&m.nodes[m.index(unit)].data).expect("open");
        let v = node.store().verify().expect("verify");
        assert!(v.is_clean() && v.ledgers == 1, "{unit}: {v:?}");
    }
    // A sibling cell and another district hold nothing of it.
    for unit in ["hn.d01.w01.c02", "hn.d02"] {
        let node = rollmesh::Node::open(&m.nodes[m.index(unit)].data).expect("open");
        assert!(
            node.store().ledgers(None).expect("ledgers").is_empty(),
            "{unit}"
        );
    }
}

/// The demo organisation's mesh running, with one member (generated from `seed`) at the cell; returns
/// the mesh and the member's id.
fn one_member_mesh(dir: &std::path::Path, seed: usize) -> (Mesh, String) {
    let tree = OrgTree::from_toml(rollmesh::org::DEMO_TREE).expect("demo tree");
    let mut m = Mesh::create(&support::bin(), dir, &tree).expect("mesh");
    m.seed_unit(m.index(CELL), 1, seed).expect("seed the cell");
    m.start_all().expect("start");
    let cell = m.index(CELL);
    m.wait_until(LIMIT, |m| m.count(cell) == Some(1))
        .unwrap_or_else(|e| panic!("{e}\n{}", m.report()));
    let id = m.admin(cell, &json!({"cmd": "member.list"})).expect("list")["members"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    (m, id)
}

/// `rules show --json` at a node (None while it does not answer).
fn rules_in_force(m: &Mesh, unit: &str) -> Option<String> {
    let o = support::run(&[
        "rules",
        "show",
        "--as-of",
        AS_OF,
        "--json",
        "--data",
        &data(m, unit),
    ]);
    (o.code == 0).then(|| {
        o.json()["published_effective"]
            .as_str()
            .unwrap_or("-")
            .to_string()
    })
}

#[test]
fn a_rule_change_at_the_city_reaches_every_node_and_a_districts_is_quarantined() {
    let _serial = support::mesh_lock();
    let dir = tempfile::tempdir().expect("tmp");
    let (mut m, id) = one_member_mesh(dir.path(), 2);
    // Two months unpaid, three paid: under the default threshold (three months) no flag.
    let cell_data = data(&m, CELL);
    for n in 1..=5 {
        let month = format!("{n:02}/2025");
        let base = [
            "dues", "record", "--data", &cell_data, "--member", &id, "--month", &month,
        ];
        let how: &[&str] = if n <= 2 {
            &["--unpaid"]
        } else {
            &["--paid", "25000", "--paid-on", "03/06/2025"]
        };
        support::ok(&[&base[..], how].concat());
    }
    assert!(r1(&m, CELL).is_empty());

    // The city lowers R1 to two months, effective 1 January 2025, with its node running.
    let shown = support::ok(&["rules", "show", "--toml", "--data", &data(&m, "hn")]).stdout;
    let lowered = shown.replacen(
        "[r1]\nenabled = true\nmonths = 3",
        "[r1]\nenabled = true\nmonths = 2",
        1,
    );
    assert_ne!(lowered, shown, "the template names R1's months:\n{shown}");
    let lowered = lowered.replacen(
        "effective = \"2024-01-01\"",
        "effective = \"2025-01-01\"",
        1,
    );
    let file = dir.path().join("rules.toml");
    std::fs::write(&file, &lowered).expect("write rules");
    let o = support::ok(&[
        "rules",
        "publish",
        file.to_str().expect("path"),
        "--data",
        &data(&m, "hn"),
    ]);
    assert!(o.stdout.contains("01/01/2025"), "{}", o.stdout);
    // Within one sync every node holds it, and the cell's screening follows.
    let units: Vec<String> = m.nodes.iter().map(|n| n.unit.to_string()).collect();
    for unit in &units {
        m.wait_until(LIMIT, |m| {
            rules_in_force(m, unit).as_deref() == Some("2025-01-01")
        })
        .unwrap_or_else(|e| panic!("{unit}: {e}\n{}", m.report()));
    }
    assert_eq!(r1(&m, CELL).len(), 1);

    // A district signs a rule set of its own (a compromised node: written straight into its store).
    let district = m.index("hn.d01");
    m.stop(district, false);
    {
        use rollmesh_model::orgdoc::OrgDocKind;
        let node = rollmesh::Node::open(&m.nodes[district].data).expect("open district");
        let key = rollmesh_proto::NodeKey::from_seed(node.key_seed());
        let mut doc = node.store().org_doc(OrgDocKind::Rules).expect("doc");
        let forged = lowered.replacen("months = 2", "months = 1", 1);
        let change = doc
            .publish(
                rollmesh_proto::actor_for(&key.public()),
                "2025-01-01",
                &forged,
                1,
            )
            .expect("publish")
            .expect("change");
        let vc = rollmesh_proto::VerifiedChange::sign_own(
            &key,
            rollmesh_proto::DocKind::Org,
            rollmesh_model::MemberId(OrgDocKind::Rules.id()),
            change,
        )
        .expect("sign");
        node.store().apply(vec![vc], "forged").expect("store it");
    }
    m.start(district).expect("restart the district");
    // Its peers — the city above, its wards below — refuse it: quarantined as unauthorized, never
    // applied or forwarded, so the cells below never even see it; everyone keeps the city's rules.
    for unit in ["hn", "hn.d01.w01", "hn.d01.w02"] {
        let i = m.index(unit);
        m.wait_until(LIMIT, |m| {
            m.admin(i, &json!({"cmd": "status"}))
                .is_ok_and(|v| v["quarantined"].as_u64() == Some(1))
        })
        .unwrap_or_else(|e| panic!("{unit}: {e}\n{}", m.report()));
        assert_eq!(rules_in_force(&m, unit).as_deref(), Some("2025-01-01"));
    }
    assert_eq!(rules_in_force(&m, CELL).as_deref(), Some("2025-01-01"));
    assert_eq!(r1(&m, CELL).len(), 1, "still the city's threshold of two");
    m.stop_all();
    let q = support::ok(&["quarantine", "list", "--json", "--data", &data(&m, WARD)]).json();
    assert_eq!(q[0]["code"], "unauthorized", "{q}");
}

#[test]
fn a_dues_sheet_from_excel_writes_its_good_rows_and_hands_back_the_refused_ones() {
    let dir = tempfile::tempdir().expect("tmp");
    let (data, _) = support::init(dir.path(), "cell", CELL);
    for name in ["Nguyễn Văn An", "Trần Thị Bình"] {
        support::ok(&["member", "add", "--data", &data, "--name", name]);
    }
    let members = support::members(&data);
    let id = |i: usize| members[i]["id"].as_str().expect("id").to_string();
    let sheet = dir.path().join("thang3.csv");
    let text = format!(
        "\u{feff}STT;Mã;Họ và tên;Số tiền;Ngày đóng;Lý do;Chấp nhận\r\n\
         1;{};{};30.000;05/03/2025;;\r\n\
         2;{};Người Khác;30000;;;\r\n\
         3;{};{};;;Đi công tác;có\r\n",
        id(0),
        members[0]["full_name"].as_str().expect("name"),
        id(1),
        id(1),
        members[1]["full_name"].as_str().expect("name"),
    );
    std::fs::write(&sheet, text).expect("write sheet");
    let path = sheet.to_str().expect("path");
    let o = support::run(&[
        "dues", "import", path, "--month", "03/2025", "--data", &data,
    ]);
    assert_eq!(o.code, 3, "{}\n{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("dòng 3"), "{}", o.stdout);
    let rejected = std::fs::read_to_string(dir.path().join("thang3.rejected.csv")).expect("file");
    assert!(rejected.starts_with('\u{feff}'), "UTF-8 with BOM for Excel");
    assert_eq!(rejected.lines().count(), 2, "{rejected}");
    assert!(rejected.contains("Người Khác"), "{rejected}");
    let v = support::ok(&["ledger", "--year", "2025", "--json", "--data", &data]).json();
    let dues = &v["ledger"]["dues"];
    assert!(dues[id(0)]["3"]["paid"].is_object(), "{dues}");
    assert_eq!(dues[id(1)]["3"]["unpaid"]["accepted"], true, "{dues}");
}

/// `attach list --json` at a node: (member, host, until, months with dues).
fn attachments(m: &Mesh, unit: &str) -> Vec<(String, String, String, Vec<u64>)> {
    let o = support::run(&["attach", "list", "--json", "--data", &data(m, unit)]);
    if o.code != 0 {
        return Vec::new();
    }
    o.json()["attachments"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|a| {
            let s = |k: &str| a[k].as_str().unwrap_or("").to_string();
            let months = a["paid_months"]
                .as_array()
                .into_iter()
                .chain(a["unpaid_months"].as_array())
                .flatten()
                .filter_map(Value::as_u64)
                .collect();
            (s("member"), s("host"), s("until"), months)
        })
        .collect()
}

#[test]
fn a_member_attached_to_a_cell_in_another_district_pays_there_and_home_judges_on_it() {
    const HOST: &str = "hn.d02.w01.c01";
    let _serial = support::mesh_lock();
    let dir = tempfile::tempdir().expect("tmp");
    let (mut m, id) = one_member_mesh(dir.path(), 3);
    let (home_data, host_data) = (data(&m, CELL), data(&m, HOST));
    let dues = |data: &str, month: &str, paid: bool| {
        let mut args = vec![
            "dues", "record", "--data", data, "--member", &id, "--month", month,
        ];
        if paid {
            args.extend(["--paid", "30000", "--paid-on", "05/02/2025"]);
        } else {
            args.push("--unpaid");
        }
        support::ok(&args)
    };
    // Home records January and February, then the attachment from March to August.
    dues(&home_data, "01/2025", true);
    dues(&home_data, "02/2025", true);
    let grant = |data: &str, until: &str| {
        support::run(&[
            "attach",
            "grant",
            "--member",
            &id,
            "--host",
            HOST,
            "--from",
            "01/03/2025",
            "--until",
            until,
            "--data",
            data,
        ])
    };
    let o = grant(&home_data, "31/08/2025");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("sinh hoạt tạm thời tại"), "{}", o.stdout);
    // The grant travels up to the city and down the other district to the host.
    m.wait_until(LIMIT, |m| {
        attachments(m, HOST)
            .iter()
            .any(|a| a.0 == id && a.2 == "2025-08-31")
    })
    .unwrap_or_else(|e| panic!("{e}: {:?}\n{}", attachments(&m, HOST), m.report()));
    // The host cannot grant (it does not hold the member), nor write outside the attachment.
    let o = grant(&host_data, "31/12/2025");
    assert_ne!(o.code, 0, "{}", o.stdout);
    let o = support::run(&[
        "dues",
        "record",
        "--data",
        &host_data,
        "--member",
        &id,
        "--month",
        "09/2025",
        "--paid",
        "30000",
        "--paid-on",
        "05/09/2025",
    ]);
    assert_ne!(o.code, 0, "{}", o.stdout);
    assert!(
        o.stderr.contains("tạm thời") || o.stderr.contains("outside"),
        "{}",
        o.stderr
    );
    // A meeting at home during the attachment does not mark the member present there.
    let o = support::ok(&[
        "meeting",
        "record",
        "--date",
        "12/03/2025",
        "--topic",
        "Sinh hoạt tháng 3",
        "--json",
        "--data",
        &home_data,
    ]);
    assert_eq!(o.json()["present"], 0, "{}", o.stdout);
    // The host records March to May unpaid, through its running node, by the member's id.
    for month in ["03/2025", "04/2025", "05/2025"] {
        dues(&host_data, month, false);
    }
    // Home, its ward and the city list the same R1 flag, naming the host's months.
    let at_home = || r1(&m, CELL);
    m.wait_until(LIMIT, |_| at_home().len() == 1)
        .unwrap_or_else(|e| panic!("{e}: {:?}\n{}", at_home(), m.report()));
    let flag = at_home();
    assert_eq!(flag[0].0, id);
    assert!(flag[0].1.contains("3, 4, 5"), "{}", flag[0].1);
    for unit in [WARD, "hn"] {
        m.wait_until(LIMIT, |m| r1(m, unit) == flag)
            .unwrap_or_else(|e| panic!("{unit}: {e}: {:?}\n{}", r1(&m, unit), m.report()));
    }
    // A late payment at the host clears it at home.
    dues(&host_data, "04/2025", true);
    m.wait_until(LIMIT, |m| r1(m, CELL).is_empty())
        .unwrap_or_else(|e| panic!("{e}: {:?}\n{}", r1(&m, CELL), m.report()));
    m.stop_all();
    // Both sides verify the book; a district that is neither side's holds nothing of it.
    for unit in [CELL, HOST, "hn"] {
        let node = rollmesh::Node::open(&m.nodes[m.index(unit)].data).expect("open");
        assert!(node.store().verify().expect("verify").is_clean(), "{unit}");
        assert_eq!(node.attachments().expect("books").len(), 1, "{unit}");
    }
    let other = rollmesh::Node::open(&m.nodes[m.index("hn.d01.w02")].data).expect("open");
    assert!(other.attachments().expect("books").is_empty());
}
