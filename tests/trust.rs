//! Trust over real stores and real keys, with changes moving between nodes by bundles: refused chains,
//! out-of-scope writes, tampering relays, revocation, key rotation and the audit log.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use rollmesh_model::{Dossier, Field, MemberId};
use rollmesh_proto::{
    actor_for, roles, BundleReader, BundleWriter, Chain, Credential, DocKind, NodeKey,
    SignedChange, TAG_CHANGE,
};
use serde_json::Value;
use support::{arg, members, ok, run};

struct Org {
    dir: tempfile::TempDir,
    data: HashMap<String, String>,
    ids: HashMap<String, String>,
}

impl Org {
    fn new() -> Org {
        let dir = tempfile::tempdir().expect("tmp");
        let out = arg(dir.path(), "org");
        let v = ok(&["org", "bootstrap", "--out", &out, "--json"]).json();
        let mut data = HashMap::new();
        let mut ids = HashMap::new();
        for u in v["units"].as_array().expect("units") {
            let unit = u["unit"].as_str().expect("unit").to_string();
            data.insert(unit.clone(), u["data"].as_str().expect("data").to_string());
            ids.insert(unit, u["node_id"].as_str().expect("id").to_string());
        }
        assert_eq!(data.len(), 15);
        Org { dir, data, ids }
    }

    fn d(&self, unit: &str) -> &str {
        &self.data[unit]
    }

    fn file(&self, name: &str) -> String {
        arg(self.dir.path(), name)
    }

    fn key(&self, unit: &str) -> NodeKey {
        let text = std::fs::read_to_string(Path::new(self.d(unit)).join("node.key")).expect("key");
        NodeKey::from_file_text(&text).expect("key file")
    }

    /// `bundle export` from `from` into a file, then `bundle import` at `to`; returns the import's JSON
    /// and exit code.
    fn pass(&self, from: &str, to: &str, name: &str) -> (i32, Value) {
        let f = self.file(name);
        ok(&["bundle", "export", "--data", self.d(from), "--out", &f]);
        let o = run(&["bundle", "import", &f, "--data", self.d(to), "--json"]);
        (o.code, o.json())
    }
}

fn add(data: &str, name: &str) -> String {
    ok(&["member", "add", "--data", data, "--name", name, "--json"]).json()["id"]
        .as_str()
        .expect("id")
        .to_string()
}

fn names(data: &str) -> Vec<String> {
    let mut v: Vec<String> = members(data)
        .iter()
        .filter_map(|m| m["full_name"].as_str().map(str::to_string))
        .collect();
    v.sort();
    v
}

fn records(path: &str) -> Vec<(u8, Vec<u8>)> {
    BundleReader::parse(&std::fs::read(path).expect("read"))
        .expect("bundle")
        .records
        .into_iter()
        .map(|r| (r.tag, r.body))
        .collect()
}

fn write_bundle(path: &str, records: &[(u8, Vec<u8>)]) {
    let mut w = BundleWriter::new(Vec::new()).expect("writer");
    for (t, b) in records {
        w.push(*t, b).expect("push");
    }
    std::fs::write(path, w.finish().expect("finish")).expect("write");
}

fn quarantine_codes(data: &str) -> Vec<String> {
    ok(&["quarantine", "list", "--data", data, "--json"])
        .json()
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|q| q["code"].as_str().map(str::to_string))
        .collect()
}

fn clean(data: &str) {
    let v = ok(&["verify", "--data", data, "--json"]).json();
    assert_eq!(v["clean"], true, "{v}");
}

const C1: &str = "hn.d01.w01.c01";
const C2: &str = "hn.d01.w01.c02";
const W1: &str = "hn.d01.w01";
const D1: &str = "hn.d01";
const CITY: &str = "hn";

#[test]
fn refused_chains_each_name_their_reason() {
    let org = Org::new();
    let other = Org::new();
    let now = chrono_now();
    let req = org.file("c1.req");
    ok(&["credential", "request", "--data", org.d(C1), "--out", &req]);

    // From another organisation's root.
    let foreign = org.file("foreign.chain");
    let other_root = other.file("org/root.key");
    ok(&[
        "credential",
        "issue",
        "--request",
        &req,
        "--unit",
        C1,
        "--root-key",
        &other_root,
        "--out",
        &foreign,
    ]);
    let o = run(&["credential", "install", &foreign, "--data", org.d(C1)]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("wrong_root") || o.stderr.contains("root"),
        "{}",
        o.stderr
    );

    // A unit outside the issuer's: the ward refuses to issue for another ward's cell…
    let o = run(&[
        "credential",
        "issue",
        "--request",
        &req,
        "--unit",
        "hn.d02.w01.c01",
        "--data",
        org.d(W1),
        "--out",
        &org.file("x.chain"),
    ]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    // …and a hand-made chain that does it anyway is refused on install.
    let mut chain = Chain::decode(&std::fs::read(org.file("foreign.chain")).expect("read")[8..])
        .expect("chain");
    let ward_chain = own_chain(&org, W1);
    let c1_key = org.key(C1).public();
    chain.0 = ward_chain.0.clone();
    chain.0.push(Credential::issue(
        &org.key(W1),
        c1_key,
        "hn.d02.w01.c01".parse().expect("u"),
        roles::CLERK,
        now - 60,
        now + 86_400,
        77,
    ));
    install_refused(
        &org,
        "bad-unit.chain",
        &chain.to_file(),
        "outside its issuer",
    );

    // An expired link.
    let mut expired = ward_chain.clone();
    expired.0.push(Credential::issue(
        &org.key(W1),
        c1_key,
        C1.parse().expect("u"),
        roles::CLERK,
        now - 10 * 86_400,
        now - 86_400,
        78,
    ));
    install_refused(&org, "expired.chain", &expired.to_file(), "expired");

    // A bad signature: one byte of the last link changed.
    let mut signed = ward_chain.clone();
    signed.0.push(Credential::issue(
        &org.key(W1),
        c1_key,
        C1.parse().expect("u"),
        roles::CLERK,
        now - 60,
        now + 86_400,
        79,
    ));
    let mut bytes = signed.to_file();
    let n = bytes.len();
    bytes[n - 70] ^= 0x01; // inside the last link's validity window, covered by its signature
    install_refused(&org, "badsig.chain", &bytes, "bad signature");

    // The genuine chain, issued by the ward, installs.
    let fine = org.file("fine.chain");
    ok(&[
        "credential",
        "issue",
        "--request",
        &req,
        "--unit",
        C1,
        "--data",
        org.d(W1),
        "--out",
        &fine,
    ]);
    ok(&["credential", "install", &fine, "--data", org.d(C1)]);
    assert_eq!(
        ok(&["credential", "show", "--data", org.d(C1), "--json"]).json()["valid"],
        true
    );
}

/// Writes `bytes` as a chain file and requires `credential install` at C1 to refuse it, naming `reason`.
fn install_refused(org: &Org, name: &str, bytes: &[u8], reason: &str) {
    let path = org.file(name);
    std::fs::write(&path, bytes).expect("write chain");
    let o = run(&[
        "--lang",
        "en",
        "credential",
        "install",
        &path,
        "--data",
        org.d(C1),
    ]);
    assert_eq!(o.code, 1, "{name} was installed");
    assert!(o.stderr.contains(reason), "{name}: {}", o.stderr);
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

fn own_chain(org: &Org, unit: &str) -> Chain {
    // Export a bundle from a node that has authored a change, and read its chain record.
    let tmp = org.file(&format!("{unit}-chain.bundle"));
    let data = org.d(unit);
    // A member of the first cell under the unit (a unit with cells below it holds no members itself).
    let cell = match unit.matches('.').count() {
        0 => format!("{unit}.d01.w01.c01"),
        1 => format!("{unit}.w01.c01"),
        2 => format!("{unit}.c01"),
        _ => unit.to_string(),
    };
    ok(&[
        "member",
        "add",
        "--data",
        data,
        "--name",
        "Người Tạm",
        "--unit",
        &cell,
        "--json",
    ]);
    ok(&["bundle", "export", "--data", data, "--out", &tmp]);
    let key = org.key(unit).public();
    records(&tmp)
        .into_iter()
        .filter(|(t, _)| *t == rollmesh_proto::TAG_CHAIN)
        .filter_map(|(_, b)| Chain::decode(&b).ok())
        .find(|c| c.subject() == Some(key))
        .expect("own chain in bundle")
}

fn forged_member(key: &NodeKey, unit: &str, name: &str) -> (MemberId, Vec<u8>) {
    let id = MemberId::new(0, rand::random());
    let mut f = BTreeMap::new();
    f.insert(Field::FullName, name.to_string());
    f.insert(Field::Unit, unit.to_string());
    let (_, c) = Dossier::create(id, actor_for(&key.public()), f, vec![], 1).expect("create");
    (
        id,
        SignedChange::sign(key, DocKind::Member, id, c.raw_bytes())
            .as_bytes()
            .to_vec(),
    )
}

#[test]
fn a_cell_cannot_write_another_cells_member() {
    let org = Org::new();
    add(org.d(C1), "Nguyễn Văn An");
    add(org.d(C1), "Trần Thị Bình");
    let legit = org.file("c1.bundle");
    ok(&["bundle", "export", "--data", org.d(C1), "--out", &legit]);
    // C1 signs, with its own valid key, a new member placed in C2.
    let (forged_id, forged) = forged_member(&org.key(C1), C2, "Kẻ Mạo Danh");
    let mut recs = records(&legit);
    recs.push((TAG_CHANGE, forged));
    let mixed = org.file("mixed.bundle");
    write_bundle(&mixed, &recs);

    let o = run(&["bundle", "import", &mixed, "--data", org.d(W1), "--json"]);
    assert_eq!(o.code, 4, "{}", o.stdout);
    assert_eq!(o.json()["applied"], 2);
    assert_eq!(quarantine_codes(org.d(W1)), vec!["unauthorized"]);
    assert_eq!(names(org.d(W1)), vec!["Nguyễn Văn An", "Trần Thị Bình"]);

    // The ward's bundle upward does not carry the refused change; the rest flows to the district and city.
    let up = org.file("w1.bundle");
    ok(&["bundle", "export", "--data", org.d(W1), "--out", &up]);
    // The member changes it carries (besides the city's tree every node starts with).
    let carried: Vec<MemberId> = records(&up)
        .into_iter()
        .filter(|(t, _)| *t == TAG_CHANGE)
        .map(|(_, b)| SignedChange::decode(b).expect("env"))
        .filter(|e| e.kind() == rollmesh_proto::DocKind::Member)
        .map(|e| e.doc())
        .collect();
    assert_eq!(carried.len(), 2);
    assert!(!carried.contains(&forged_id));
    ok(&["bundle", "import", &up, "--data", org.d(D1)]);
    let (code, _) = org.pass(D1, CITY, "d1.bundle");
    assert_eq!(code, 0);
    assert_eq!(names(org.d(CITY)), vec!["Nguyễn Văn An", "Trần Thị Bình"]);
    assert!(quarantine_codes(org.d(CITY)).is_empty());
    // Straight to the city, bypassing the ward, the forged change is refused just the same.
    let o = run(&["bundle", "import", &mixed, "--data", org.d(CITY), "--json"]);
    assert_eq!(o.code, 4);
    assert_eq!(quarantine_codes(org.d(CITY)), vec!["unauthorized"]);
    for u in [W1, D1, CITY] {
        clean(org.d(u));
    }
}

#[test]
fn a_relay_cannot_alter_a_cells_changes() {
    let org = Org::new();
    for n in ["Lê Văn Cường", "Phạm Thị Dung", "Hoàng Văn Em"] {
        add(org.d(C1), n);
    }
    let (code, _) = org.pass(C1, W1, "c1.bundle");
    assert_eq!(code, 0);
    let genuine = org.file("w1.bundle");
    ok(&["bundle", "export", "--data", org.d(W1), "--out", &genuine]);
    let ward = org.key(W1);
    let mut recs = records(&genuine);
    let change_idx: Vec<usize> = recs
        .iter()
        .enumerate()
        .filter(|(_, (t, b))| {
            *t == TAG_CHANGE
                && SignedChange::decode(b.clone())
                    .is_ok_and(|e| e.kind() == rollmesh_proto::DocKind::Member)
        })
        .map(|(i, _)| i)
        .collect();
    assert_eq!(change_idx.len(), 3);
    // Re-sign the first change with the ward's own (valid) key…
    let env = SignedChange::decode(recs[change_idx[0]].1.clone()).expect("env");
    recs[change_idx[0]].1 =
        SignedChange::sign(&ward, DocKind::Member, env.doc(), env.change_bytes())
            .as_bytes()
            .to_vec();
    // …and flip one byte inside the second.
    let body = &mut recs[change_idx[1]].1;
    let at = rollmesh_proto::envelope::HEADER_LEN + 20;
    body[at] ^= 0x04;
    let altered = org.file("altered.bundle");
    write_bundle(&altered, &recs);

    for target in [D1, CITY] {
        let o = run(&[
            "bundle",
            "import",
            &altered,
            "--data",
            org.d(target),
            "--json",
        ]);
        assert_eq!(o.code, 4, "{}", o.stdout);
        assert_eq!(o.json()["applied"], 1);
        let mut codes = quarantine_codes(org.d(target));
        codes.sort();
        assert_eq!(codes, vec!["actor_mismatch", "bad_signature"]);
        assert_eq!(names(org.d(target)).len(), 1);
        clean(org.d(target));
    }
    // The genuine bundle still brings the real changes in.
    ok(&["bundle", "import", &genuine, "--data", org.d(D1)]);
    assert_eq!(
        names(org.d(D1)),
        vec!["Hoàng Văn Em", "Lê Văn Cường", "Phạm Thị Dung"]
    );
}

#[test]
fn revocation_stops_later_changes_everywhere_it_reaches() {
    let org = Org::new();
    let first = add(org.d(C1), "Vũ Thị Hoa");
    add(org.d(C2), "Đặng Văn Khoa");
    assert_eq!(org.pass(C1, W1, "c1a.bundle").0, 0);
    assert_eq!(org.pass(C2, W1, "c2a.bundle").0, 0);
    assert_eq!(org.pass(W1, D1, "w1a.bundle").0, 0);

    let v = ok(&[
        "credential",
        "revoke",
        "--node-id",
        &org.ids[C1],
        "--data",
        org.d(D1),
        "--json",
    ])
    .json();
    assert_eq!(v["accepted_changes"], 1);
    // The revocation travels down to the ward and up to the city with the district's bundles.
    let (_, w) = org.pass(D1, W1, "d1-down.bundle");
    assert_eq!(w["revocations"], 1);
    let (_, c) = org.pass(D1, CITY, "d1-up.bundle");
    assert_eq!(c["revocations"], 1);
    assert_eq!(names(org.d(CITY)), vec!["Vũ Thị Hoa", "Đặng Văn Khoa"]);

    // The revoked cell keeps working offline and signs more changes.
    add(org.d(C1), "Sau Thu Hồi");
    ok(&[
        "member",
        "edit",
        &first,
        "--data",
        org.d(C1),
        "--phone",
        "0900000000",
    ]);
    add(org.d(C2), "Bùi Thị Lan");
    ok(&[
        "bundle",
        "export",
        "--data",
        org.d(C1),
        "--out",
        &org.file("c1b.bundle"),
    ]);
    for target in [W1, D1, CITY] {
        let o = run(&[
            "bundle",
            "import",
            &org.file("c1b.bundle"),
            "--data",
            org.d(target),
            "--json",
        ]);
        assert_eq!(o.code, 4, "{target}: {}", o.stdout);
        let r = o.json();
        assert_eq!(r["applied"], 0, "{target}: {r}");
        assert_eq!(
            quarantine_codes(org.d(target)),
            vec!["revoked", "revoked"],
            "{target}"
        );
        // Earlier accepted changes stay.
        assert!(names(org.d(target)).contains(&"Vũ Thị Hoa".to_string()));
        assert!(!names(org.d(target)).contains(&"Sau Thu Hồi".to_string()));
        clean(org.d(target));
    }
    // The sibling cell is unaffected.
    let (code, r) = org.pass(C2, W1, "c2b.bundle");
    assert_eq!(code, 0, "{r}");
    assert!(names(org.d(W1)).contains(&"Bùi Thị Lan".to_string()));
    let shown = ok(&["member", "show", &first, "--data", org.d(W1), "--json"]).json();
    assert!(
        shown.get("phone").is_none(),
        "the revoked key's later edit must not apply"
    );
}

#[test]
fn a_node_rotates_its_key_and_keeps_its_history() {
    let org = Org::new();
    let m = add(org.d(C1), "Ngô Thị Mai");
    assert_eq!(org.pass(C1, W1, "before.bundle").0, 0);
    let old_id = org.ids[C1].clone();
    let req = org.file("rotate.req");
    ok(&[
        "credential",
        "request",
        "--rotate",
        "--data",
        org.d(C1),
        "--out",
        &req,
    ]);
    let chain = org.file("rotate.chain");
    ok(&[
        "credential",
        "issue",
        "--request",
        &req,
        "--unit",
        C1,
        "--data",
        org.d(W1),
        "--out",
        &chain,
    ]);
    let v = ok(&[
        "credential",
        "install",
        &chain,
        "--data",
        org.d(C1),
        "--json",
    ])
    .json();
    assert_eq!(v["rotated"], true);
    let new_id = ok(&["id", "--data", org.d(C1)]).stdout.trim().to_string();
    assert_ne!(new_id, old_id);
    clean(org.d(C1));
    ok(&[
        "member",
        "edit",
        &m,
        "--data",
        org.d(C1),
        "--phone",
        "0911222333",
    ]);
    add(org.d(C1), "Đinh Văn Nam");
    // A fresh district node gets the whole history in one bundle: old-key and new-key changes alike.
    let (code, r) = org.pass(C1, D1, "all.bundle");
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["applied"], 3);
    let h = ok(&["member", "history", &m, "--data", org.d(D1), "--json"]).json();
    let authors: Vec<&str> = h
        .as_array()
        .expect("a")
        .iter()
        .filter_map(|e| e["author"].as_str())
        .collect();
    assert_eq!(authors, vec![old_id.as_str(), new_id.as_str()]);
    let (code, _) = org.pass(C1, W1, "after.bundle");
    assert_eq!(code, 0);
    assert_eq!(names(org.d(W1)), vec!["Ngô Thị Mai", "Đinh Văn Nam"]);
    clean(org.d(W1));
    clean(org.d(D1));
}

#[test]
fn the_audit_log_records_reads_and_writes() {
    let org = Org::new();
    let d = org.d(C1);
    let id = add(d, "Trịnh Văn Phong");
    ok(&["member", "show", &id, "--data", d]);
    ok(&["member", "list", "--data", d]);
    ok(&["member", "search", "trinh", "--data", d]);
    ok(&["member", "edit", &id, "--data", d, "--phone", "0912345678"]);
    ok(&["member", "history", &id, "--data", d]);
    let v = ok(&["audit", "--data", d, "--json"]).json();
    assert_eq!(v["intact"], true);
    let entries = v["entries"].as_array().expect("entries").clone();
    let actions: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        vec![
            "member.add",
            "member.show",
            "member.list",
            "member.search",
            "member.edit",
            "member.history"
        ]
    );
    assert_eq!(entries[1]["target"], id.as_str());
    assert_eq!(entries[3]["target"], "trinh");
    assert_eq!(entries[3]["detail"], "1 records");
    let only_edits = ok(&["audit", "--data", d, "--action", "member.edit", "--json"]).json();
    assert_eq!(only_edits["entries"].as_array().map(Vec::len), Some(1));
    // Later commands only append: the earlier entries are unchanged.
    ok(&["member", "show", &id, "--data", d]);
    let after = ok(&["audit", "--data", d, "--json"]).json();
    let after_entries = after["entries"].as_array().expect("entries");
    assert_eq!(after_entries.len(), entries.len() + 1);
    assert_eq!(&after_entries[..entries.len()], &entries[..]);
    // No command offers to change the log.
    let help = ok(&["audit", "--help"]).stdout;
    for word in ["delete", "edit", "remove", "clear"] {
        assert!(!help.contains(&format!("--{word}")), "{help}");
    }
}

#[test]
fn changes_waiting_for_a_chain_are_taken_up_when_it_arrives() {
    let org = Org::new();
    add(org.d(C1), "Tạ Văn Chờ");
    let full = org.file("c1.bundle");
    ok(&["bundle", "export", "--data", org.d(C1), "--out", &full]);
    // The same bundle without the cell's chain: the ward cannot tell who may write, so it quarantines.
    let bare: Vec<(u8, Vec<u8>)> = records(&full)
        .into_iter()
        .filter(|(t, _)| *t == TAG_CHANGE)
        .collect();
    let bare_path = org.file("bare.bundle");
    write_bundle(&bare_path, &bare);
    let o = run(&[
        "bundle",
        "import",
        &bare_path,
        "--data",
        org.d(W1),
        "--json",
    ]);
    assert_eq!(o.code, 4);
    assert_eq!(quarantine_codes(org.d(W1)), vec!["no_credential"]);
    // The chain arrives (with nothing new): the quarantined change is applied and leaves the quarantine.
    let chain_only: Vec<(u8, Vec<u8>)> = records(&full)
        .into_iter()
        .filter(|(t, _)| *t == rollmesh_proto::TAG_CHAIN)
        .collect();
    let chain_path = org.file("chain.bundle");
    write_bundle(&chain_path, &chain_only);
    let r = ok(&[
        "bundle",
        "import",
        &chain_path,
        "--data",
        org.d(W1),
        "--json",
    ])
    .json();
    assert_eq!(r["applied"], 1, "{r}");
    assert!(quarantine_codes(org.d(W1)).is_empty());
    assert_eq!(names(org.d(W1)), vec!["Tạ Văn Chờ"]);
    clean(org.d(W1));
}

/// A bundle whose only refused record is a revocation or a chain is not "done": the import exits 4 and
/// names what it refused.
#[test]
fn a_refused_revocation_or_chain_makes_the_import_exit_4() {
    let org = Org::new();
    add(org.d(C1), "Lý Thị Quyên");
    assert_eq!(org.pass(C1, W1, "c1.bundle").0, 0);
    assert_eq!(org.pass(W1, D1, "w1.bundle").0, 0);
    ok(&[
        "credential",
        "revoke",
        "--node-id",
        &org.ids[C1],
        "--data",
        org.d(D1),
    ]);
    let genuine = org.file("d1.bundle");
    ok(&["bundle", "export", "--data", org.d(D1), "--out", &genuine]);
    let recs = records(&genuine);
    let rev_at = recs
        .iter()
        .position(|(t, _)| *t == rollmesh_proto::TAG_REVOCATION)
        .expect("the revocation travels in the bundle");
    let now = chrono_now();
    let c1_key = org.key(C1).public();

    // 1. The genuine revocation with one signed byte changed.
    let mut tampered = recs.clone();
    let n = tampered[rev_at].1.len();
    tampered[rev_at].1[n - 70] ^= 0x01;
    // 2. A revocation signed by a key that holds no credential of this organisation.
    let stranger = NodeKey::generate();
    let forged = rollmesh_proto::Revocation::issue(
        &stranger,
        c1_key,
        0,
        C1.parse().expect("u"),
        now,
        vec![],
    );
    // 3. A chain for the cell's key from another organisation's root.
    let other_root = NodeKey::generate();
    let foreign = Chain(vec![Credential::issue(
        &other_root,
        c1_key,
        C1.parse().expect("u"),
        roles::ALL,
        now - 60,
        now + 86_400,
        5,
    )]);
    // (name, bundle records, what the refusal says)
    type Case<'a> = (&'a str, Vec<(u8, Vec<u8>)>, &'a str);
    let cases: Vec<Case> = vec![
        ("tampered", tampered, "bad_signature"),
        (
            "forged",
            vec![(rollmesh_proto::TAG_REVOCATION, forged.encode())],
            "revocation by",
        ),
        (
            "foreign",
            vec![(rollmesh_proto::TAG_CHAIN, foreign.encode())],
            "wrong_root",
        ),
    ];
    for (name, recs, reason) in cases {
        let path = org.file(&format!("{name}.bundle"));
        write_bundle(&path, &recs);
        let o = run(&["bundle", "import", &path, "--data", org.d(W1), "--json"]);
        assert_eq!(o.code, 4, "{name}: {}\n{}", o.stdout, o.stderr);
        let v = o.json();
        let refused: Vec<String> = v["refused_credentials"]
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect();
        assert_eq!(refused.len(), 1, "{name}: {v}");
        assert!(refused[0].contains(reason), "{name}: {refused:?}");
        assert_eq!(v["rejected"].as_array().map(Vec::len), Some(0), "{name}");
        assert_eq!(v["revocations"], 0, "{name}");
    }
    // The genuine bundle is taken in whole, and exits 0.
    let (code, v) = org.pass(D1, W1, "d1-again.bundle");
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["revocations"], 1);
}
