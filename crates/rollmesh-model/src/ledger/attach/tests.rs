//! Tests of attachment books: naming, the grant, what the host may record under it, what a reader sees,
//! and what a received change touched (the input of its authority check). Deterministic.

use super::*;
use automerge::transaction::{CommitOptions, Transactable};

fn host() -> UnitPath {
    UnitPath::parse("hn.d02.w05.c03").expect("host")
}

fn home() -> UnitPath {
    UnitPath::parse("hn.d01.w01.c01").expect("home")
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("test date")
}

fn member(i: u8) -> MemberId {
    MemberId::new(1_600_000_000_000 + u64::from(i), [i; 10])
}

fn name() -> LedgerName {
    LedgerName::attachment(host(), 2025, member(1), home())
}

fn book() -> LedgerDoc {
    LedgerDoc::genesis_of(&name()).expect("genesis").0
}

fn actor(n: u8) -> ActorId {
    ActorId::from([n; 16])
}

fn grant(from: NaiveDate, until: NaiveDate) -> Grant {
    Grant::new(from, until, AttachReason::Work).expect("grant")
}

fn paid(day: NaiveDate) -> Dues {
    Dues::Paid {
        amount: 30_000,
        date: day,
    }
}

#[test]
fn an_attachment_book_has_its_own_id_and_identifies_only_itself() {
    let n = name();
    assert_ne!(n.id(), LedgerId::of(&host(), 2025));
    assert_ne!(
        n.id(),
        LedgerName::attachment(host(), 2025, member(2), home()).id()
    );
    let (a, g1) = LedgerDoc::genesis_of(&n).expect("genesis");
    let (_, g2) = LedgerDoc::genesis_of(&n).expect("genesis");
    assert_eq!(g1.hash(), g2.hash(), "independent creations are one change");
    let mut b = a.clone();
    let mut e = LedgerEdit::new();
    e.set_grant(grant(d(2025, 3, 1), d(2025, 8, 31)));
    let c = b.edit(actor(1), &e, 1).expect("edit").expect("change");
    assert_eq!(n.id().identify(c.message()), Some(n.clone()));
    // The host's own ledger id does not accept the attachment's head, nor the reverse.
    assert_eq!(LedgerId::of(&host(), 2025).identify(c.message()), None);
    let own = format!("{} 2025: dues 1", host());
    assert_eq!(n.id().identify(Some(&own)), None);
    // A document claiming another member or home is not this book.
    let other = LedgerName::attachment(host(), 2025, member(2), home());
    assert!(LedgerDoc::from_doc_of(&other, a.doc().clone()).is_err());
    assert!(LedgerDoc::from_doc(&host(), 2025, a.into_doc()).is_err());
}

#[test]
fn the_host_records_only_the_member_only_inside_the_grant() {
    let mut b = book();
    let meeting = MeetingKey::new(d(2025, 4, 10), MeetingKind::Regular);
    let mut e = LedgerEdit::new();
    e.set_dues(member(1), 4, paid(d(2025, 4, 10)));
    assert!(
        matches!(
            b.edit(actor(2), &e, 1),
            Err(LedgerError::OutsideAttachment(_))
        ),
        "nothing before a grant"
    );
    let mut g = LedgerEdit::new();
    g.set_grant(grant(d(2025, 3, 15), d(2025, 8, 31)));
    b.edit(actor(1), &g, 1).expect("grant").expect("change");
    // Inside: March (touched from the 15th) to August.
    let mut e = LedgerEdit::new();
    e.record_meeting(meeting, "Sinh hoạt thường kỳ")
        .set_attendance(meeting, member(1), Attendance::Present)
        .set_dues(member(1), 3, paid(d(2025, 4, 10)))
        .set_dues(member(1), 4, paid(d(2025, 4, 10)));
    b.edit(actor(2), &e, 2).expect("inside").expect("change");
    // Outside: September's dues, a meeting in February, another member, a rating.
    let mut e = LedgerEdit::new();
    e.set_dues(member(1), 9, paid(d(2025, 9, 5)));
    assert!(matches!(
        b.edit(actor(2), &e, 3),
        Err(LedgerError::OutsideAttachment(_))
    ));
    let mut e = LedgerEdit::new();
    e.record_meeting(MeetingKey::new(d(2025, 2, 10), MeetingKind::Regular), "x");
    assert!(matches!(
        b.edit(actor(2), &e, 3),
        Err(LedgerError::OutsideAttachment(_))
    ));
    let mut e = LedgerEdit::new();
    e.set_dues(member(2), 4, paid(d(2025, 4, 10)));
    assert!(matches!(
        b.edit(actor(2), &e, 3),
        Err(LedgerError::NotAttached { .. })
    ));
    let mut e = LedgerEdit::new();
    e.set_rating(member(1), Rating::Good);
    assert!(matches!(
        b.edit(actor(2), &e, 3),
        Err(LedgerError::OutsideAttachment(_))
    ));
    // A grant on a cell's own ledger is refused.
    let mut own = LedgerDoc::genesis(&host(), 2025).expect("genesis").0;
    assert!(matches!(
        own.edit(actor(2), &g, 1),
        Err(LedgerError::NotAnAttachmentBook)
    ));
    let l = b.read();
    assert_eq!(l.cell, host().to_string());
    assert_eq!(l.dues[&member(1).to_string()].len(), 2);
    assert_eq!(l.meetings.len(), 1);
}

#[test]
fn shortening_the_grant_withdraws_the_later_entries_from_every_reader() {
    let mut b = book();
    let mut g = LedgerEdit::new();
    g.set_grant(grant(d(2025, 1, 1), d(2025, 12, 31)));
    b.edit(actor(1), &g, 1).expect("grant");
    let mut e = LedgerEdit::new();
    for month in 1..=6 {
        e.set_dues(member(1), month, paid(d(2025, month, 5)));
    }
    b.edit(actor(2), &e, 2).expect("dues");
    let mut g = LedgerEdit::new();
    g.set_grant(grant(d(2025, 1, 1), d(2025, 3, 31)));
    b.edit(actor(1), &g, 3).expect("shorter");
    let months: Vec<u32> = b.read().dues[&member(1).to_string()]
        .keys()
        .copied()
        .collect();
    assert_eq!(months, vec![1, 2, 3]);
    let view = LedgerDoc::view_of(&name(), b.doc()).expect("view");
    assert_eq!(view, b.read());
}

/// A change by `actor` made with raw Automerge calls on top of `b` (bytes past the edit checks, as a
/// hostile node would write them), applied to a copy; returns the copy and the change.
fn forge(
    b: &LedgerDoc,
    actor_n: u8,
    f: impl FnOnce(&mut automerge::transaction::Transaction<'_>, &Automerge),
) -> (Automerge, Change) {
    let mut doc = b.doc().clone();
    doc.set_actor(actor(actor_n));
    let snapshot = doc.clone();
    let mut tx = doc.transaction();
    f(&mut tx, &snapshot);
    tx.commit_with(CommitOptions::default().with_message(format!("{}: x", name().head())));
    let c = doc.get_last_local_change().expect("a change");
    (doc, c)
}

fn obj(doc: &Automerge, parent: &ObjId, key: &str) -> ObjId {
    match doc.get(parent, key) {
        Ok(Some((_, o))) => o,
        _ => panic!("{key}"),
    }
}

#[test]
fn change_parts_tell_the_grant_from_the_entries_and_find_what_the_grant_does_not_allow() {
    let mut b = book();
    let mut g = LedgerEdit::new();
    g.set_grant(grant(d(2025, 3, 1), d(2025, 5, 31)));
    let c = b.edit(actor(1), &g, 1).expect("grant").expect("change");
    let parts = change_parts(&name(), b.doc(), &c).expect("valid");
    assert!(parts.grant && !parts.entries && parts.outside.is_empty());
    let mut e = LedgerEdit::new();
    e.set_dues(member(1), 4, paid(d(2025, 4, 2)));
    let c = b.edit(actor(2), &e, 2).expect("dues").expect("change");
    let parts = change_parts(&name(), b.doc(), &c).expect("valid");
    assert!(!parts.grant && parts.entries && parts.outside.is_empty());
    // June's dues and another member's, written past the edit checks.
    let (doc, c) = forge(&b, 3, |tx, d| {
        let members = obj(d, &ROOT, "members");
        let own = obj(d, &members, &member(1).to_string());
        tx.put(&own, "d/06", "p:30000:2025-06-02").expect("put");
        let other = tx
            .put_object(&members, member(2).to_string(), ObjType::Map)
            .expect("map");
        tx.put(&other, "d/04", "p:30000:2025-04-02").expect("put");
    });
    let parts = change_parts(&name(), &doc, &c).expect("well-formed");
    assert!(parts.entries && !parts.grant);
    assert_eq!(parts.outside.len(), 3, "{:?}", parts.outside);
    // A reader never shows them.
    let view = LedgerDoc::view_of(&name(), &doc).expect("view");
    assert_eq!(view.dues.len(), 1);
    assert_eq!(view.dues[&member(1).to_string()].len(), 1);
}

#[test]
fn every_operation_must_be_one_an_edit_writes() {
    let mut b = book();
    let mut g = LedgerEdit::new();
    g.set_grant(grant(d(2025, 3, 1), d(2025, 8, 31)));
    b.edit(actor(1), &g, 1).expect("grant");
    let mut e = LedgerEdit::new();
    e.set_dues(member(1), 4, paid(d(2025, 4, 2)));
    b.edit(actor(2), &e, 2).expect("dues");
    // Any operation on the grant touches it — whatever its value, and whatever the views show after
    // it — so only the home side may do it (a host extending its own attachment).
    let (doc, c) = forge(&b, 2, |tx, d| {
        let g = obj(d, &ROOT, "grant");
        tx.put(&g, "until", "2025-12-31").expect("put");
    });
    assert!(change_parts(&name(), &doc, &c).expect("well-formed").grant);
    // A number where the grant holds text, a root key, a member map replaced, a number under
    // `members`, an unknown entry key, a reason with a control character: none is an edit.
    type Forgery = Box<dyn FnOnce(&mut automerge::transaction::Transaction<'_>, &Automerge)>;
    let forgeries: Vec<(&str, Forgery)> = vec![
        (
            "number in the grant",
            Box::new(|tx, d| {
                tx.put(obj(d, &ROOT, "grant"), "until", 0i64).expect("put");
            }),
        ),
        (
            "root key",
            Box::new(|tx, _| {
                tx.put(ROOT, "note", "x").expect("put");
            }),
        ),
        (
            "member map replaced",
            Box::new(|tx, d| {
                let members = obj(d, &ROOT, "members");
                tx.put_object(&members, member(1).to_string(), ObjType::Map)
                    .expect("map");
            }),
        ),
        (
            "number under members",
            Box::new(|tx, d| {
                tx.put(obj(d, &ROOT, "members"), member(3).to_string(), 1i64)
                    .expect("put");
            }),
        ),
        (
            "unknown entry key",
            Box::new(|tx, d| {
                let members = obj(d, &ROOT, "members");
                tx.put(obj(d, &members, &member(1).to_string()), "zz", "1")
                    .expect("put");
            }),
        ),
        (
            "control character",
            Box::new(|tx, d| {
                let members = obj(d, &ROOT, "members");
                tx.put(
                    obj(d, &members, &member(1).to_string()),
                    "d/05",
                    "u-:a\u{202e}b",
                )
                .expect("put");
            }),
        ),
    ];
    for (what, f) in forgeries {
        let (doc, c) = forge(&b, 3, f);
        assert!(
            matches!(
                change_parts(&name(), &doc, &c),
                Err(LedgerError::BadOperation(_))
            ),
            "{what}"
        );
    }
}

/// `c` re-encoded after `f` rewrites its operations (a hostile node's bytes).
fn rewrite(c: &Change, f: impl FnOnce(&mut automerge::ExpandedChange)) -> Change {
    let mut e = c.decode();
    f(&mut e);
    e.hash = None;
    Change::from(e)
}

#[test]
fn an_operation_may_name_only_objects_and_operations_of_its_own_history() {
    use automerge::legacy::{ObjectId, OpId};
    let mut b = book();
    let mut g = LedgerEdit::new();
    g.set_grant(grant(d(2025, 3, 1), d(2025, 8, 31)));
    let grant_change = b.edit(actor(1), &g, 1).expect("grant").expect("change");
    let mut e = LedgerEdit::new();
    e.set_dues(member(1), 4, paid(d(2025, 4, 2)));
    let base = b.doc().clone();
    let dues = b.edit(actor(2), &e, 2).expect("dues").expect("change");
    assert!(
        change_parts(&name(), &base, &dues).is_ok(),
        "the honest change"
    );
    // The grant's `until` operation, as a legacy op id.
    let until = grant_change
        .decode()
        .operations
        .iter()
        .position(|op| matches!(&op.key, automerge::legacy::Key::Map(k) if k.as_str() == "until"))
        .expect("until op");
    let until = OpId(
        grant_change.decode().start_op.get() + until as u64,
        grant_change.actor_id().clone(),
    );
    // A dues put that claims to supersede the grant's `until`: refused.
    let pred = rewrite(&dues, |e| {
        for op in e.operations.iter_mut() {
            if matches!(&op.action, automerge::legacy::OpType::Put(_)) {
                op.pred = vec![until.clone()].into_iter().collect();
            }
        }
    });
    assert!(
        matches!(
            change_parts(&name(), &base, &pred),
            Err(LedgerError::BadOperation(_))
        ),
        "a pred from another object"
    );
    // An operation on an object that does not exist: refused, not handed to Automerge.
    let ghost = rewrite(&dues, |e| {
        for op in e.operations.iter_mut() {
            op.obj = ObjectId::Id(OpId(999, actor(7)));
        }
    });
    assert!(matches!(
        change_parts(&name(), &base, &ghost),
        Err(LedgerError::BadOperation(_))
    ));
    // A member's map made concurrently (not in this change's history) cannot be written into, even
    // at a node that holds it.
    let mut other = book();
    other.apply_changes([grant_change.clone()]).expect("grant");
    let mut e2 = LedgerEdit::new();
    e2.set_dues(member(1), 5, paid(d(2025, 5, 2)));
    let concurrent = other.edit(actor(3), &e2, 3).expect("edit").expect("change");
    let made_by_dues = dues
        .decode()
        .operations
        .iter()
        .position(|op| matches!(op.action, automerge::legacy::OpType::Make(_)))
        .expect("make");
    let their_map = ObjectId::Id(OpId(
        dues.decode().start_op.get() + made_by_dues as u64,
        dues.actor_id().clone(),
    ));
    let into_theirs = rewrite(&concurrent, |e| {
        e.operations
            .retain(|op| !matches!(op.action, automerge::legacy::OpType::Make(_)));
        for op in e.operations.iter_mut() {
            op.obj = their_map.clone();
        }
    });
    let mut holds_both = b.doc().clone();
    holds_both.merge(&mut other.doc().clone()).expect("merge");
    assert!(matches!(
        change_parts(&name(), &holds_both, &into_theirs),
        Err(LedgerError::BadOperation(_))
    ));
}
