use std::collections::BTreeMap;

use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ObjType, ReadDoc, ROOT};

use super::*;
use crate::member::MemberId;
use crate::{Dossier, DossierEdit};

fn actor(n: u8) -> ActorId {
    ActorId::from([n; 16])
}

fn fields() -> BTreeMap<Field, String> {
    let mut f = BTreeMap::new();
    f.insert(Field::FullName, "Nguyễn Văn An".to_string());
    f.insert(Field::Unit, "hn.d01.w01.c01".to_string());
    f.insert(Field::Status, "candidate".to_string());
    f
}

fn step_event(detail: &str) -> Event {
    Event {
        kind: EventKind::Note,
        date: Some("2025-01-06".into()),
        detail: detail.into(),
    }
}

/// A dossier with one event, and its document.
fn dossier() -> (Dossier, Automerge) {
    let id = MemberId::new(1_700_000_000_000, [3; 10]);
    let (d, _) =
        Dossier::create(id, actor(1), fields(), vec![step_event("first")], 1).expect("create");
    let doc = d.doc().clone();
    (d, doc)
}

/// A change made by `f` on a copy of `doc` as `who`.
fn raw_change(
    doc: &Automerge,
    who: u8,
    f: impl FnOnce(&mut automerge::transaction::Transaction),
) -> automerge::Change {
    let mut d = doc.clone().with_actor(actor(who));
    let mut tx = d.transaction();
    f(&mut tx);
    tx.commit();
    d.get_last_local_change().expect("a change")
}

#[test]
fn an_edit_reads_as_the_fields_and_events_it_writes() {
    let (mut d, history) = dossier();
    let mut e = DossierEdit::default();
    e.set.insert(Field::Phone, "0912345678".into());
    e.clear.insert(Field::Unit);
    e.clear.clear();
    e.events.push(step_event("second"));
    let change = d.edit(actor(2), &e, 2).expect("edit").expect("a change");
    let w = dossier_write(&history, &change).expect("an honest edit");
    assert_eq!(w.field(Field::Phone), Some(Some("0912345678")));
    assert_eq!(w.events, vec![step_event("second")]);
    assert!(!w.creates);
    // The creation itself.
    let (d, _) = dossier();
    let first = d.doc().get_changes(&[])[0].clone();
    let w = dossier_write(&Automerge::new(), &first).expect("a creation");
    assert!(w.creates);
    assert_eq!(w.events, vec![step_event("first")]);
}

#[test]
fn an_event_once_written_is_never_changed_moved_or_deleted() {
    let (_, history) = dossier();
    let (_, list) = history.get(ROOT, "events").expect("get").expect("events");
    let (_, first) = history.get(&list, 0).expect("get").expect("an event");
    // Rewriting its detail.
    let c = raw_change(&history, 2, |tx| {
        tx.put(&first, "detail", "altered").expect("put");
    });
    assert!(matches!(
        dossier_write(&history, &c),
        Err(DossierError::BadOperation(_))
    ));
    // Deleting it.
    let c = raw_change(&history, 2, |tx| {
        tx.delete(&list, 0).expect("delete");
    });
    assert!(dossier_write(&history, &c).is_err());
    // Replacing the whole list with a copy that lacks it (or holds something else).
    let c = raw_change(&history, 2, |tx| {
        let l = tx.put_object(ROOT, "events", ObjType::List).expect("list");
        let m = tx.insert_object(&l, 0, ObjType::Map).expect("map");
        tx.put(&m, "kind", "case_step").expect("put");
        tx.put(&m, "detail", "forged").expect("put");
    });
    assert!(dossier_write(&history, &c).is_err());
    // An unknown root key.
    let c = raw_change(&history, 2, |tx| {
        tx.put(ROOT, "shadow", "x").expect("put");
    });
    assert!(dossier_write(&history, &c).is_err());
    // Inserting a new event is what an edit does.
    let c = raw_change(&history, 2, |tx| {
        let m = tx.insert_object(&list, 1, ObjType::Map).expect("map");
        tx.put(&m, "kind", "note").expect("put");
        tx.put(&m, "detail", "ok").expect("put");
    });
    assert_eq!(
        dossier_write(&history, &c)
            .expect("an insertion")
            .events
            .len(),
        1
    );
}

#[test]
fn a_change_must_continue_its_historys_counters() {
    let (mut d, genesis) = dossier();
    let one = d
        .edit(
            actor(2),
            &{
                let mut e = DossierEdit::default();
                e.set.insert(Field::Phone, "0912345678".into());
                e
            },
            2,
        )
        .expect("edit")
        .expect("change");
    let after_one = d.doc().clone();
    let two = d
        .edit(
            actor(2),
            &{
                let mut e = DossierEdit::default();
                e.set.insert(Field::Phone, "0987654321".into());
                e
            },
            3,
        )
        .expect("edit")
        .expect("change");
    assert!(dossier_write(&after_one, &two).is_ok());
    // Judged against a history it does not continue (its counter and sequence run ahead).
    assert!(dossier_write(&genesis, &two).is_err());
    assert!(dossier_write(&genesis, &one).is_ok());
}
