//! Temporary attachments over real stores and keys: the home cell grants, the host records, both see the
//! same entries and flags, and each side's part is refused to the other side wherever it arrives.

use chrono::NaiveDate;
use rollmesh_model::ledger::{AttachReason, Dues, Grant, LedgerEdit, LedgerName};
use rollmesh_model::MemberId;
use rollmesh_proto::{actor_for, DocKind, NodeKey, RejectCode, VerifiedChange};
use rollmesh_rules::{RuleId, Subject};

use crate::screen::{default_calendar, default_rules};
use crate::testkit::{change_record, fields, log_records, quarantine_codes, u, Org, C1, C2, WARD};
use crate::Node;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

fn paid(day: NaiveDate) -> Dues {
    Dues::Paid {
        amount: 30_000,
        date: day,
    }
}

fn unpaid() -> Dues {
    Dues::Unpaid {
        reason: None,
        accepted: false,
    }
}

fn r1(node: &Node, as_of: NaiveDate) -> Vec<rollmesh_rules::Flag> {
    node.screen(&default_rules(), &default_calendar(), as_of, None)
        .expect("screen")
        .into_iter()
        .filter(|f| f.rule == RuleId::R1)
        .collect()
}

fn dues(member: MemberId, months: &[u32], d: Dues) -> LedgerEdit {
    let mut e = LedgerEdit::new();
    for m in months {
        e.set_dues(member, *m, d.clone());
    }
    e
}

/// Home C1's member attached to host C2 from March to August 2025: C1 holds the member and has
/// recorded January, February and September; the grant is recorded at C1.
fn attached_member(org: &Org) -> MemberId {
    let c1 = org.open(C1);
    let member = c1
        .add_member(
            crate::testkit::admitted("Trần Văn Bình", C1, "2012-03-02"),
            vec![],
        )
        .expect("member");
    c1.edit_ledger(&u(C1), 2025, &dues(member, &[1, 2, 9], paid(d(2025, 2, 5))))
        .expect("home dues");
    let grant = Grant::new(d(2025, 3, 1), d(2025, 8, 31), AttachReason::Work).expect("grant");
    let report = c1.grant_attachment(&member, &u(C2), grant).expect("grant");
    assert_eq!(report.books, 1);
    member
}

/// The codes of the changes an accept call refused, in order.
fn codes(r: &crate::AcceptReport) -> Vec<RejectCode> {
    r.applied.rejected.iter().map(|r| r.code).collect()
}

/// Every change `from` holds, delivered to `to` (with the authors' chains).
fn sync(org: &Org, from: &str, to: &Node) -> crate::AcceptReport {
    let node = org.open(from);
    let records = log_records(org, &node, &[C1, C2, WARD]);
    drop(node);
    to.accept_records(records, &format!("peer:{from}"))
        .expect("accept")
}

#[test]
fn the_host_records_an_attached_members_dues_and_the_home_cell_judges_on_them() {
    let org = Org::new();
    let member = attached_member(&org);
    let as_of = d(2025, 10, 15);
    // The host receives the grant (the book is logged under both cells) and records March–August:
    // three months paid, three unpaid without a reason. Its own ledger gets nothing.
    let c2 = org.open(C2);
    let r = sync(&org, C1, &c2);
    assert_eq!(r.rejected_total(), 0, "{:?}", r.rejected);
    assert!(
        c2.store().record(&member).expect("read").is_none(),
        "the host holds no dossier"
    );
    let mut e = dues(member, &[3, 4, 5], paid(d(2025, 5, 6)));
    e.dues.extend(dues(member, &[6, 7, 8], unpaid()).dues);
    assert!(c2.edit_ledger(&u(C2), 2025, &e).expect("host dues"));
    assert!(c2
        .store()
        .ledger(&u(C2), 2025)
        .expect("own")
        .read()
        .dues
        .is_empty());
    // Outside the attachment the host cannot write, even for the attached member.
    let err = c2
        .edit_ledger(&u(C2), 2025, &dues(member, &[9], paid(d(2025, 9, 5))))
        .expect_err("September is home's");
    assert!(err.to_string().contains("outside"), "{err}");
    drop(c2);
    // At home: the host's months count — paid ones are not delinquent, unpaid ones are, named.
    let c1 = org.open(C1);
    let before = r1(&c1, as_of);
    assert!(
        before.is_empty(),
        "without the host's book nothing is known: {before:?}"
    );
    let r = sync(&org, C2, &c1);
    assert_eq!(r.rejected_total(), 0, "{:?}", r.rejected);
    let at_home = r1(&c1, as_of);
    assert_eq!(at_home.len(), 1, "{at_home:?}");
    // Holding the host's book for one member does not make the home cell judge the host cell.
    let all = c1
        .screen(&default_rules(), &default_calendar(), as_of, None)
        .expect("screen");
    assert!(all.iter().all(|f| f.in_scope(C1)), "{all:?}");
    assert_eq!(at_home[0].subject, Subject::Member(member.to_string()));
    assert!(
        at_home[0].explanation_vi.contains("6, 7, 8"),
        "{}",
        at_home[0].explanation_vi
    );
    drop(c1);
    // The ward above both holds the same books and lists the same flag.
    let ward = org.open(WARD);
    for from in [C1, C2] {
        let r = sync(&org, from, &ward);
        assert_eq!(r.rejected_total(), 0, "{:?}", r.rejected);
    }
    assert_eq!(r1(&ward, as_of), at_home);
    assert!(ward.store().verify().expect("verify").is_clean());
    drop(ward);
    // The host records the late payments; home sees the flag go.
    let c2 = org.open(C2);
    c2.edit_ledger(
        &u(C2),
        2025,
        &dues(member, &[6, 7, 8], paid(d(2025, 9, 20))),
    )
    .expect("late");
    drop(c2);
    let c1 = org.open(C1);
    sync(&org, C2, &c1);
    assert!(r1(&c1, as_of).is_empty());
    // Home shortens the attachment to May: June–August at the host no longer count, and home
    // has nothing for them either — the months are unknown until home records them.
    let grant = Grant::new(d(2025, 3, 1), d(2025, 5, 31), AttachReason::Work).expect("grant");
    let report = c1
        .grant_attachment(&member, &u(C2), grant)
        .expect("shorten");
    assert_eq!(report.withdrawn, 3, "June to August, recorded at the host");
    let facts = c1.screen_facts(None).expect("facts");
    let book = facts
        .ledgers
        .iter()
        .find(|l| l.cell == C2)
        .expect("the host's book");
    let months: Vec<u32> = book.dues[&member.to_string()].keys().copied().collect();
    assert_eq!(months, vec![3, 4, 5]);
}

/// A change to the attachment book of `member` signed by `key`, made on top of what `holder` stores,
/// whatever the key's credential allows.
fn forge(holder: &Node, key: &NodeKey, member: MemberId, edit: &LedgerEdit) -> VerifiedChange {
    forge_in(
        holder,
        key,
        &LedgerName::attachment(u(C2), 2025, member, u(C1)),
        edit,
    )
}

/// [`forge`] for any book.
fn forge_in(holder: &Node, key: &NodeKey, name: &LedgerName, edit: &LedgerEdit) -> VerifiedChange {
    let mut book = holder.store().book(name).expect("book");
    let change = book
        .edit(actor_for(&key.public()), edit, 1_750_000_000)
        .expect("edit")
        .expect("changes something");
    VerifiedChange::sign_own(key, DocKind::Ledger, MemberId(name.id().0), change).expect("sign")
}

/// A grant edit from `from` to `until`.
fn grant_edit(from: NaiveDate, until: NaiveDate) -> LedgerEdit {
    let mut g = LedgerEdit::new();
    g.set_grant(Grant::new(from, until, AttachReason::Work).expect("grant"));
    g
}

#[test]
fn each_side_writes_only_its_own_part_of_an_attachment() {
    let org = Org::new();
    let member = attached_member(&org);
    let ward = org.open(WARD);
    let r = sync(&org, C1, &ward);
    assert_eq!(r.rejected_total(), 0, "{:?}", r.rejected);
    // The host extending its own attachment: refused as unauthorized wherever it arrives.
    let by_host = forge(
        &ward,
        &org.key(C2),
        member,
        &grant_edit(d(2025, 3, 1), d(2025, 12, 31)),
    );
    // The home cell writing the host's entries: refused too.
    let by_home = forge(
        &ward,
        &org.key(C1),
        member,
        &dues(member, &[4], paid(d(2025, 4, 2))),
    );
    // The host's entry for the attached member inside the grant: accepted.
    let fine = forge(
        &ward,
        &org.key(C2),
        member,
        &dues(member, &[4], paid(d(2025, 4, 2))),
    );
    let r = ward
        .accept_records(
            vec![
                org.chain_record(C1),
                org.chain_record(C2),
                change_record(&by_host),
                change_record(&by_home),
                change_record(&fine),
            ],
            "peer:forger",
        )
        .expect("accept");
    let codes: Vec<RejectCode> = r.applied.rejected.iter().map(|r| r.code).collect();
    assert_eq!(
        codes,
        vec![RejectCode::Unauthorized, RejectCode::Unauthorized],
        "{:?}",
        r.applied.rejected
    );
    assert_eq!(
        quarantine_codes(&ward),
        vec!["unauthorized", "unauthorized"]
    );
    let held = ward.attachments().expect("books");
    assert_eq!(held.len(), 1);
    assert_eq!(
        held[0].grant.as_ref().map(|g| g.until),
        Some(d(2025, 8, 31))
    );
    assert_eq!(held[0].ledger.dues[&member.to_string()].len(), 1);
    // Bytes past the model's checks: the host writing September (outside) and another member.
    let name = LedgerName::attachment(u(C2), 2025, member, u(C1));
    let mut doc = ward.store().book(&name).expect("book").into_doc();
    doc.set_actor(actor_for(&org.key(C2).public()));
    let members = match automerge::ReadDoc::get(&doc, automerge::ROOT, "members") {
        Ok(Some((_, obj))) => obj,
        _ => panic!("members map"),
    };
    let own = match automerge::ReadDoc::get(&doc, &members, member.to_string()) {
        Ok(Some((_, obj))) => obj,
        _ => panic!("the member's map"),
    };
    let mut tx = doc.transaction();
    automerge::transaction::Transactable::put(&mut tx, &own, "d/09", "p:30000:2025-09-02")
        .expect("put");
    tx.commit_with(
        automerge::transaction::CommitOptions::default()
            .with_message(format!("{}: dues 1", name.head()))
            .with_time(1_750_000_000),
    );
    let change = doc.get_last_local_change().expect("change");
    let outside = VerifiedChange::sign_own(
        &org.key(C2),
        DocKind::Ledger,
        rollmesh_model::MemberId(name.id().0),
        change,
    )
    .expect("sign");
    let r = ward
        .accept_records(vec![change_record(&outside)], "peer:forger")
        .expect("accept");
    assert_eq!(r.applied.rejected.len(), 1);
    assert!(
        r.applied.rejected[0].detail.contains("outside"),
        "{:?}",
        r.applied.rejected
    );
    assert!(ward.store().verify().expect("verify").is_clean());
}

#[test]
fn a_cell_posing_as_a_members_home_changes_nothing_at_the_real_one() {
    let org = Org::new();
    // C1's member with nothing recorded since February: March to May unpaid, flagged at the ward.
    let c1 = org.open(C1);
    let member = c1
        .add_member(
            crate::testkit::admitted("Phạm Thị Cúc", C1, "2012-03-02"),
            vec![],
        )
        .expect("member");
    let e = dues(member, &[1, 2], paid(d(2025, 2, 5)));
    c1.edit_ledger(&u(C1), 2025, &e).expect("home dues");
    drop(c1);
    let ward = org.open(WARD);
    sync(&org, C1, &ward);
    let as_of = d(2025, 6, 15);
    let before = r1(&ward, as_of);
    assert_eq!(before.len(), 1, "{before:?}");
    // C2 grants an "attachment" of C1's member to a cell nobody here holds, as if C2 were the
    // member's home: it covers that home, so the grant is accepted — and never read, since the
    // member's cell is C1. (Read, it would make March to May unknown at home: no flag.)
    let posing = LedgerName::attachment(u("hn.d01.w01.c09"), 2025, member, u(C2));
    let vc = forge_in(
        &ward,
        &org.key(C2),
        &posing,
        &grant_edit(d(2025, 1, 1), d(2025, 12, 31)),
    );
    let r = ward
        .accept_records(vec![org.chain_record(C2), change_record(&vc)], "peer:c2")
        .expect("accept");
    assert_eq!(r.rejected_total(), 0, "{:?}", r.rejected);
    assert_eq!(r1(&ward, as_of), before, "the flag stands");
    // A book whose host and home are one cell (one node writing both parts) is refused outright.
    let both = LedgerName::attachment(u(C2), 2025, member, u(C2));
    let mut e = dues(member, &[3, 4, 5], paid(d(2025, 5, 5)));
    e.grant = grant_edit(d(2025, 1, 1), d(2025, 12, 31)).grant;
    let vc = forge_in(&ward, &org.key(C2), &both, &e);
    let r = ward
        .accept_records(vec![change_record(&vc)], "peer:c2")
        .expect("accept");
    assert_eq!(codes(&r), vec![RejectCode::InvalidDocument]);
    assert_eq!(r1(&ward, as_of), before);
}

#[test]
fn a_hosts_sheet_refuses_only_the_rows_the_attachment_does_not_allow() {
    let org = Org::new();
    let member = attached_member(&org);
    let c2 = org.open(C2);
    sync(&org, C1, &c2);
    let own = c2
        .add_member(fields("Lê Văn Dũng", C2), vec![])
        .expect("host member");
    let sheet = |name: &str| {
        format!("Mã,Họ tên,Số tiền\n{own},Lê Văn Dũng,30.000\n{member},{name},20.000\n")
            .into_bytes()
    };
    // The name the home cell gave with the grant checks the row: a wrong name is refused.
    let r = c2
        .dues_sheet(&sheet("Nguyễn Văn Sai"), 2025, 4, d(2025, 4, 5), None)
        .expect("sheet");
    assert_eq!((r.rows, r.bad.len()), (1, 1), "{:?}", r.bad);
    // September is past the attachment: only that row is refused, the host's own row is written.
    let r = c2
        .dues_sheet(&sheet("Trần Văn Bình"), 2025, 9, d(2025, 9, 5), None)
        .expect("sheet");
    assert_eq!((r.rows, r.bad.len()), (1, 1), "{:?}", r.bad);
    assert!(r.bad[0].reason.contains("09/2025"), "{}", r.bad[0].reason);
    c2.apply_sheet(&r).expect("write");
    // Inside it, both rows are written, each to its own book.
    let r = c2
        .dues_sheet(&sheet("Trần Văn Bình"), 2025, 4, d(2025, 4, 5), None)
        .expect("sheet");
    assert!(r.bad.is_empty(), "{:?}", r.bad);
    c2.apply_sheet(&r).expect("write");
    let own_book = c2.store().ledger(&u(C2), 2025).expect("own").read();
    assert_eq!(own_book.dues[&own.to_string()].len(), 2);
    assert!(!own_book.dues.contains_key(&member.to_string()));
    let held = c2.attachments().expect("books");
    assert_eq!(held[0].ledger.dues[&member.to_string()].len(), 1);
    // Another year, where the attachment does not reach: refused, not written to the host's ledger.
    let e = dues(member, &[4], paid(d(2026, 4, 5)));
    assert!(c2.edit_ledger(&u(C2), 2026, &e).is_err());
}

#[test]
fn a_grant_names_a_cell_tells_the_host_the_name_and_reports_what_it_withdraws() {
    let org = Org::new();
    let member = attached_member(&org);
    let c1 = org.open(C1);
    // A ward is no host.
    let g = Grant::new(d(2025, 8, 1), d(2025, 10, 31), AttachReason::Study).expect("grant");
    let err = c1
        .grant_attachment(&member, &u("hn.d01.w01"), g)
        .expect_err("a ward hosts nobody");
    assert!(err.to_string().contains("hn.d01.w01"), "{err}");
    // Shortening reports what the host had recorded past the new end.
    let short = Grant::new(d(2025, 3, 1), d(2025, 4, 30), AttachReason::Work).expect("grant");
    let report = c1
        .grant_attachment(&member, &u(C2), short)
        .expect("shorten");
    assert_eq!(report.withdrawn, 0, "the host recorded nothing yet");
    let books = c1.attachments().expect("books");
    assert_eq!(
        books[0]
            .grant
            .as_ref()
            .and_then(|g| g.name.clone())
            .as_deref(),
        Some("Trần Văn Bình"),
        "the host is told the name"
    );
}

#[test]
fn a_book_claiming_a_hosts_own_member_diverts_nothing() {
    let org = Org::new();
    let c2 = org.open(C2);
    let own = c2
        .add_member(fields("Đỗ Thị Em", C2), vec![])
        .expect("C2's member");
    drop(c2);
    // C1 claims C2's own member as attached to C2 from C1 (it covers that home, so the grant passes).
    let c1 = org.open(C1);
    let claim = LedgerName::attachment(u(C2), 2025, own, u(C1));
    let vc = forge_in(
        &c1,
        &org.key(C1),
        &claim,
        &grant_edit(d(2025, 4, 1), d(2025, 4, 1)),
    );
    drop(c1);
    let c2 = org.open(C2);
    let r = c2
        .accept_records(vec![org.chain_record(C1), change_record(&vc)], "peer:c1")
        .expect("accept");
    assert_eq!(r.rejected_total(), 0, "{:?}", r.rejected);
    // C2 records its member's year as always: into its own ledger, none of it blocked or diverted.
    let mut e = dues(own, &[3, 4, 5], paid(d(2025, 5, 5)));
    let key = rollmesh_model::ledger::MeetingKey::new(
        d(2025, 6, 3),
        rollmesh_model::ledger::MeetingKind::Regular,
    );
    e.record_meeting(key, "Sinh hoạt tháng 6").set_attendance(
        key,
        own,
        rollmesh_model::ledger::Attendance::Present,
    );
    assert!(c2.edit_ledger(&u(C2), 2025, &e).expect("own member"));
    let l = c2.store().ledger(&u(C2), 2025).expect("own").read();
    assert_eq!(l.dues[&own.to_string()].len(), 3);
    let claimed = c2.store().book(&claim).expect("book").read();
    assert!(claimed.dues.is_empty() && claimed.meetings.is_empty());
}

#[test]
fn a_host_cannot_touch_the_grant_by_any_operation() {
    let org = Org::new();
    let member = attached_member(&org);
    let ward = org.open(WARD);
    sync(&org, C1, &ward);
    let name = LedgerName::attachment(u(C2), 2025, member, u(C1));
    // A number where the home side wrote the last day, signed by the host.
    let mut doc = ward.store().book(&name).expect("book").into_doc();
    doc.set_actor(actor_for(&org.key(C2).public()));
    let grant = match automerge::ReadDoc::get(&doc, automerge::ROOT, "grant") {
        Ok(Some((_, obj))) => obj,
        _ => panic!("grant map"),
    };
    let mut tx = doc.transaction();
    automerge::transaction::Transactable::put(&mut tx, &grant, "until", 0i64).expect("put");
    tx.commit_with(
        automerge::transaction::CommitOptions::default()
            .with_message(format!("{}: grant", name.head()))
            .with_time(1_750_000_000),
    );
    let change = doc.get_last_local_change().expect("change");
    let vc = VerifiedChange::sign_own(&org.key(C2), DocKind::Ledger, MemberId(name.id().0), change)
        .expect("sign");
    let r = ward
        .accept_records(vec![org.chain_record(C2), change_record(&vc)], "peer:c2")
        .expect("accept");
    assert_eq!(r.applied.rejected.len(), 1, "{:?}", r.applied.rejected);
    let held = ward.attachments().expect("books");
    assert_eq!(
        held[0].grant.as_ref().map(|g| g.until),
        Some(d(2025, 8, 31))
    );
    assert!(ward.store().verify().expect("verify").is_clean());
}

#[test]
fn a_change_naming_an_object_that_does_not_exist_is_refused_not_a_crash() {
    use automerge::legacy::{ObjectId, OpId};
    let org = Org::new();
    let member = attached_member(&org);
    let ward = org.open(WARD);
    sync(&org, C1, &ward);
    let honest = forge(
        &ward,
        &org.key(C2),
        member,
        &dues(member, &[4], paid(d(2025, 4, 2))),
    );
    let mut e = honest.change.decode();
    for op in e.operations.iter_mut() {
        op.obj = ObjectId::Id(OpId(999, actor_for(&org.key(C2).public())));
    }
    e.hash = None;
    let ghost = VerifiedChange::sign_own(
        &org.key(C2),
        DocKind::Ledger,
        honest.envelope.doc(),
        automerge::Change::from(e),
    )
    .expect("sign");
    let r = ward
        .accept_records(vec![org.chain_record(C2), change_record(&ghost)], "peer:c2")
        .expect("accept");
    assert_eq!(codes(&r), vec![RejectCode::InvalidDocument]);
    // The honest change still applies after it.
    let r = ward
        .accept_records(vec![change_record(&honest)], "peer:c2")
        .expect("accept");
    assert_eq!(r.rejected_total(), 0, "{:?}", r.rejected);
    assert!(ward.store().verify().expect("verify").is_clean());
}
