//! Ledgers and organisation-wide documents in the store: stale views rebuilt, kinds kept apart,
//! unclean text refused.

use super::*;
use rollmesh_model::ledger::{Dues, LedgerEdit};
use rollmesh_proto::{actor_for, DocKind, NodeKey};

#[test]
fn a_plain_view_written_in_another_layout_is_rebuilt_from_the_document() {
    let dir = tempfile::tempdir().expect("tmp");
    let node = NodeKey::from_seed([3; 32]);
    let cell = UnitPath::parse("hn.d01.w01.c01").expect("cell");
    let store = Store::create(dir.path(), cell.clone(), node.public()).expect("store");
    let mut l = store.ledger(&cell, 2025).expect("genesis");
    let mut e = LedgerEdit::new();
    let member = MemberId::new(1, [1; 10]);
    e.set_dues(
        member,
        2,
        Dues::Unpaid {
            reason: None,
            accepted: false,
        },
    );
    let change = l
        .edit(actor_for(&node.public()), &e, 5)
        .expect("edit")
        .expect("change");
    let id = MemberId(LedgerId::of(&cell, 2025).0);
    let vc = VerifiedChange::sign_own(&node, DocKind::Ledger, id, change).expect("sign");
    store.apply(vec![vc], "local").expect("apply");
    let expected = store.ledger_head(&id).expect("read").expect("held");
    // An older version's view: same hash and place, a view this version cannot decode.
    let stored = store
        .kv
        .get(key(b'B', &[id.as_bytes()]))
        .expect("get")
        .expect("B");
    let (hash, _, _, view) = decode_place(&stored).expect("place");
    let mut old = stored[..stored.len() - view.len()].to_vec();
    old.extend_from_slice(&[0xff; 3]);
    store
        .kv
        .insert(key(b'B', &[id.as_bytes()]), old)
        .expect("put");
    assert_eq!(
        store.ledger_head(&id).expect("read"),
        Some(expected.clone())
    );
    assert_eq!(store.ledgers(None).expect("list"), vec![expected]);
    assert_eq!(store.states().expect("states")[0].2, hash);
    // `verify` names it, so an operator knows the stored view is stale.
    assert!(!store.verify().expect("verify").is_clean());
}

fn store_and_key() -> (tempfile::TempDir, Store, NodeKey, UnitPath) {
    let dir = tempfile::tempdir().expect("tmp");
    let node = NodeKey::from_seed([4; 32]);
    let cell = UnitPath::parse("hn.d01.w01.c02").expect("cell");
    let store = Store::create(dir.path(), cell.clone(), node.public()).expect("store");
    (dir, store, node, cell)
}

fn dues(member: MemberId, month: u32) -> LedgerEdit {
    let mut e = LedgerEdit::new();
    e.set_dues(
        member,
        month,
        Dues::Unpaid {
            reason: None,
            accepted: false,
        },
    );
    e
}

#[test]
fn a_change_of_another_kind_waiting_under_a_ledgers_id_is_never_applied_to_it() {
    let (_dir, store, node, cell) = store_and_key();
    let id = MemberId(LedgerId::of(&cell, 2027).0);
    let member = MemberId::new(1, [2; 10]);
    let (mut l, _) = LedgerDoc::genesis(&cell, 2027).expect("genesis");
    let actor = actor_for(&node.public());
    let first = l
        .edit(actor.clone(), &dues(member, 1), 5)
        .expect("a")
        .expect("a");
    let second = l.edit(actor, &dues(member, 2), 6).expect("b").expect("b");
    // The second edit relabelled as a dossier change: it waits (its dependency is missing).
    let relabelled = VerifiedChange::sign_own(&node, DocKind::Member, id, second).expect("sign");
    let r = store.apply(vec![relabelled], "peer").expect("apply");
    assert_eq!(r.pending, 1);
    // The genuine first edit arrives: the ledger takes it and leaves the dossier change waiting.
    let genuine = VerifiedChange::sign_own(&node, DocKind::Ledger, id, first).expect("sign");
    let r = store.apply(vec![genuine], "peer").expect("apply");
    assert_eq!(r.applied.len(), 1, "{r:?}");
    let held = store.ledger(&cell, 2027).expect("ledger").read();
    assert_eq!(held.dues[&member.to_string()].len(), 1, "only January");
    assert!(store.verify().expect("verify").is_clean());
}

#[test]
fn one_id_one_kind() {
    let (_dir, store, node, cell) = store_and_key();
    let actor = actor_for(&node.public());
    // A dossier at the id of next year's ledger: the ledger's changes are then refused there.
    let id = MemberId(LedgerId::of(&cell, 2028).0);
    let mut f = std::collections::BTreeMap::new();
    f.insert(rollmesh_model::Field::FullName, "Ai Đó".to_string());
    f.insert(rollmesh_model::Field::Unit, cell.to_string());
    let (_, c) =
        rollmesh_model::Dossier::create(id, actor.clone(), f.clone(), vec![], 1).expect("dossier");
    let dossier = VerifiedChange::sign_own(&node, DocKind::Member, id, c).expect("sign");
    assert_eq!(
        store
            .apply(vec![dossier], "peer")
            .expect("apply")
            .applied
            .len(),
        1
    );
    let (mut l, _) = LedgerDoc::genesis(&cell, 2028).expect("genesis");
    let c = l
        .edit(actor.clone(), &dues(MemberId::new(1, [3; 10]), 1), 5)
        .expect("edit")
        .expect("change");
    let ledger = VerifiedChange::sign_own(&node, DocKind::Ledger, id, c).expect("sign");
    let r = store.apply(vec![ledger], "peer").expect("apply");
    assert_eq!(r.rejected.len(), 1);
    assert!(store.ledger_head(&id).expect("read").is_none());
    // A dossier at an organisation-wide document's id is refused outright.
    let rules = MemberId(OrgDocKind::Rules.id());
    let (_, c) = rollmesh_model::Dossier::create(rules, actor, f, vec![], 1).expect("dossier");
    let at_rules = VerifiedChange::sign_own(&node, DocKind::Member, rules, c).expect("sign");
    let r = store.apply(vec![at_rules], "peer").expect("apply");
    assert_eq!(r.rejected.len(), 1);
    assert!(store.record(&rules).expect("read").is_none());
    assert!(
        store.org_doc(OrgDocKind::Rules).is_ok(),
        "the rules still read"
    );
}

#[test]
fn text_a_clean_edit_could_not_have_stored_is_refused_on_arrival() {
    use automerge::transaction::Transactable;
    let (_dir, store, node, cell) = store_and_key();
    let id = MemberId(LedgerId::of(&cell, 2025).0);
    let (l, _) = LedgerDoc::genesis(&cell, 2025).expect("genesis");
    let mut doc = l.into_doc();
    doc.set_actor(actor_for(&node.public()));
    let meetings = match doc.get(automerge::ROOT, "meetings").expect("get") {
        Some((_, obj)) => obj,
        None => panic!("meetings"),
    };
    doc.transact_with::<_, _, automerge::AutomergeError, _>(
        |_| {
            automerge::transaction::CommitOptions::default()
                .with_message("hn.d01.w01.c02 2025: meeting 2025-01-09/regular")
        },
        |tx| {
            tx.put(&meetings, "2025-01-09/regular", "Họp \u{1b}[31m\u{202e}")?;
            Ok(())
        },
    )
    .map_err(|f| f.error)
    .expect("transact");
    let change = doc.get_last_local_change().expect("change");
    let vc = VerifiedChange::sign_own(&node, DocKind::Ledger, id, change).expect("sign");
    let r = store.apply(vec![vc], "peer").expect("apply");
    assert_eq!(r.rejected.len(), 1, "{r:?}");
    assert_eq!(r.rejected[0].code, RejectCode::InvalidDocument);
}
