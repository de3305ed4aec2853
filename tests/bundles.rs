//! Moving signed changes between nodes by bundle files: concurrent offline edits merge with the conflict
//! visible; tampered and untrusted changes are quarantined while the valid changes around them apply.

mod support;

use rollmesh_proto::{BundleReader, BundleWriter, SignedChange, TAG_CHANGE};
use serde_json::Value;
use support::{arg, init, members, ok, run};

fn export(data: &str, out: &str, since: u64) -> u64 {
    let since = since.to_string();
    let o = ok(&[
        "bundle", "export", "--data", data, "--out", out, "--since", &since, "--json",
    ])
    .json();
    o["last_seq"].as_u64().expect("last_seq")
}

fn show(data: &str, id: &str) -> Value {
    ok(&["member", "show", id, "--data", data, "--json"]).json()
}

#[test]
fn concurrent_offline_edits_merge_with_visible_conflict() {
    let dir = tempfile::tempdir().expect("tmp");
    let (a, a_id) = init(dir.path(), "A", "hn.d01.w01.c01");
    let (b, b_id) = init(dir.path(), "B", "hn.d01.w01.c01");
    ok(&["trust", "add", &b_id, "--data", &a, "--note", "máy chị Lan"]);
    ok(&["trust", "add", &a_id, "--data", &b]);

    let added = ok(&[
        "member",
        "add",
        "--data",
        &a,
        "--name",
        "Phạm Minh Châu",
        "--dob",
        "1979-09-02",
        "--residence",
        "Số 1 Hàng Bài",
        "--json",
    ])
    .json();
    let id = added["id"].as_str().expect("id").to_string();
    let first = arg(dir.path(), "a1.bundle");
    let a_seq = export(&a, &first, 0);
    ok(&["bundle", "import", &first, "--data", &b]);
    assert_eq!(members(&b).len(), 1);

    // Offline on both sides.
    ok(&[
        "member",
        "edit",
        &id,
        "--data",
        &a,
        "--phone",
        "0912345678",
        "--residence",
        "Ngõ 5 Láng Hạ",
    ]);
    ok(&[
        "member",
        "edit",
        &id,
        "--data",
        &b,
        "--workplace",
        "Trường THCS Kim Mã",
        "--residence",
        "Thôn Đông, Sóc Sơn",
    ]);

    let a2 = arg(dir.path(), "a2.bundle");
    let b1 = arg(dir.path(), "b1.bundle");
    export(&a, &a2, a_seq);
    export(&b, &b1, 0);
    ok(&["bundle", "import", &a2, "--data", &b]);
    ok(&["bundle", "import", &b1, "--data", &a]);

    let sa = show(&a, &id);
    let sb = show(&b, &id);
    assert_eq!(sa["heads"], sb["heads"], "heads differ");
    assert_eq!(
        sa["heads"].as_array().map(Vec::len),
        Some(2),
        "two concurrent heads expected"
    );
    for s in [&sa, &sb] {
        assert_eq!(s["phone"], "0912345678");
        assert_eq!(s["workplace"], "Trường THCS Kim Mã");
        let mut vals: Vec<&str> = s["conflicts"]["current_residence"]
            .as_array()
            .expect("residence conflict")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        vals.sort();
        assert_eq!(vals, vec!["Ngõ 5 Láng Hạ", "Thôn Đông, Sóc Sơn"]);
    }
    assert_eq!(
        sa["current_residence"], sb["current_residence"],
        "both pick the same winner"
    );
    let text = ok(&["member", "show", &id, "--data", &a]).stdout;
    assert!(text.contains("giá trị đồng thời"), "{text}");
    // Exchanging again changes nothing.
    let again = ok(&["bundle", "import", &b1, "--data", &a, "--json"]).json();
    assert_eq!(again["applied"], 0);
    assert_eq!(show(&a, &id)["heads"], sa["heads"]);
}

/// Rewrites a bundle with one byte of one change's Automerge bytes flipped (the trailer is recomputed, so
/// only the change's own signature can tell).
fn tamper(src: &str, dst: &str, record: usize) {
    let parsed = BundleReader::parse(&std::fs::read(src).expect("read")).expect("bundle");
    let mut w = BundleWriter::new(Vec::new()).expect("writer");
    for (i, r) in parsed.records.iter().enumerate() {
        let mut body = r.body.clone();
        if i == record {
            let env = SignedChange::decode(body.clone()).expect("envelope");
            let at = rollmesh_proto::envelope::HEADER_LEN + env.change_bytes().len() / 2;
            body[at] ^= 0x20;
        }
        w.push(r.tag, &body).expect("push");
    }
    std::fs::write(dst, w.finish().expect("finish")).expect("write");
}

#[test]
fn tampered_and_untrusted_changes_are_quarantined() {
    let dir = tempfile::tempdir().expect("tmp");
    let (a, a_id) = init(dir.path(), "A", "hn.d01.w01.c01");
    let (b, _) = init(dir.path(), "B", "hn.d01.w01.c01");
    let (c, _) = init(dir.path(), "C", "hn.d01.w01.c01");
    ok(&["trust", "add", &a_id, "--data", &b]);
    for name in ["Nguyễn Văn An", "Trần Thị Bình", "Lê Văn Cường"] {
        ok(&["member", "add", "--data", &a, "--name", name]);
    }
    let good = arg(dir.path(), "a.bundle");
    let a_seq = export(&a, &good, 0);
    let bad = arg(dir.path(), "a-tampered.bundle");
    tamper(&good, &bad, 1);

    let o = run(&["bundle", "import", &bad, "--data", &b, "--json"]);
    assert_eq!(o.code, 4, "{}\n{}", o.stdout, o.stderr);
    let r = o.json();
    assert_eq!(r["applied"], 2);
    assert_eq!(r["rejected"][0]["code"], "bad_signature");
    let names: Vec<String> = members(&b)
        .iter()
        .filter_map(|m| m["full_name"].as_str().map(str::to_string))
        .collect();
    assert_eq!(names.len(), 2);
    assert!(!names.contains(&"Trần Thị Bình".to_string()));
    let q = ok(&["quarantine", "list", "--data", &b, "--json"]).json();
    assert_eq!(q.as_array().map(Vec::len), Some(1));
    assert_eq!(q[0]["code"], "bad_signature");
    assert_eq!(q[0]["author"], a_id.as_str());
    let text = ok(&["quarantine", "list", "--data", &b]).stdout;
    assert!(text.contains("chữ ký không hợp lệ"), "{text}");
    let v = ok(&["verify", "--data", &b, "--json"]).json();
    assert_eq!(v["clean"], true, "{v}");
    assert_eq!(v["quarantined"], 1);

    // The genuine bundle later brings the missing change in.
    let o = ok(&["bundle", "import", &good, "--data", &b, "--json"]).json();
    assert_eq!(o["applied"], 1);
    assert_eq!(members(&b).len(), 3);

    // A mixed bundle: a new change by A (trusted) and one by C (valid signature, untrusted at B).
    ok(&["member", "add", "--data", &a, "--name", "Hoàng Thị Dung"]);
    ok(&["member", "add", "--data", &c, "--name", "Vũ Đức Phúc"]);
    let from_a = arg(dir.path(), "a-new.bundle");
    let from_c = arg(dir.path(), "c.bundle");
    export(&a, &from_a, a_seq);
    export(&c, &from_c, 0);
    let mut w = BundleWriter::new(Vec::new()).expect("writer");
    for f in [&from_c, &from_a] {
        for r in BundleReader::parse(&std::fs::read(f).expect("read"))
            .expect("bundle")
            .records
        {
            assert_eq!(r.tag, TAG_CHANGE);
            w.push(r.tag, &r.body).expect("push");
        }
    }
    let mixed = arg(dir.path(), "mixed.bundle");
    std::fs::write(&mixed, w.finish().expect("finish")).expect("write");
    let o = run(&["bundle", "import", &mixed, "--data", &b, "--json"]);
    assert_eq!(o.code, 4);
    let r = o.json();
    assert_eq!(r["applied"], 1);
    assert_eq!(r["rejected"][0]["code"], "untrusted_author");
    let names: Vec<String> = members(&b)
        .iter()
        .filter_map(|m| m["full_name"].as_str().map(str::to_string))
        .collect();
    assert!(names.contains(&"Hoàng Thị Dung".to_string()));
    assert!(!names.contains(&"Vũ Đức Phúc".to_string()));
    let q = ok(&["quarantine", "list", "--data", &b, "--json"]).json();
    assert_eq!(q.as_array().map(Vec::len), Some(2));
    assert_eq!(q[1]["code"], "untrusted_author");
    assert_eq!(
        ok(&["verify", "--data", &b, "--json"]).json()["clean"],
        true
    );
}

#[test]
fn a_truncated_or_foreign_file_is_reported() {
    let dir = tempfile::tempdir().expect("tmp");
    let (a, a_id) = init(dir.path(), "A", "hn.d01.w01.c01");
    let (b, _) = init(dir.path(), "B", "hn.d01.w01.c01");
    ok(&["trust", "add", &a_id, "--data", &b]);
    ok(&["member", "add", "--data", &a, "--name", "Nguyễn Văn An"]);
    ok(&["member", "add", "--data", &a, "--name", "Trần Thị Bình"]);
    let full = arg(dir.path(), "a.bundle");
    export(&a, &full, 0);
    let bytes = std::fs::read(&full).expect("read");
    let cut = arg(dir.path(), "cut.bundle");
    std::fs::write(&cut, &bytes[..bytes.len() - 50]).expect("write");
    let o = run(&["bundle", "import", &cut, "--data", &b, "--json"]);
    assert_eq!(o.code, 4);
    assert_eq!(o.json()["complete"], false);
    assert_eq!(
        o.json()["applied"],
        1,
        "the whole first record still applies"
    );
    let junk = arg(dir.path(), "junk.bundle");
    std::fs::write(&junk, "this is not a bundle").expect("write");
    let o = run(&["bundle", "import", &junk, "--data", &b]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("bundle"), "{}", o.stderr);
    assert_eq!(
        ok(&["verify", "--data", &b, "--json"]).json()["clean"],
        true
    );
}

/// docs/PROTOCOL.md is precise enough for an independent implementation: a Python reader written from it
/// alone parses our bundle, verifies every signature and derives the same node id.
#[test]
fn an_independent_python_reader_verifies_our_bundles() {
    let dir = tempfile::tempdir().expect("tmp");
    let (a, a_id) = init(dir.path(), "A", "hn.d01.w01.c01");
    ok(&["member", "add", "--data", &a, "--name", "Nguyễn Văn An"]);
    ok(&[
        "member",
        "add",
        "--data",
        &a,
        "--name",
        "Đặng Thị Ánh",
        "--phone",
        "0912345678",
    ]);
    let out = arg(dir.path(), "a.bundle");
    export(&a, &out, 0);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/interop/verify_bundle.py"
    );
    let o = std::process::Command::new("python3")
        .arg(script)
        .arg(&out)
        .output()
        .expect("python3 is needed for this test (.ci/run installs it)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["records"], 2);
    assert_eq!(v["verified"], 2);
    assert_eq!(v["bad"], 0);
    assert_eq!(v["complete"], true);
    assert_eq!(v["authors"], serde_json::json!([a_id]));
    // And it notices a forged one.
    let bad = arg(dir.path(), "bad.bundle");
    tamper(&out, &bad, 0);
    let o = std::process::Command::new("python3")
        .arg(script)
        .arg(&bad)
        .output()
        .expect("python3");
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(
        (v["verified"].as_u64(), v["bad"].as_u64()),
        (Some(1), Some(1))
    );
}
