//! Unit tests of `accept`: its decisions over real sled stores and real keys.

//! The accept pipeline over real stores: what reaches the store, what is quarantined and why.

use super::*;
use crate::testkit::{
    change_record, fields, forge_edit, forge_member, move_to, quarantine_codes, Org, C1, C2, CITY,
    WARD,
};
use rollmesh_model::{MemberId, OrgTree, UnitPath};
use rollmesh_proto::{DocKind, NodeKey, TAG_CHANGE};

fn flip(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[at] ^= 0x01;
    b
}

fn make(node: &Node, name: &str, unit: &str) -> (MemberId, VerifiedChange) {
    node.new_member(fields(name, unit), vec![])
        .expect("new member")
}

fn codes(rs: &[Rejection]) -> Vec<RejectCode> {
    rs.iter().map(|r| r.code).collect()
}

fn held(node: &Node, id: &MemberId) -> bool {
    node.store().record(id).expect("read").is_some()
}

fn unit_of(node: &Node, id: &MemberId) -> String {
    node.record(id)
        .expect("held")
        .unit()
        .expect("unit")
        .to_string()
}

#[test]
fn tampered_changes_are_quarantined_and_their_neighbours_applied() {
    let org = Org::new();
    let c1 = org.open(C1);
    let made: Vec<(MemberId, VerifiedChange)> = (0..5)
        .map(|i| make(&c1, &format!("Thành viên {i}"), C1))
        .collect();
    let env = |i: usize| made[i].1.envelope.as_bytes().to_vec();
    let last = env(1).len() - 1;
    let records = vec![
        org.chain_record(C1),
        change_record(&made[0].1),
        Record::change(flip(&env(1), last)), // the signature
        Record::change(flip(&env(2), 60)),   // the Automerge change bytes
        Record::change(flip(&env(3), 40)),   // the document id in the header
        change_record(&made[4].1),
    ];
    let city = org.open(CITY);
    let r = city.accept_records(records, "peer:c1").expect("accept");
    assert_eq!(r.received, 5);
    assert_eq!(codes(&r.rejected), vec![RejectCode::BadSignature; 3]);
    assert_eq!(
        r.applied.applied.len(),
        2,
        "the valid changes beside them apply"
    );
    assert_eq!(r.rejected_total(), 3);
    assert!(held(&city, &made[0].0) && held(&city, &made[4].0));
    for (id, _) in &made[1..4] {
        assert!(!held(&city, id));
    }
    let q = city.store().quarantine_list().expect("quarantine");
    assert_eq!(q.len(), 3);
    for e in &q {
        assert_eq!(e.code, "bad_signature");
        assert!(!e.detail.is_empty(), "a quarantined change says why");
        assert_eq!(e.source, "peer:c1");
        assert_eq!(e.author, Some(org.public(C1).node_id().to_string()));
    }
    assert_eq!(q[0].doc, Some(made[1].0));
    // The tampered bytes are kept as received, not the originals.
    assert_eq!(q[0].bytes, flip(&env(1), last));
}

#[test]
fn a_chain_in_the_same_batch_authorises_its_changes() {
    let org = Org::new();
    let c1 = org.open(C1);
    let (a, va) = make(&c1, "Nguyễn Văn An", C1);
    let (b, vb) = make(&c1, "Trần Thị Bình", C1);
    let city = org.open(CITY);
    assert!(city.chain_of(&org.public(C1)).expect("read").is_none());
    // The chain comes last in the batch: chains are taken before changes whatever the order.
    let r = city
        .accept_records(
            vec![change_record(&va), change_record(&vb), org.chain_record(C1)],
            "bundle",
        )
        .expect("accept");
    assert_eq!(r.chains, 1);
    assert_eq!(r.applied.applied.len(), 2);
    assert_eq!(r.rejected_total(), 0);
    assert!(held(&city, &a) && held(&city, &b));
    assert_eq!(
        city.chain_of(&org.public(C1)).expect("read"),
        Some(org.chain(C1))
    );
}

#[test]
fn a_change_quarantined_for_want_of_a_chain_is_taken_up_when_it_arrives() {
    let org = Org::new();
    let c1 = org.open(C1);
    let (a, va) = make(&c1, "Tạ Văn Chờ", C1);
    let (_, vb) = make(&c1, "Hỏng Chữ Ký", C1);
    let (x, vx) = forge_member(&org.key(C1), C2, "Ngoài Chi Bộ");
    let ward = org.open(WARD);
    let bad_sig = flip(vb.envelope.as_bytes(), vb.envelope.as_bytes().len() - 1);
    let r = ward
        .accept_records(
            vec![
                change_record(&va),
                Record::change(bad_sig),
                change_record(&vx),
            ],
            "bare",
        )
        .expect("accept");
    assert_eq!(
        codes(&r.applied.rejected),
        vec![RejectCode::NoCredential, RejectCode::NoCredential]
    );
    assert_eq!(
        quarantine_codes(&ward),
        vec!["bad_signature", "no_credential", "no_credential"]
    );
    assert!(!held(&ward, &a));

    // The chain arrives alone: both waiting changes are taken up again and meet the policy.
    let r = ward
        .accept_records(vec![org.chain_record(C1)], "chain")
        .expect("accept");
    assert_eq!(r.received, 2, "the two no_credential changes are retried");
    assert_eq!(r.applied.applied.len(), 1);
    assert_eq!(codes(&r.applied.rejected), vec![RejectCode::Unauthorized]);
    assert!(held(&ward, &a));
    assert!(!held(&ward, &x));
    // Their old entries are gone; the other refusals stay, now with their real reason.
    assert_eq!(
        quarantine_codes(&ward),
        vec!["bad_signature", "unauthorized"]
    );

    // The same chain again is nothing new: nothing is retried.
    let r = ward
        .accept_records(vec![org.chain_record(C1)], "chain")
        .expect("accept");
    assert_eq!(r.received, 0);
    assert_eq!(
        quarantine_codes(&ward),
        vec!["bad_signature", "unauthorized"]
    );
}

#[test]
fn undecodable_records_are_refused_without_stopping_the_batch() {
    let org = Org::new();
    let c1 = org.open(C1);
    let (a, va) = make(&c1, "Nguyễn Văn An", C1);
    let c1_key = org.key(C1);
    let bad_kind = flip(va.envelope.as_bytes(), 1);
    // A well-signed envelope around bytes that are no Automerge change.
    let not_automerge =
        SignedChange::sign(&c1_key, DocKind::Member, MemberId([7; 16]), b"not a change");
    let city = org.open(CITY);
    let r = city
        .accept_records(
            vec![
                Record::change(vec![]),
                Record::change(vec![0xff; 200]),
                Record::change(bad_kind),
                Record::change(not_automerge.as_bytes().to_vec()),
                Record::chain(vec![]),
                Record::chain(vec![1, 2, 3]),
                Record::revocation(vec![]),
                Record::revocation(vec![1; 40]),
                org.chain_record(C1),
                change_record(&va),
            ],
            "junk",
        )
        .expect("junk is refused, not an error");
    assert_eq!(
        codes(&r.rejected),
        vec![
            RejectCode::Malformed,
            RejectCode::Malformed,
            RejectCode::Malformed,
            RejectCode::BadChange
        ]
    );
    assert_eq!(
        r.refused_credentials.len(),
        4,
        "{:?}",
        r.refused_credentials
    );
    assert_eq!(r.revocations, 0);
    assert_eq!(r.applied.applied.len(), 1);
    assert!(held(&city, &a));
    let q = city.store().quarantine_list().expect("quarantine");
    assert_eq!(q.len(), 4);
    assert_eq!(
        q[0].author, None,
        "nothing can be read from an empty record"
    );
    assert_eq!(q[3].author, Some(org.public(C1).node_id().to_string()));
}

#[test]
fn a_bundle_record_of_unknown_kind_marks_the_import_incomplete() {
    let org = Org::new();
    let c1 = org.open(C1);
    let (a, va) = make(&c1, "Nguyễn Văn An", C1);
    let path = org.path("odd.bundle");
    let mut w = BundleWriter::new(fs::File::create(&path).expect("create")).expect("writer");
    w.push(rollmesh_proto::TAG_CHAIN, &org.chain(C1).encode())
        .expect("push");
    w.push(0x09, b"from a newer version").expect("push");
    w.push(TAG_CHANGE, va.envelope.as_bytes()).expect("push");
    w.finish().expect("finish");
    let city = org.open(CITY);
    let r = city.import_bundle(&path).expect("import");
    assert!(
        !r.complete,
        "an unknown record is not silently taken as nothing"
    );
    assert_eq!(
        r.applied.applied.len(),
        1,
        "the records it knows still apply"
    );
    assert!(held(&city, &a));
}

#[test]
fn an_exported_bundle_carries_what_the_receiver_needs() {
    let org = Org::new();
    let c1 = org.open(C1);
    let a = c1
        .add_member(fields("Nguyễn Văn An", C1), vec![])
        .expect("add");
    c1.edit_member(
        a,
        &crate::testkit::set(rollmesh_model::Field::Phone, "0912345678"),
    )
    .expect("edit");
    let path = org.path("c1.bundle");
    let (n, last) = c1.export_bundle(&path, 0).expect("export");
    // The member's two changes, and the city's tree every node starts with.
    assert_eq!((n, last), (3, c1.store().last_seq()));
    let ward = org.open(WARD);
    let r = ward.import_bundle(&path).expect("import");
    assert!(r.complete);
    assert_eq!(r.chains, 2, "the cell's and the city's (the tree's author)");
    assert_eq!(r.applied.applied.len(), 2);
    assert_eq!(r.applied.duplicates, 1, "the ward has the tree already");
    assert_eq!(
        ward.record(&a)
            .expect("held")
            .get(rollmesh_model::Field::Phone),
        Some("0912345678")
    );
    // Importing it again changes nothing.
    let r = ward.import_bundle(&path).expect("import");
    assert_eq!(r.applied.applied.len(), 0);
    assert_eq!(r.applied.duplicates, 3);
}

#[test]
fn a_cell_cannot_write_or_move_another_cells_member() {
    let org = Org::new();
    let city = org.open(CITY);
    let b = city
        .add_member(fields("Trần Thị Bình", C2), vec![])
        .expect("add");
    let a = city
        .add_member(fields("Nguyễn Văn An", C1), vec![])
        .expect("add");
    let c1_key = org.key(C1);
    let (forged, vf) = forge_member(&c1_key, C2, "Kẻ Mạo Danh");
    let edit_b = forge_edit(
        &city,
        &c1_key,
        b,
        &crate::testkit::set(rollmesh_model::Field::Phone, "0900000000"),
    );
    let send_a_away = forge_edit(&city, &c1_key, a, &move_to(C2));
    let pull_a_in = forge_edit(&city, &org.key(C2), a, &move_to(C2));
    let r = city
        .accept_records(
            vec![
                org.chain_record(C1),
                org.chain_record(C2),
                change_record(&vf),
                change_record(&edit_b),
                change_record(&send_a_away),
                change_record(&pull_a_in),
            ],
            "mixed",
        )
        .expect("accept");
    assert!(r.applied.applied.is_empty());
    assert_eq!(
        codes(&r.applied.rejected),
        vec![RejectCode::Unauthorized; 4]
    );
    assert!(!held(&city, &forged));
    assert_eq!(
        city.record(&b)
            .expect("held")
            .get(rollmesh_model::Field::Phone),
        None
    );
    assert_eq!(unit_of(&city, &a), C1);
    // The ward covers both cells: its move goes through.
    let ward_move = forge_edit(&city, &org.key(WARD), a, &move_to(C2));
    let r = city
        .accept_records(
            vec![org.chain_record(WARD), change_record(&ward_move)],
            "ward",
        )
        .expect("accept");
    assert_eq!(r.applied.applied.len(), 1);
    assert_eq!(unit_of(&city, &a), C2);
}

#[test]
fn a_node_keeps_only_members_inside_its_scope() {
    let org = Org::new();
    let ward = org.open(WARD);
    let ward_key = org.key(WARD);
    let a = ward.add_member(fields("Ở Lại", C1), vec![]).expect("add");
    let leaving = ward
        .add_member(fields("Chuyển Đi", C1), vec![])
        .expect("add");
    let (other, v_other) = forge_member(&ward_key, C2, "Chi Bộ Khác");
    let (upper, v_upper) = forge_member(&ward_key, WARD, "Cấp Phường");
    let history = |id: &MemberId| -> Vec<Record> {
        ward.store()
            .history(id)
            .expect("history")
            .into_iter()
            .map(|(_, c)| Record::change(c.as_bytes().to_vec()))
            .collect()
    };
    let c1 = org.open(C1);
    let mut records = vec![org.chain_record(WARD)];
    records.extend(history(&a));
    records.extend(history(&leaving));
    records.push(change_record(&v_other));
    records.push(change_record(&v_upper));
    let r = c1.accept_records(records, "ward").expect("accept");
    // Every change is authorised (the ward covers them all); the cell keeps only its own members.
    assert_eq!(r.rejected_total(), 0);
    assert_eq!(r.applied.applied.len(), 2);
    assert_eq!(r.applied.skipped, 2);
    assert!(held(&c1, &a) && held(&c1, &leaving));
    assert!(!held(&c1, &other) && !held(&c1, &upper));
    // The ward transfers a member to the other cell: the cell lets it go, with its history.
    ward.edit_member(leaving, &move_to(C2)).expect("move");
    let r = c1
        .accept_records(history(&leaving), "ward")
        .expect("accept");
    assert_eq!(r.applied.evicted, vec![leaving]);
    assert!(!held(&c1, &leaving));
    assert!(c1.store().history(&leaving).expect("history").is_empty());
    assert!(held(&c1, &a));
    assert!(c1
        .store()
        .states()
        .expect("states")
        .iter()
        .all(|(id, _, _)| *id != leaving));
}

#[test]
fn a_revocation_keeps_the_accepted_history_and_refuses_the_rest() {
    let org = Org::new();
    let c1 = org.open(C1);
    let (a, va) = make(&c1, "Vũ Thị Hoa", C1);
    c1.commit_own(vec![va.clone()]).expect("commit");
    let ward = org.open(WARD);
    let r = ward
        .accept_records(vec![org.chain_record(C1), change_record(&va)], "c1")
        .expect("accept");
    assert_eq!(r.applied.applied.len(), 1);
    let rev = ward
        .credential_revoke(Some(org.public(C1).node_id()), None)
        .expect("revoke");
    assert_eq!(
        rev.accepted,
        vec![va.hash()],
        "the revocation lists what the ward accepted"
    );
    // The cell keeps working offline: a new member and an edit of the accepted one.
    let (b, vb) = make(&c1, "Sau Thu Hồi", C1);
    let edit_a = forge_edit(
        &c1,
        &org.key(C1),
        a,
        &crate::testkit::set(rollmesh_model::Field::Phone, "0900000000"),
    );
    let city = org.open(CITY);
    let r = city
        .accept_records(
            vec![
                Record::revocation(rev.encode()),
                org.chain_record(WARD),
                org.chain_record(C1),
                change_record(&va),
                change_record(&vb),
                change_record(&edit_a),
            ],
            "bundle",
        )
        .expect("accept");
    assert_eq!(r.revocations, 1);
    assert!(
        held(&city, &a),
        "the change the revocation accepted stays valid"
    );
    assert!(!held(&city, &b));
    assert_eq!(
        city.record(&a)
            .expect("held")
            .get(rollmesh_model::Field::Phone),
        None
    );
    assert_eq!(
        codes(&r.applied.rejected),
        vec![RejectCode::Revoked, RejectCode::Revoked]
    );
    assert_eq!(city.revocations().expect("revocations").len(), 1);
    // The same revocation again is not new.
    let r = city
        .accept_records(vec![Record::revocation(rev.encode())], "again")
        .expect("accept");
    assert_eq!(r.revocations, 0);
}

/// Peer authentication records revocations before any change arrives, so a node usually knows a
/// revocation before it meets the revoked key's chain: the accepted history must still get in.
#[test]
fn a_revocation_known_first_still_lets_the_accepted_history_in() {
    let org = Org::new();
    let c1 = org.open(C1);
    let (a, va) = make(&c1, "Vũ Thị Hoa", C1);
    c1.commit_own(vec![va.clone()]).expect("commit");
    let ward = org.open(WARD);
    ward.accept_records(vec![org.chain_record(C1), change_record(&va)], "c1")
        .expect("accept");
    let rev = ward
        .credential_revoke(Some(org.public(C1).node_id()), None)
        .expect("revoke");
    let (b, vb) = make(&c1, "Sau Thu Hồi", C1);
    let city = org.open(CITY);
    let r = city
        .accept_records(
            vec![Record::revocation(rev.encode()), org.chain_record(WARD)],
            "first",
        )
        .expect("accept");
    assert_eq!(r.revocations, 1);
    let r = city
        .accept_records(
            vec![org.chain_record(C1), change_record(&va), change_record(&vb)],
            "second",
        )
        .expect("accept");
    assert!(
        held(&city, &a),
        "the change the revocation accepted stays valid"
    );
    assert!(!held(&city, &b));
    assert_eq!(codes(&r.applied.rejected), vec![RejectCode::Revoked]);
    // The revoked key still may not connect.
    assert!(city.recheck_peer(&org.chain(C1)).is_err());
}

#[test]
fn a_chain_under_another_root_is_refused_and_authorises_nothing() {
    let org = Org::new();
    let other_dir = tempfile::tempdir().expect("tmp");
    let tree = OrgTree::from_toml(crate::testkit::TINY_TREE).expect("tree");
    let (_, _) = crate::org::bootstrap(&tree, other_dir.path(), 30).expect("bootstrap");
    let impostor = Node::open(&crate::org::unit_dir(
        other_dir.path(),
        &UnitPath::parse(C1).expect("unit"),
    ))
    .expect("open");
    let (x, vx) = make(&impostor, "Người Lạ", C1);
    let foreign = impostor.own_chain().expect("read").expect("chain");
    let city = org.open(CITY);
    let r = city
        .accept_records(
            vec![Record::chain(foreign.encode()), change_record(&vx)],
            "x",
        )
        .expect("accept");
    assert_eq!(r.chains, 0);
    assert_eq!(r.refused_credentials.len(), 1);
    assert!(
        r.refused_credentials[0].contains("wrong_root"),
        "{:?}",
        r.refused_credentials
    );
    assert_eq!(codes(&r.applied.rejected), vec![RejectCode::NoCredential]);
    assert!(!held(&city, &x));
    assert!(city
        .chain_of(&impostor.public_key())
        .expect("read")
        .is_none());
}

#[test]
fn without_a_root_a_node_trusts_its_own_key_and_its_list() {
    let dir = tempfile::tempdir().expect("tmp");
    let unit = UnitPath::parse(C1).expect("unit");
    let node = Node::init(dir.path(), unit, None, None).expect("init");
    let friend = NodeKey::generate();
    let (a, va) = forge_member(&friend, C1, "Bạn");
    let (o, vo) = forge_member(&node.key, C1, "Của Mình");
    // A chain means nothing without a root: it is neither recorded nor refused.
    let org = Org::new();
    let r = node
        .accept_records(
            vec![org.chain_record(C1), change_record(&va), change_record(&vo)],
            "x",
        )
        .expect("accept");
    assert_eq!(r.chains, 0);
    assert_eq!(codes(&r.applied.rejected), vec![RejectCode::Untrusted]);
    assert!(held(&node, &o) && !held(&node, &a));
    node.store()
        .trust_add(friend.public().node_id(), "test")
        .expect("trust");
    let (b, vb) = forge_member(&friend, C1, "Bạn 2");
    let r = node
        .accept(vec![vb.envelope.as_bytes().to_vec()], "x")
        .expect("accept");
    assert_eq!(r.applied.applied.len(), 1);
    assert!(held(&node, &b));
    // Quarantined untrusted changes are not retried on trust (only no_credential ones wait).
    assert_eq!(quarantine_codes(&node), vec!["untrusted_author"]);
}

#[test]
fn prepared_changes_are_written_only_on_commit() {
    let org = Org::new();
    let c1 = org.open(C1);
    let (a, va) = make(&c1, "Nguyễn Văn An", C1);
    let (b, vb) = make(&c1, "Trần Thị Bình", C1);
    let ward = org.open(WARD);
    let start = ward.store().last_seq();
    let first = ward
        .prepare_records(vec![org.chain_record(C1), change_record(&va)], "p1")
        .expect("prepare");
    // Chains are recorded while preparing; changes are not.
    assert!(ward.chain_of(&org.public(C1)).expect("read").is_some());
    assert!(!held(&ward, &a));
    assert_eq!(ward.store().last_seq(), start);
    let r = ward.commit_prepared(first).expect("commit");
    assert_eq!(r.applied.applied.len(), 1);
    assert!(held(&ward, &a));
    // A prepared batch that is dropped leaves nothing behind.
    let dropped = ward
        .prepare_records(vec![change_record(&vb)], "p2")
        .expect("prepare");
    drop(dropped);
    assert!(!held(&ward, &b));
    let r = ward
        .accept_records(vec![change_record(&vb)], "p3")
        .expect("accept");
    assert_eq!(r.applied.applied.len(), 1);
    assert!(held(&ward, &b));
}

#[test]
fn a_dossier_change_naming_an_object_that_does_not_exist_is_refused_not_a_crash() {
    use automerge::legacy::{ObjectId, OpId};
    let org = Org::new();
    let c1 = org.open(C1);
    let id = c1
        .add_member(crate::testkit::fields("Vũ Văn Giang", C1), vec![])
        .expect("member");
    let mut edit = rollmesh_model::DossierEdit::default();
    edit.set
        .insert(rollmesh_model::Field::Phone, "0912345678".into());
    let honest = crate::testkit::forge_edit(&c1, &org.key(C1), id, &edit);
    let mut e = honest.change.decode();
    for op in e.operations.iter_mut() {
        op.obj = ObjectId::Id(OpId(999, rollmesh_proto::actor_for(&org.key(C1).public())));
    }
    e.hash = None;
    let ghost = VerifiedChange::sign_own(
        &org.key(C1),
        DocKind::Member,
        id,
        automerge::Change::from(e),
    )
    .expect("sign");
    let ward = {
        let records = crate::testkit::log_records(&org, &c1, &[C1]);
        drop(c1);
        let ward = org.open(crate::testkit::WARD);
        ward.accept_records(records, "peer:c1").expect("accept");
        ward
    };
    let r = ward
        .accept_records(vec![crate::testkit::change_record(&ghost)], "peer:c1")
        .expect("accept");
    assert_eq!(r.rejected_total(), 1, "{:?}", r.rejected);
    assert!(ward.store().verify().expect("verify").is_clean());
}
