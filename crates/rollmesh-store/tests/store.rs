//! Store behaviour over real sled in temp dirs with real keys: durability across reopen, duplicates,
//! waiting dependencies, quarantine of invalid documents, and `verify`.

use std::collections::BTreeMap;

use rollmesh_model::{Dossier, DossierEdit, Field, MemberId, UnitPath};
use rollmesh_proto::{actor_for, DocKind, NodeKey, SignedChange, VerifiedChange};
use rollmesh_store::Store;

fn unit() -> UnitPath {
    UnitPath::parse("hn.d01.w01.c01").expect("unit")
}

fn create(key: &NodeKey, name: &str) -> (MemberId, VerifiedChange) {
    let id = MemberId::new(0, rand::random());
    let mut f = BTreeMap::new();
    f.insert(Field::FullName, name.to_string());
    f.insert(Field::Unit, unit().to_string());
    let (_, c) = Dossier::create(id, actor_for(&key.public()), f, vec![], 10).expect("create");
    let env = SignedChange::sign(key, DocKind::Member, id, c.raw_bytes());
    (id, env.verify().expect("verify"))
}

fn edit(store: &Store, key: &NodeKey, id: MemberId, f: Field, v: &str) -> VerifiedChange {
    let mut d = store.dossier(&id).expect("read").expect("exists");
    let mut e = DossierEdit::default();
    e.set.insert(f, v.to_string());
    let c = d
        .edit(actor_for(&key.public()), &e, 20)
        .expect("edit")
        .expect("change");
    SignedChange::sign(key, DocKind::Member, id, c.raw_bytes())
        .verify()
        .expect("verify")
}

#[test]
fn applied_changes_survive_reopen() {
    let dir = tempfile::tempdir().expect("tmp");
    let key = NodeKey::generate();
    let (id, c) = create(&key, "Nguyễn Văn An");
    {
        let store = Store::create(dir.path(), unit(), key.public()).expect("create");
        let r = store.apply(vec![c.clone()], "test").expect("apply");
        assert_eq!(r.applied.len(), 1);
        let e = edit(&store, &key, id, Field::Phone, "0912345678");
        store.apply(vec![e], "test").expect("apply");
    }
    let store = Store::open(dir.path()).expect("reopen");
    let rec = store.record(&id).expect("read").expect("present");
    assert_eq!(rec.name(), "Nguyễn Văn An");
    assert_eq!(rec.get(Field::Phone), Some("0912345678"));
    assert_eq!(store.last_seq(), 2);
    assert_eq!(store.history(&id).expect("history").len(), 2);
    assert_eq!(store.search("nguyen van an").expect("search").len(), 1);
    assert_eq!(store.search("NGUYỄN an").expect("search").len(), 1);
    assert!(store.search("tran").expect("search").is_empty());
    assert_eq!(
        store
            .list(Some(&UnitPath::parse("hn.d01").expect("u")))
            .expect("list")
            .len(),
        1
    );
    assert!(store
        .list(Some(&UnitPath::parse("hn.d02").expect("u")))
        .expect("list")
        .is_empty());
    // Re-applying is a no-op.
    let again = store.apply(vec![c], "test").expect("apply");
    assert_eq!((again.applied.len(), again.duplicates), (0, 1));
    assert!(store.verify().expect("verify").is_clean());
}

#[test]
fn create_refuses_existing_and_open_refuses_missing() {
    let dir = tempfile::tempdir().expect("tmp");
    let key = NodeKey::generate();
    assert!(Store::open(dir.path()).is_err());
    drop(Store::create(dir.path(), unit(), key.public()).expect("create"));
    assert!(matches!(
        Store::create(dir.path(), unit(), key.public()),
        Err(rollmesh_store::StoreError::AlreadyExists)
    ));
}

#[test]
fn out_of_order_changes_wait_then_apply() {
    let a = tempfile::tempdir().expect("tmp");
    let b = tempfile::tempdir().expect("tmp");
    let key = NodeKey::generate();
    let sa = Store::create(a.path(), unit(), key.public()).expect("create");
    let sb = Store::create(b.path(), unit(), key.public()).expect("create");
    let (id, c1) = create(&key, "Lê Thị Hằng");
    sa.apply(vec![c1.clone()], "t").expect("apply");
    let c2 = edit(&sa, &key, id, Field::Workplace, "Trường THCS Kim Mã");
    sa.apply(vec![c2.clone()], "t").expect("apply");
    let c3 = edit(&sa, &key, id, Field::Phone, "0987654321");
    // b receives the last two first: both wait.
    let r = sb.apply(vec![c3.clone(), c2.clone()], "t").expect("apply");
    assert_eq!((r.applied.len(), r.pending), (0, 2));
    assert!(sb.record(&id).expect("read").is_none());
    assert_eq!(sb.pending_count(), 2);
    // The first arrives in a later call: everything applies, in dependency order.
    let r = sb.apply(vec![c1], "t").expect("apply");
    assert_eq!(r.applied.len(), 3);
    assert_eq!(sb.pending_count(), 0);
    let rec = sb.record(&id).expect("read").expect("present");
    assert_eq!(rec.get(Field::Phone), Some("0987654321"));
    assert_eq!(rec.get(Field::Workplace), Some("Trường THCS Kim Mã"));
    assert!(sb.verify().expect("verify").is_clean());
}

#[test]
fn a_change_that_breaks_the_dossier_is_quarantined() {
    use automerge::transaction::Transactable;
    let dir = tempfile::tempdir().expect("tmp");
    let key = NodeKey::generate();
    let store = Store::create(dir.path(), unit(), key.public()).expect("create");
    // A validly signed change that creates a document which is not a dossier.
    let id = MemberId::new(0, rand::random());
    let mut doc = automerge::AutoCommit::new().with_actor(actor_for(&key.public()));
    doc.put(automerge::ROOT, "kind", "something/else")
        .expect("put");
    doc.commit();
    let c = doc.get_last_local_change().expect("change");
    let bad = SignedChange::sign(&key, DocKind::Member, id, c.raw_bytes())
        .verify()
        .expect("signature is fine");
    let (good_id, good) = create(&key, "Phạm Minh Châu");
    let r = store.apply(vec![bad, good], "t").expect("apply");
    assert_eq!(r.applied.len(), 1);
    assert_eq!(r.rejected.len(), 1);
    assert!(store.record(&id).expect("read").is_none());
    assert!(store.record(&good_id).expect("read").is_some());
    let q = store.quarantine_list().expect("list");
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].code, "invalid_document");
    assert!(store.verify().expect("verify").is_clean());
}

#[test]
fn long_histories_compact_and_indexes_follow_renames_and_moves() {
    let dir = tempfile::tempdir().expect("tmp");
    let key = NodeKey::generate();
    let store =
        Store::create(dir.path(), UnitPath::parse("hn").expect("u"), key.public()).expect("create");
    let (a, ca) = create(&key, "Nguyễn Văn An");
    let (_, cb) = create(&key, "Trần Thị Hoa");
    store.apply(vec![ca, cb], "t").expect("apply");
    // More edits than COMPACT_AT: the document is then kept compacted, and still reads the same.
    for i in 0..rollmesh_store::COMPACT_AT + 3 {
        let e = edit(&store, &key, a, Field::Phone, &format!("09123456{i:02}"));
        store.apply(vec![e], "t").expect("apply");
    }
    let e = edit(&store, &key, a, Field::FullName, "Lê Văn Bình");
    store.apply(vec![e], "t").expect("apply");
    let e = edit(&store, &key, a, Field::Unit, "hn.d02.w01.c01");
    store.apply(vec![e], "t").expect("apply");
    drop(store);

    let store = Store::open(dir.path()).expect("reopen");
    let d = store.dossier(&a).expect("read").expect("exists");
    assert_eq!(d.record().expect("record").name(), "Lê Văn Bình");
    assert!(store.search("nguyen van an").expect("search").is_empty());
    assert_eq!(store.search("le binh").expect("search").len(), 1);
    // "van" begins words of both names; "bi" only of the renamed one.
    assert_eq!(store.search("van").expect("search").len(), 1);
    assert_eq!(store.search("v").expect("search").len(), 1);
    let (page, total) = store.search_page("h", 1).expect("search");
    assert_eq!((page.len(), total), (1, 1));
    let counts: Vec<(String, u64)> = store
        .headcount(&UnitPath::parse("hn").expect("u"))
        .expect("headcount")
        .into_iter()
        .map(|h| (h.unit.to_string(), h.count))
        .collect();
    assert_eq!(
        counts,
        vec![
            ("hn.d01.w01.c01".to_string(), 1),
            ("hn.d02.w01.c01".to_string(), 1)
        ]
    );
    assert_eq!(
        store
            .headcount(&UnitPath::parse("hn.d02").expect("u"))
            .expect("headcount")
            .len(),
        1
    );
    let v = store.verify().expect("verify");
    assert!(v.is_clean(), "{:?}", v.problems);
    assert_eq!(v.documents, 2);
}

#[test]
fn a_batch_prepared_while_another_is_uncommitted_waits_for_its_documents() {
    let dir = tempfile::tempdir().expect("tmp");
    let key = NodeKey::generate();
    let store = Store::create(dir.path(), unit(), key.public()).expect("create");
    let (id, created) = create(&key, "Nguyễn Văn An");
    // The edit is built on a scratch store that already holds the member.
    let scratch_dir = tempfile::tempdir().expect("tmp");
    let scratch = Store::create(scratch_dir.path(), unit(), key.public()).expect("create");
    scratch.apply(vec![created.clone()], "t").expect("apply");
    let edited = edit(&scratch, &key, id, Field::Phone, "0912345678");
    let (other, unrelated) = create(&key, "Trần Thị Hoa");

    let first = store
        .prepare(vec![created], &rollmesh_store::AcceptAll)
        .expect("prepare");
    let store = &store;
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::channel();
        let waiting = s.spawn(move || {
            let p = store
                .prepare(vec![edited], &rollmesh_store::AcceptAll)
                .expect("prepare");
            tx.send(()).expect("send");
            p
        });
        // A batch on other documents is not held up.
        let free = store
            .prepare(vec![unrelated], &rollmesh_store::AcceptAll)
            .expect("prepare");
        assert!(
            rx.recv_timeout(std::time::Duration::from_millis(300))
                .is_err(),
            "the edit was prepared before the member's creation was committed"
        );
        store.commit(first, "t").expect("commit");
        let second = waiting.join().expect("join");
        let r = store.commit(second, "t").expect("commit");
        assert_eq!(
            (r.applied.len(), r.pending),
            (1, 0),
            "the edit saw the committed member"
        );
        store.commit(free, "t").expect("commit");
    });
    assert_eq!(
        store
            .record(&id)
            .expect("read")
            .expect("present")
            .get(Field::Phone),
        Some("0912345678")
    );
    assert!(store.record(&other).expect("read").is_some());
    assert!(store.verify().expect("verify").is_clean());
}

/// The subtree totals a page of members reports follow adds, status changes and moves, and a store
/// written before they existed gets them built when it is opened.
#[test]
fn subtree_totals_follow_edits_and_are_built_for_older_stores() {
    let dir = tempfile::tempdir().expect("tmp");
    let key = NodeKey::generate();
    let store =
        Store::create(dir.path(), UnitPath::parse("hn").expect("u"), key.public()).expect("create");
    let mut ids = Vec::new();
    for i in 0..5 {
        let (id, c) = create(&key, &format!("Đảng viên {i}"));
        store.apply(vec![c], "test").expect("apply");
        ids.push(id);
    }
    let u = |s: &str| UnitPath::parse(s).expect("unit");
    let e = edit(&store, &key, ids[0], Field::Status, "probationary");
    store.apply(vec![e], "test").expect("apply");
    let e = edit(&store, &key, ids[1], Field::Unit, "hn.d02.w01.c01");
    store.apply(vec![e], "test").expect("apply");
    let check = |store: &Store, when: &str| {
        assert_eq!(store.subtree_total(&u("hn"), None).expect("t"), 5, "{when}");
        assert_eq!(store.subtree_total(&u("hn.d01"), None).expect("t"), 4);
        assert_eq!(
            store.subtree_total(&u("hn.d01.w01.c01"), None).expect("t"),
            4
        );
        assert_eq!(store.subtree_total(&u("hn.d02"), None).expect("t"), 1);
        assert_eq!(
            store
                .subtree_total(&u("hn.d01"), Some("official"))
                .expect("t"),
            3
        );
        assert_eq!(
            store
                .subtree_total(&u("hn"), Some("probationary"))
                .expect("t"),
            1
        );
        assert_eq!(store.subtree_total(&u("hn.d03"), None).expect("t"), 0);
        assert!(store.verify().expect("verify").is_clean());
    };
    check(&store, "as written");
    drop(store);
    // An older store: no totals and no marker. Opening builds them from the headcounts.
    {
        let db = sled::open(dir.path()).expect("sled");
        let kv = db.open_tree("rollmesh").expect("tree");
        for k in kv.scan_prefix([b'J']).keys() {
            kv.remove(k.expect("key")).expect("remove");
        }
        kv.remove(b"Mtotals-v1").expect("remove");
        kv.flush().expect("flush");
    }
    let store = Store::open(dir.path()).expect("reopen");
    check(&store, "built on open");
}
