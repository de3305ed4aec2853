//! Tests of attachment books: naming, the grant, what the host may record under it, what a reader sees,
//! and what a received change touched (the input of its authority check). Deterministic.

use super::*;

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

#[test]
fn a_diff_tells_the_grant_from_the_entries_and_finds_what_the_grant_does_not_allow() {
    let mut b = book();
    let before = b.doc().clone();
    let mut g = LedgerEdit::new();
    g.set_grant(grant(d(2025, 3, 1), d(2025, 5, 31)));
    b.edit(actor(1), &g, 1).expect("grant");
    let diff = attachment_diff(&name(), &before, b.doc()).expect("diff");
    assert!(diff.grant && !diff.entries && diff.outside.is_empty());
    let before = b.doc().clone();
    let mut e = LedgerEdit::new();
    e.set_dues(member(1), 4, paid(d(2025, 4, 2)));
    b.edit(actor(2), &e, 2).expect("dues");
    let diff = attachment_diff(&name(), &before, b.doc()).expect("diff");
    assert!(!diff.grant && diff.entries && diff.outside.is_empty());
    // Bytes written past the edit checks (a hostile node): June's dues and another member's.
    let mut forged = b.doc().clone();
    forged.set_actor(actor(3));
    let members = match forged.get(ROOT, "members") {
        Ok(Some((_, obj))) => obj,
        _ => panic!("members map"),
    };
    let own = match forged.get(&members, member(1).to_string()) {
        Ok(Some((_, obj))) => obj,
        _ => panic!("the member's map"),
    };
    let before = forged.clone();
    let mut tx = forged.transaction();
    tx.put(&own, "d/06", "p:30000:2025-06-02").expect("put");
    let other = tx
        .put_object(&members, member(2).to_string(), ObjType::Map)
        .expect("map");
    tx.put(&other, "d/04", "p:30000:2025-04-02").expect("put");
    tx.commit();
    let diff = attachment_diff(&name(), &before, &forged).expect("diff");
    assert!(diff.entries);
    assert_eq!(diff.outside.len(), 2, "{:?}", diff.outside);
    // A reader never shows them.
    let view = LedgerDoc::view_of(&name(), &forged).expect("view");
    assert_eq!(view.dues.len(), 1);
    assert_eq!(view.dues[&member(1).to_string()].len(), 1);
}
