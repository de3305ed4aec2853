//! Cell ledgers over real stores and keys: who may write a cell's ledger, how its changes travel and
//! wait, and that the screening rules read the same flags wherever the same ledger is held.

use chrono::NaiveDate;
use rollmesh_model::ledger::{Attendance, Dues, LedgerEdit, LedgerId, MeetingKey, MeetingKind};
use rollmesh_model::MemberId;
use rollmesh_proto::{actor_for, DocKind, NodeKey, RejectCode, VerifiedChange};
use rollmesh_rules::{RuleId, Subject};
use rollmesh_sync::Record;

use crate::screen::{default_calendar, default_rules};
use crate::testkit::{
    change_record, fields, log_records, quarantine_codes, u, Org, C1, C2, CITY, WARD,
};
use crate::Node;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

fn unpaid() -> Dues {
    Dues::Unpaid {
        reason: None,
        accepted: false,
    }
}

fn paid(day: NaiveDate) -> Dues {
    Dues::Paid {
        amount: 30_000,
        date: day,
    }
}

/// A ledger change for `cell` signed by `key`, made on top of what `holder` stores, whatever the key's
/// credential allows.
fn forge_ledger(holder: &Node, key: &NodeKey, cell: &str, edit: &LedgerEdit) -> VerifiedChange {
    let mut l = holder.store().ledger(&u(cell), 2025).expect("ledger");
    let change = l
        .edit(actor_for(&key.public()), edit, 1_750_000_000)
        .expect("edit")
        .expect("changes something");
    let id = MemberId(LedgerId::of(&u(cell), 2025).0);
    VerifiedChange::sign_own(key, DocKind::Ledger, id, change).expect("sign")
}

fn dues_edit(member: MemberId, months: &[u32], dues: Dues) -> LedgerEdit {
    let mut e = LedgerEdit::new();
    for m in months {
        e.set_dues(member, *m, dues.clone());
    }
    e
}

fn r1_flags(node: &Node, as_of: NaiveDate) -> Vec<rollmesh_rules::Flag> {
    node.screen(&default_rules(), &default_calendar(), as_of, None)
        .expect("screen")
        .into_iter()
        .filter(|f| f.rule == RuleId::R1)
        .collect()
}

#[test]
fn a_cells_ledger_travels_up_and_gives_the_same_flag_everywhere() {
    let org = Org::new();
    let c1 = org.open(C1);
    let member = c1
        .add_member(
            crate::testkit::admitted("Lê Thị Hoa", C1, "2010-05-19"),
            vec![],
        )
        .expect("member");
    let cell = u(C1);
    assert!(c1
        .edit_ledger(
            &cell,
            2025,
            &dues_edit(member, &[1, 2], paid(d(2025, 2, 3)))
        )
        .expect("paid"));
    assert!(c1
        .edit_ledger(&cell, 2025, &dues_edit(member, &[3, 4, 5], unpaid()))
        .expect("unpaid"));
    // Recording the same thing again changes nothing and writes nothing.
    let seq = c1.store().last_seq();
    assert!(!c1
        .edit_ledger(&cell, 2025, &dues_edit(member, &[5], unpaid()))
        .expect("no-op"));
    assert_eq!(c1.store().last_seq(), seq);

    let as_of = d(2025, 6, 15);
    let at_cell = r1_flags(&c1, as_of);
    assert_eq!(at_cell.len(), 1, "{at_cell:?}");
    assert_eq!(at_cell[0].subject, Subject::Member(member.to_string()));
    assert!(
        at_cell[0].explanation_vi.contains("3, 4, 5"),
        "{}",
        at_cell[0].explanation_vi
    );

    let records = log_records(&org, &c1, &[C1]);
    drop(c1);
    for holder in [WARD, CITY] {
        let node = org.open(holder);
        let r = node
            .accept_records(records.clone(), "peer:c1")
            .expect("accept");
        assert_eq!(r.rejected_total(), 0, "{holder}: {:?}", r.rejected);
        assert_eq!(
            r.applied.applied.len(),
            3,
            "{holder}: member and two ledger changes"
        );
        assert_eq!(
            r1_flags(&node, as_of),
            at_cell,
            "{holder} lists the cell's flag"
        );
        assert!(node.store().verify().expect("verify").is_clean());
        assert_eq!(node.store().verify().expect("verify").ledgers, 1);
    }

    // A late payment at the cell clears the flag there and, once it travels, at the ward.
    let c1 = org.open(C1);
    c1.edit_ledger(&cell, 2025, &dues_edit(member, &[4], paid(d(2025, 6, 10))))
        .expect("late payment");
    assert!(r1_flags(&c1, as_of).is_empty());
    let records = log_records(&org, &c1, &[C1]);
    drop(c1);
    let ward = org.open(WARD);
    let r = ward.accept_records(records, "peer:c1").expect("accept");
    assert_eq!(r.applied.applied.len(), 1, "only the new change is new");
    assert!(r1_flags(&ward, as_of).is_empty());
}

#[test]
fn only_a_unit_covering_the_cell_writes_its_ledger() {
    let org = Org::new();
    let ward = org.open(WARD);
    let member = MemberId::new(1, [7; 10]);
    let edit = dues_edit(member, &[1], unpaid());
    // The neighbouring cell writing C1's ledger: refused as unauthorized, nothing stored.
    let forged = forge_ledger(&ward, &org.key(C2), C1, &edit);
    let r = ward
        .accept_records(
            vec![org.chain_record(C2), change_record(&forged)],
            "peer:c2",
        )
        .expect("accept");
    assert_eq!(
        r.applied
            .rejected
            .iter()
            .map(|r| r.code)
            .collect::<Vec<_>>(),
        vec![RejectCode::Unauthorized]
    );
    assert_eq!(quarantine_codes(&ward), vec!["unauthorized"]);
    assert!(ward.store().ledgers(None).expect("ledgers").is_empty());
    // The ward itself keeps the books of a cell without a clerk, and the cell takes them.
    assert!(ward.edit_ledger(&u(C1), 2025, &edit).expect("ward writes"));
    let records = log_records(&org, &ward, &[WARD]);
    drop(ward);
    let c1 = org.open(C1);
    let r = c1.accept_records(records, "peer:ward").expect("accept");
    assert_eq!(r.rejected_total(), 0, "{:?}", r.applied.rejected);
    let l = c1.ledger(&u(C1), 2025).expect("ledger").read();
    assert_eq!(l.dues[&member.to_string()][&1], unpaid());
    // A node cannot write outside its scope: the cell refuses to keep its neighbour's books.
    assert!(c1.edit_ledger(&u(C2), 2025, &edit).is_err());
}

#[test]
fn a_change_cannot_pose_as_another_cells_ledger() {
    let org = Org::new();
    let city = org.open(CITY);
    let member = MemberId::new(1, [9; 10]);
    let honest = forge_ledger(&city, &org.key(C1), C1, &dues_edit(member, &[2], unpaid()));
    // The same change under the id of C2's ledger: its message names C1, which does not hash to it.
    let bytes = honest.change.raw_bytes().to_vec();
    let c2_id = MemberId(LedgerId::of(&u(C2), 2025).0);
    let moved = rollmesh_proto::SignedChange::sign(&org.key(C1), DocKind::Ledger, c2_id, &bytes);
    // And as a dossier change aimed at the ledger's id once the ledger exists.
    let r = city
        .accept_records(
            vec![
                org.chain_record(C1),
                Record::change(moved.as_bytes().to_vec()),
                change_record(&honest),
            ],
            "peer:c1",
        )
        .expect("accept");
    assert_eq!(
        r.applied
            .rejected
            .iter()
            .map(|r| r.code)
            .collect::<Vec<_>>(),
        vec![RejectCode::InvalidDocument]
    );
    assert_eq!(r.applied.applied.len(), 1);
    let ledger_id = honest.envelope.doc();
    let as_member = rollmesh_proto::SignedChange::sign(
        &org.key(C1),
        DocKind::Member,
        ledger_id,
        honest.change.raw_bytes(),
    );
    let r = city
        .accept_records(
            vec![Record::change(as_member.as_bytes().to_vec())],
            "peer:c1",
        )
        .expect("accept");
    assert_eq!(r.rejected_total(), 1);
    assert!(city.store().record(&ledger_id).expect("read").is_none());
    assert!(city.store().verify().expect("verify").is_clean());
}

#[test]
fn a_ledger_change_arriving_before_its_dependency_waits_for_it() {
    let org = Org::new();
    let c1 = org.open(C1);
    let a = MemberId::new(1, [1; 10]);
    let jan = MeetingKey::new(d(2025, 1, 9), MeetingKind::Regular);
    let mut meeting = LedgerEdit::new();
    meeting
        .record_meeting(jan, "Sinh hoạt tháng 1")
        .set_attendance(jan, a, Attendance::Present);
    c1.edit_ledger(&u(C1), 2025, &meeting).expect("meeting");
    let mut absent = LedgerEdit::new();
    absent.set_attendance(
        jan,
        a,
        Attendance::Absent {
            reason: Some("Ốm".into()),
            accepted: true,
        },
    );
    c1.edit_ledger(&u(C1), 2025, &absent).expect("correction");
    let mut records = log_records(&org, &c1, &[C1]);
    // Only the cell's own book (not the city's tree every node starts with).
    records.retain(|r| {
        rollmesh_proto::SignedChange::decode(r.body.clone())
            .map_or(true, |c| c.kind() == rollmesh_proto::DocKind::Ledger)
    });
    drop(c1);
    records.swap(1, 2); // the correction first
    let ward = org.open(WARD);
    let first = ward
        .accept_records(records[..2].to_vec(), "peer:c1")
        .expect("accept");
    assert_eq!(first.applied.pending, 1, "the correction waits");
    assert!(ward.store().ledgers(None).expect("ledgers").is_empty());
    let second = ward
        .accept_records(vec![records[0].clone(), records[2].clone()], "peer:c1")
        .expect("accept");
    assert_eq!(
        second.applied.applied.len(),
        2,
        "the meeting, then the correction"
    );
    assert_eq!(ward.store().pending_count(), 0);
    let l = ward.ledger(&u(C1), 2025).expect("ledger").read();
    assert!(matches!(
        l.meetings[0].attendance[&a.to_string()],
        Attendance::Absent { accepted: true, .. }
    ));
    assert!(ward.store().verify().expect("verify").is_clean());
}

#[test]
fn a_kept_screening_is_reused_until_the_data_changes() {
    let org = Org::new();
    let c1 = org.open(C1);
    let member = c1
        .add_member(fields("Bùi Văn Khoa", C1), vec![])
        .expect("member");
    let as_of = d(2025, 6, 15);
    let first = c1.screen_run(as_of).expect("run");
    assert_eq!(c1.screening(as_of).expect("kept"), first, "nothing changed");
    c1.edit_ledger(&u(C1), 2025, &dues_edit(member, &[1, 2, 3, 4, 5], unpaid()))
        .expect("ledger");
    let second = c1.screening(as_of).expect("again");
    assert!(second.log_seq > first.log_seq, "the change is read");
    assert!(second.flags.iter().any(|f| f.rule == RuleId::R1));
    // Another evaluation date is another screening.
    assert_eq!(
        c1.screening(d(2025, 1, 15)).expect("other day").as_of,
        d(2025, 1, 15)
    );
}

#[test]
fn the_deadline_view_names_what_falls_due_unless_it_is_recorded() {
    let org = Org::new();
    let c1 = org.open(C1);
    let member = c1
        .add_member(
            crate::testkit::admitted("Hồ Thị Lan", C1, "2000-01-01"),
            vec![],
        )
        .expect("member");
    let mut e = dues_edit(member, &[1, 2], unpaid());
    for m in 3..=5 {
        e.set_dues(member, m, paid(d(2025, m, 5)));
    }
    c1.edit_ledger(&u(C1), 2025, &e).expect("ledger");
    let as_of = d(2025, 6, 15);
    assert!(r1_flags(&c1, as_of).is_empty(), "two months: not yet");
    // June unrecorded: on 1 July it counts as the third unpaid month.
    let due = c1.deadlines(as_of, 31).expect("deadlines");
    let r1: Vec<_> = due.iter().filter(|x| x.flag.rule == RuleId::R1).collect();
    assert_eq!(r1.len(), 1, "{due:?}");
    assert_eq!(r1[0].due, d(2025, 7, 1));
    assert_eq!(r1[0].flag.subject, Subject::Member(member.to_string()));
    // Within a shorter horizon it is not due yet; once June is recorded paid, it is not due at all.
    assert!(c1
        .deadlines(as_of, 10)
        .expect("short")
        .iter()
        .all(|x| x.flag.rule != RuleId::R1));
    c1.edit_ledger(&u(C1), 2025, &dues_edit(member, &[6], paid(d(2025, 6, 20))))
        .expect("june");
    assert!(c1
        .deadlines(as_of, 31)
        .expect("after")
        .iter()
        .all(|x| x.flag.rule != RuleId::R1));
}

#[test]
fn a_cells_book_cannot_override_what_another_cell_recorded_for_its_member() {
    let org = Org::new();
    let c1 = org.open(C1);
    let member = c1
        .add_member(fields("Trịnh Văn Minh", C1), vec![])
        .expect("member");
    // C1 rated its member "completed" both years.
    for year in [2024, 2025] {
        let mut e = LedgerEdit::new();
        e.set_rating(member, rollmesh_model::ledger::Rating::Completed);
        c1.edit_ledger(&u(C1), year, &e).expect("own rating");
    }
    let mut records = log_records(&org, &c1, &[C1]);
    drop(c1);
    // The neighbouring cell rates C1's member "not completed" two years running, in its own books.
    let c2 = org.open(C2);
    for year in [2024, 2025] {
        let mut e = LedgerEdit::new();
        e.set_rating(member, rollmesh_model::ledger::Rating::NotCompleted);
        c2.edit_ledger(&u(C2), year, &e).expect("rating");
    }
    records.extend(log_records(&org, &c2, &[C2]));
    drop(c2);
    let ward = org.open(WARD);
    let r = ward.accept_records(records, "peers").expect("accept");
    assert_eq!(r.rejected_total(), 0);
    let (rules, _) = ward.rule_set(d(2026, 1, 15)).expect("rules");
    let flags = ward
        .screen(&rules, &ward.calendar().expect("cal"), d(2026, 1, 15), None)
        .expect("screen");
    assert!(
        flags.iter().all(|f| f.rule != RuleId::R6),
        "C2's book must not rate C1's member: {flags:?}"
    );
}

#[test]
fn screening_by_groups_of_cells_lists_what_one_evaluation_would() {
    let org = Org::new();
    let ward = org.open(WARD);
    let mut e1 = LedgerEdit::new();
    let mut e2 = LedgerEdit::new();
    for i in 0..6 {
        let cell = if i % 2 == 0 { C1 } else { C2 };
        let m = ward
            .add_member(fields(&format!("Thành viên {i}"), cell), vec![])
            .expect("member");
        let e = if i % 2 == 0 { &mut e1 } else { &mut e2 };
        for month in 1..=i as u32 {
            e.set_dues(m, month, unpaid());
        }
    }
    ward.edit_ledger(&u(C1), 2025, &e1).expect("c1");
    ward.edit_ledger(&u(C2), 2025, &e2).expect("c2");
    let as_of = d(2025, 8, 1);
    let (rules, _) = ward.rule_set(as_of).expect("rules");
    let cal = ward.calendar().expect("cal");
    let grouped = ward.screen(&rules, &cal, as_of, None).expect("screen");
    let f = ward.screen_facts(None).expect("facts");
    let whole = rollmesh_rules::evaluate(&rules, &cal, &f.members, &f.cells, &f.ledgers, as_of)
        .expect("eval");
    assert_eq!(grouped, whole);
    assert!(grouped.iter().filter(|f| f.rule == RuleId::R1).count() >= 3);
}

#[test]
fn a_transferred_member_keeps_the_history_the_old_cell_recorded() {
    let org = Org::new();
    let ward = org.open(WARD);
    let moved = ward
        .add_member(
            crate::testkit::admitted("Quách Thị Nga", C1, "2000-01-01"),
            vec![],
        )
        .expect("member");
    let stays = ward
        .add_member(fields("Mai Văn Ba", C2), vec![])
        .expect("member");
    // January to June paid at C1, two years rated "not completed" at C1.
    let mut e = LedgerEdit::new();
    for m in 1..=6 {
        e.set_dues(moved, m, paid(d(2025, m, 5)));
    }
    e.set_rating(moved, rollmesh_model::ledger::Rating::NotCompleted);
    ward.edit_ledger(&u(C1), 2025, &e).expect("c1 2025");
    let mut e = LedgerEdit::new();
    e.set_rating(moved, rollmesh_model::ledger::Rating::NotCompleted);
    ward.edit_ledger(&u(C1), 2024, &e).expect("c1 2024");
    // C2 keeps its book for its own member; then the member moves to C2 and pays July there.
    let all_year = [1, 2, 3, 4, 5, 6, 7];
    ward.edit_ledger(
        &u(C2),
        2025,
        &dues_edit(stays, &all_year, paid(d(2025, 7, 1))),
    )
    .expect("c2");
    ward.edit_member(moved, &crate::testkit::move_to(C2))
        .expect("transfer");
    ward.edit_ledger(&u(C2), 2025, &dues_edit(moved, &[7], paid(d(2025, 7, 9))))
        .expect("c2 july");
    let as_of = d(2025, 8, 1);
    let (rules, _) = ward.rule_set(as_of).expect("rules");
    let flags = ward
        .screen(&rules, &ward.calendar().expect("cal"), as_of, None)
        .expect("screen");
    let about = |rule| {
        flags
            .iter()
            .filter(|f| f.rule == rule && f.subject == Subject::Member(moved.to_string()))
            .count()
    };
    assert_eq!(
        about(RuleId::R1),
        0,
        "months paid at the old cell still count: {flags:?}"
    );
    assert_eq!(
        about(RuleId::R6),
        1,
        "ratings from the old cell still count"
    );
    // Evaluated in groups of cells, as one evaluation of everything would.
    let f = ward.screen_facts(None).expect("facts");
    let whole = rollmesh_rules::evaluate(
        &rules,
        &ward.calendar().expect("cal"),
        &f.members,
        &f.cells,
        &f.ledgers,
        as_of,
    )
    .expect("eval");
    assert_eq!(flags, whole);
}

#[test]
fn a_waiting_ledger_change_whose_author_is_revoked_meanwhile_is_not_released() {
    let org = Org::new();
    let member = MemberId::new(1_750_000_000_000, [5; 10]);
    // The ward keeps C2's book first; then C2 itself edits on top of that.
    let ward = org.open(WARD);
    ward.edit_ledger(&u(C2), 2025, &dues_edit(member, &[1], unpaid()))
        .expect("ward");
    let by_ward = log_records(&org, &ward, &[WARD]);
    drop(ward);
    let c2 = org.open(C2);
    c2.accept_records(by_ward.clone(), "peer:ward")
        .expect("accept");
    c2.edit_ledger(&u(C2), 2025, &dues_edit(member, &[2], unpaid()))
        .expect("c2");
    let (entries, _) = c2.store().log_since(0, 100).expect("log");
    let by_c2: Vec<Record> = std::iter::once(org.chain_record(C2))
        .chain(
            entries
                .iter()
                .filter(|e| e.change.author() == org.public(C2))
                .map(|e| Record::change(e.change.as_bytes().to_vec())),
        )
        .collect();
    drop(c2);
    // The district gets C2's edit first: it waits for the ward's. Then the district revokes C2.
    let district = org.open("hn.d01");
    let r = district.accept_records(by_c2, "peer:c2").expect("accept");
    assert_eq!(r.applied.pending, 1);
    district
        .credential_revoke(Some(org.public(C2).node_id()), None)
        .expect("revoke");
    // The ward's edit arrives: it applies, and C2's waiting edit is refused, not released.
    let r = district
        .accept_records(by_ward, "peer:ward")
        .expect("accept");
    assert_eq!(r.applied.applied.len(), 1, "{r:?}");
    assert_eq!(
        r.applied
            .rejected
            .iter()
            .map(|x| x.code)
            .collect::<Vec<_>>(),
        vec![RejectCode::Revoked]
    );
    let l = district.ledger(&u(C2), 2025).expect("ledger").read();
    assert_eq!(
        l.dues[&member.to_string()].len(),
        1,
        "only the ward's January"
    );
    assert_eq!(district.store().pending_count(), 0);
    assert!(district.store().verify().expect("verify").is_clean());
}
