//! The clerk's first steps, through the real binary and a real data directory: init, add, list, search,
//! show, history, export-doc, and the refusals a careful user expects.

mod support;

use support::{arg, init, members, ok, run};
use unicode_normalization::UnicodeNormalization;

#[test]
fn add_then_list_and_search_in_new_processes() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = arg(dir.path(), "D");
    let o = ok(&["init", "--unit", "hn.d01.w01.c01", "--data", &data]);
    assert!(
        o.stdout.contains("Mã nút"),
        "Vietnamese by default: {}",
        o.stdout
    );
    // The clerk's keyboard may send combining diacritics; the store keeps NFC.
    let typed: String = "Nguyễn Văn An".nfd().collect();
    ok(&[
        "member",
        "add",
        "--data",
        &data,
        "--name",
        &typed,
        "--dob",
        "1990-05-01",
        "--sex",
        "male",
    ]);

    let list = members(&data);
    assert_eq!(list.len(), 1);
    assert_eq!(
        list[0]["full_name"].as_str().expect("name").as_bytes(),
        "Nguyễn Văn An".as_bytes()
    );
    assert_eq!(list[0]["dob"], "1990-05-01");
    assert_eq!(list[0]["sex"], "male");
    assert_eq!(list[0]["unit"], "hn.d01.w01.c01");

    let found = ok(&[
        "member",
        "search",
        "--data",
        &data,
        "nguyen van an",
        "--json",
    ])
    .json();
    assert_eq!(found.as_array().map(Vec::len), Some(1));
    assert_eq!(found[0]["id"], list[0]["id"]);
    let none = ok(&["member", "search", "--data", &data, "tran thi", "--json"]).json();
    assert_eq!(none.as_array().map(Vec::len), Some(0));
}

#[test]
fn init_twice_refuses_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let (data, id) = init(dir.path(), "D", "hn.d01.w01.c01");
    let key_before = std::fs::read(dir.path().join("D/node.key")).expect("key");
    let again = run(&["init", "--unit", "hn.d02", "--data", &data]);
    assert_ne!(again.code, 0);
    assert!(again.stderr.contains("lỗi"), "{}", again.stderr);
    assert_eq!(
        std::fs::read(dir.path().join("D/node.key")).expect("key"),
        key_before
    );
    let printed = ok(&["id", "--data", &data]);
    assert_eq!(printed.stdout.trim(), id);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("D/node.key"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn init_checks_the_unit_against_a_tree() {
    let dir = tempfile::tempdir().expect("tmp");
    let tree = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/org-demo.toml");
    ok(&[
        "init",
        "--unit",
        "hn.d01.w01.c01",
        "--tree",
        tree,
        "--data",
        &arg(dir.path(), "A"),
    ]);
    let bad = run(&[
        "init",
        "--unit",
        "hn.d09",
        "--tree",
        tree,
        "--data",
        &arg(dir.path(), "B"),
    ]);
    assert_eq!(bad.code, 1);
    assert!(!dir.path().join("B/node.key").exists());
    let three = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/org-3level.toml");
    ok(&[
        "init",
        "--unit",
        "hn.p01.c01",
        "--tree",
        three,
        "--data",
        &arg(dir.path(), "C"),
    ]);
}

#[test]
fn edit_show_history_and_export_doc() {
    let dir = tempfile::tempdir().expect("tmp");
    let (data, node_id) = init(dir.path(), "D", "hn.d01.w01.c01");
    let added = ok(&[
        "member",
        "add",
        "--data",
        &data,
        "--name",
        "Trần Thị Bình",
        "--sex",
        "nữ",
        "--dob",
        "02/03/1985",
        "--json",
    ])
    .json();
    let id = added["id"].as_str().expect("id").to_string();
    assert_eq!(added["dob"], "1985-03-02");
    assert_eq!(added["sex"], "female");
    let short = &id[..6];
    ok(&[
        "member",
        "edit",
        short,
        "--data",
        &data,
        "--phone",
        "0912 345 678",
        "--set",
        "ethnicity=Kinh",
        "--event",
        "rating:2025-12-31:Hoàn thành tốt nhiệm vụ",
    ]);
    let shown = ok(&["member", "show", short, "--data", &data, "--json"]).json();
    assert_eq!(shown["phone"], "0912345678");
    assert_eq!(shown["ethnicity"], "Kinh");
    assert_eq!(shown["events"][0]["kind"], "rating");
    assert_eq!(shown["conflicts"], serde_json::json!({}));

    let history = ok(&["member", "history", &id, "--data", &data, "--json"]).json();
    let entries = history.as_array().expect("array");
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["changed"], serde_json::json!(["create"]));
    assert_eq!(entries[1]["author"], node_id.as_str());
    let changed: Vec<&str> = entries[1]["changed"]
        .as_array()
        .expect("a")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(
        changed.contains(&"phone") && changed.contains(&"ethnicity"),
        "{changed:?}"
    );

    // An edit that changes nothing makes no change.
    ok(&[
        "member",
        "edit",
        short,
        "--data",
        &data,
        "--phone",
        "0912345678",
    ]);
    assert_eq!(
        ok(&["member", "history", &id, "--data", &data, "--json"])
            .json()
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    // The exported document is plain Automerge, loadable by any implementation.
    let out = arg(dir.path(), "member.automerge");
    ok(&[
        "member",
        "export-doc",
        short,
        "--out",
        &out,
        "--data",
        &data,
    ]);
    let doc = automerge::Automerge::load(&std::fs::read(&out).expect("read"))
        .expect("loads as Automerge");
    use automerge::ReadDoc;
    let (name, _) = doc
        .get(automerge::ROOT, "full_name")
        .expect("get")
        .expect("present");
    assert_eq!(name.as_str(), Some("Trần Thị Bình"));
}

#[test]
fn refusals_are_one_line_and_non_zero() {
    let dir = tempfile::tempdir().expect("tmp");
    let (data, _) = init(dir.path(), "D", "hn.d01.w01.c01");
    let missing = arg(dir.path(), "missing");
    let cases: Vec<Vec<&str>> = vec![
        vec![
            "member",
            "add",
            "--data",
            &data,
            "--name",
            "A",
            "--dob",
            "1990-13-45",
        ],
        vec!["member", "add", "--data", &data, "--dob", "1990-01-01"],
        vec![
            "member",
            "add",
            "--data",
            &data,
            "--name",
            "A",
            "--unit",
            "hn.d02.w01.c01",
        ],
        vec!["member", "show", "zzzz", "--data", &data],
        vec!["member", "list", "--data", &missing],
        vec!["trust", "add", "ABCDEFG-HIJKLMN-OPQRSTU", "--data", &data],
    ];
    for c in cases {
        let o = run(&c);
        assert_eq!(o.code, 1, "{c:?}: {o:?}");
        assert_eq!(o.stderr.trim().lines().count(), 1, "{c:?}: {}", o.stderr);
    }
    assert!(members(&data).is_empty());
    let en = run(&["--lang", "en", "member", "show", "zzzz", "--data", &data]);
    assert!(en.stderr.starts_with("error:"), "{}", en.stderr);
}

/// Help and argument errors read in Vietnamese by default (clap's own words too), English on request.
#[test]
fn help_and_argument_errors_speak_vietnamese_unless_asked_for_english() {
    let help = ok(&["member", "add", "--help"]).stdout;
    assert!(help.contains("Cách dùng:"), "{help}");
    assert!(help.contains("In hướng dẫn này"), "{help}");
    for english in ["Usage:", "Options:", "Print help"] {
        assert!(!help.contains(english), "{english:?} in:\n{help}");
    }
    assert!(
        !help.contains("[OPTIONS]") && !help.contains("[env: "),
        "{help}"
    );
    let top = ok(&["--help"]).stdout;
    assert!(top.contains("Lệnh:") && !top.contains("Commands:"), "{top}");
    assert!(
        top.contains("Giá trị:") && !top.contains("Possible values"),
        "{top}"
    );
    let o = run(&["member", "lisst"]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.starts_with("lỗi: không có lệnh \"lisst\""),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("list"), "{}", o.stderr);
    let o = run(&["member", "add", "--nam", "X", "--data", "d"]);
    assert!(o.stderr.contains("không có tham số --nam"), "{}", o.stderr);
    let en = run(&["--lang", "en", "member", "lisst"]);
    assert!(
        en.stderr.contains("unrecognized subcommand"),
        "{}",
        en.stderr
    );
    assert!(ok(&["--lang", "en", "member", "--help"])
        .stdout
        .contains("Usage:"));
}

/// Times are shown in Vietnam's time by default and in the zone `time_zone` in node.toml names.
#[test]
fn history_times_are_shown_in_the_nodes_time_zone() {
    let dir = tempfile::tempdir().expect("tmp");
    let (data, _) = init(dir.path(), "cell", "hn.d01.w01.c01");
    let id = ok(&[
        "member",
        "add",
        "--data",
        &data,
        "--name",
        "Nguyễn Văn An",
        "--json",
    ])
    .json()["id"]
        .as_str()
        .expect("id")
        .to_string();
    let h = ok(&["member", "history", &id, "--data", &data, "--json"]).json();
    let t = h[0]["unix_time"].as_i64().expect("time");
    let shown = |offset_h: i64| {
        chrono::DateTime::from_timestamp(t + offset_h * 3600, 0)
            .expect("time")
            .format("%d/%m/%Y %H:%M")
            .to_string()
    };
    let text = ok(&["member", "history", &id, "--data", &data]).stdout;
    assert!(text.contains(&shown(7)), "not Vietnam time: {text}");
    let toml = std::path::Path::new(&data).join("node.toml");
    let body = std::fs::read_to_string(&toml).expect("toml");
    std::fs::write(&toml, format!("time_zone = \"UTC\"\n{body}")).expect("write");
    let text = ok(&["member", "history", &id, "--data", &data]).stdout;
    assert!(text.contains(&shown(0)), "not UTC: {text}");
    std::fs::write(&toml, format!("time_zone = \"Mars/Olympus\"\n{body}")).expect("write");
    let o = run(&["member", "history", &id, "--data", &data]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("múi giờ không rõ"), "{}", o.stderr);
}
