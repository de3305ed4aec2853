//! Cases over real stores and keys: an admission taking its steps at the cell, the ward and the district;
//! a step signed by a unit not entitled to it, refused here and quarantined wherever it arrives; the vote
//! threshold counted over the cell's members; the probation deadline from the steps.

use chrono::NaiveDate;
use rollmesh_model::case::{CaseKey, CaseKind, CaseState, DisciplineForm, Step, StepRecord, Vote};
use rollmesh_model::{DossierEdit, Field, MemberId, Status};
use rollmesh_rules::RuleId;

use super::StepInput;
use crate::screen::{default_calendar, default_rules};
use crate::testkit::{fields, forge_edit, log_records, quarantine_codes, Org, C1, C2, WARD};
use crate::{Node, NodeError};

const DISTRICT: &str = "hn.d01";

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

fn member(node: &Node, name: &str, unit: &str, status: Status) -> MemberId {
    let mut f = fields(name, unit);
    f.insert(Field::Status, status.key().to_string());
    f.insert(Field::DateOfBirth, "1990-05-01".into());
    node.add_member(f, vec![]).expect("add member")
}

/// Sends everything `from` holds (with the chains of every unit) to `to`.
fn sync(org: &Org, from: &Node, to: &Node) -> crate::AcceptReport {
    let records = log_records(org, from, &["hn", DISTRICT, WARD, C1, C2]);
    to.accept_records(records, "test").expect("accept")
}

fn step(s: Step, date: NaiveDate) -> StepInput {
    StepInput {
        step: Some(s),
        date: Some(date),
        number: Some("01-QĐ".into()),
        ..StepInput::default()
    }
}

fn status(node: &Node, id: MemberId) -> Option<Status> {
    node.record(&id).expect("record").status()
}

/// A cell with three official members (two of them sponsors) and a candidate whose admission is opened
/// and voted (3 of 3).
fn voted_admission(cell: &Node) -> (MemberId, [MemberId; 3]) {
    let officials = [
        member(cell, "Trần Văn Bình", C1, Status::Official),
        member(cell, "Lê Thị Cúc", C1, Status::Official),
        member(cell, "Phạm Văn Dũng", C1, Status::Official),
    ];
    let candidate = member(cell, "Nguyễn Văn An", C1, Status::Candidate);
    let open = StepInput {
        open: Some(CaseKind::Admission),
        date: Some(d(2025, 1, 6)),
        sponsors: vec![officials[0].to_string(), officials[1].to_string()],
        certificate: Some("GCN số 15/2024".into()),
        ..StepInput::default()
    };
    cell.case_step(candidate, &open).expect("open");
    let mut vote = step(Step::Vote, d(2025, 1, 20));
    vote.yes = Some(3);
    vote.no = Some(0);
    let done = cell.case_step(candidate, &vote).expect("vote");
    assert_eq!(
        done.record.vote,
        Some(Vote {
            yes: 3,
            no: 0,
            eligible: 3
        })
    );
    assert_eq!(
        done.state,
        CaseState::Open {
            next: Step::Resolution
        }
    );
    (candidate, officials)
}

#[test]
fn an_admission_is_voted_at_the_cell_resolved_at_the_ward_and_decided_at_the_district() {
    let org = Org::new();
    let cell = org.open(C1);
    let ward = org.open(WARD);
    let district = org.open(DISTRICT);
    let (candidate, _) = voted_admission(&cell);
    // The cell cannot take the ward's step, and says who can.
    let err = cell
        .case_step(candidate, &step(Step::Resolution, d(2025, 2, 3)))
        .expect_err("a cell does not resolve its own admission");
    assert!(
        matches!(err, NodeError::Refused(ref m) if m.contains("Phường/Xã")),
        "{err}"
    );
    // Out of order is refused too.
    let err = cell
        .case_step(candidate, &step(Step::Ceremony, d(2025, 2, 3)))
        .expect_err("no ceremony before the decision");
    assert!(err.to_string().contains("Nghị quyết"), "{err}");

    sync(&org, &cell, &ward);
    ward.case_step(candidate, &step(Step::Resolution, d(2025, 2, 3)))
        .expect("the ward resolves");
    let err = ward
        .case_step(candidate, &step(Step::Decision, d(2025, 2, 10)))
        .expect_err("a ward does not decide an admission in a four-level tree");
    assert!(err.to_string().contains("Quận/Huyện"), "{err}");

    sync(&org, &ward, &district);
    let mut decision = step(Step::Decision, d(2025, 3, 3));
    decision.number = Some("125-QĐ/QU".into());
    let done = district
        .case_step(candidate, &decision)
        .expect("the district decides");
    assert_eq!(done.status, Some(Status::Probationary));

    // Back down: the cell and the ward see the member probationary, with the decision's date.
    sync(&org, &district, &ward);
    sync(&org, &ward, &cell);
    for n in [&cell, &ward, &district] {
        let r = n.record(&candidate).expect("record");
        assert_eq!(r.status(), Some(Status::Probationary), "at {}", n.unit());
        assert_eq!(r.get(Field::AdmissionDate), Some("2025-03-03"));
        assert!(quarantine_codes(n).is_empty(), "{:?}", quarantine_codes(n));
    }
    cell.case_step(candidate, &step(Step::Ceremony, d(2025, 3, 20)))
        .expect("the ceremony at the cell");

    // Twelve months on, the probation alert is raised at the cell and, once synced, at the ward.
    sync(&org, &cell, &ward);
    let as_of = d(2026, 3, 21);
    for n in [&cell, &ward] {
        let flags = n
            .screen(&default_rules(), &default_calendar(), as_of, None)
            .expect("screen");
        let r8: Vec<_> = flags.iter().filter(|f| f.rule == RuleId::R8).collect();
        assert_eq!(r8.len(), 1, "at {}: {flags:?}", n.unit());
        assert!(
            r8[0].explanation_vi.contains("20/03/2025"),
            "{}",
            r8[0].explanation_vi
        );
    }
    // The deadline view names the day probation ends, a few weeks ahead.
    let due = cell.deadlines(d(2026, 3, 1), 30).expect("deadlines");
    let r8: Vec<_> = due.iter().filter(|x| x.flag.rule == RuleId::R8).collect();
    assert_eq!(r8.len(), 1, "{due:?}");
    assert_eq!(r8[0].due, d(2026, 3, 20));
    // A day before, nothing.
    let before = cell
        .screen(&default_rules(), &default_calendar(), d(2026, 3, 19), None)
        .expect("screen");
    assert!(before.iter().all(|f| f.rule != RuleId::R8), "{before:?}");

    let mut review = step(Step::Review, d(2026, 3, 25));
    review.yes = Some(3);
    review.no = Some(0);
    cell.case_step(candidate, &review)
        .expect("the cell reviews");
    sync(&org, &cell, &ward);
    sync(&org, &ward, &district);
    let done = district
        .case_step(candidate, &step(Step::Confirm, d(2026, 4, 6)))
        .expect("the district confirms");
    assert_eq!(done.state, CaseState::Done);
    sync(&org, &district, &ward);
    sync(&org, &ward, &cell);
    for n in [&cell, &ward, &district] {
        let r = n.record(&candidate).expect("record");
        assert_eq!(r.status(), Some(Status::Official), "at {}", n.unit());
        assert_eq!(
            r.get(Field::OfficialDate),
            Some("2026-03-20"),
            "probation's end"
        );
    }
}

/// A decision step for `id` as `unit` would sign it, with the status it would set.
fn decision_edit(id_case: CaseKey, unit: &str, status: Status) -> DossierEdit {
    let mut s = StepRecord::new(id_case, Step::Decision, d(2025, 3, 3), unit);
    s.number = Some("1".into());
    let mut e = DossierEdit::default();
    e.events.push(s.event());
    e.set.insert(Field::Status, status.key().to_string());
    e
}

#[test]
fn a_step_signed_by_a_unit_not_entitled_is_quarantined_and_changes_no_status() {
    let org = Org::new();
    let cell = org.open(C1);
    let ward = org.open(WARD);
    let district = org.open(DISTRICT);
    let (candidate, officials) = voted_admission(&cell);
    let key = CaseKey::new(CaseKind::Admission, d(2025, 1, 6));
    // The cell decides its own admission: refused at the ward, whatever it claims to be.
    let forged = forge_edit(
        &cell,
        &org.key(C1),
        candidate,
        &decision_edit(key, C1, Status::Probationary),
    );
    let mut records = log_records(&org, &cell, &["hn", DISTRICT, WARD, C1, C2]);
    records.push(crate::testkit::change_record(&forged));
    let report = ward.accept_records(records, "test").expect("accept");
    assert_eq!(report.rejected_total(), 1, "{report:?}");
    assert_eq!(quarantine_codes(&ward), vec!["unauthorized".to_string()]);
    assert_eq!(status(&ward, candidate), Some(Status::Candidate));
    // Claiming to be the district while signed by the cell is no better.
    let posing = forge_edit(
        &cell,
        &org.key(C1),
        candidate,
        &decision_edit(key, DISTRICT, Status::Probationary),
    );
    let report = ward
        .accept_records(vec![crate::testkit::change_record(&posing)], "test")
        .expect("accept");
    assert_eq!(report.rejected_total(), 1, "{report:?}");

    // A ward expelling a member: the cell proposes expulsion; the ward's decision is refused at the
    // district, which is the level the rule set names.
    let mut propose = StepInput {
        open: Some(CaseKind::Discipline),
        date: Some(d(2025, 4, 1)),
        form: Some(DisciplineForm::Expulsion),
        yes: Some(3),
        no: Some(0),
        ..StepInput::default()
    };
    propose.note = Some("Vi phạm tư cách".into());
    cell.case_step(officials[2], &propose)
        .expect("the cell proposes");
    sync(&org, &cell, &ward);
    sync(&org, &ward, &district);
    let dkey = CaseKey::new(CaseKind::Discipline, d(2025, 4, 1));
    let mut expel = decision_edit(dkey, WARD, Status::Expelled);
    expel.events[0] = {
        let s = StepRecord::new(dkey, Step::Decision, d(2025, 4, 10), WARD);
        s.event()
    };
    let forged = forge_edit(&ward, &org.key(WARD), officials[2], &expel);
    let report = district
        .accept_records(vec![crate::testkit::change_record(&forged)], "test")
        .expect("accept");
    assert_eq!(report.rejected_total(), 1, "{report:?}");
    assert_eq!(status(&district, officials[2]), Some(Status::Official));
    assert!(quarantine_codes(&district).contains(&"unauthorized".to_string()));
    // The district itself may.
    let done = district
        .case_step(officials[2], &step(Step::Decision, d(2025, 4, 10)))
        .expect("the district expels");
    assert_eq!(done.status, Some(Status::Expelled));

    // A step already taken cannot be rewritten: the cell altering its own vote is refused upstream.
    let mut d2 = cell
        .store()
        .dossier(&candidate)
        .expect("load")
        .expect("held");
    let rec = d2.record().expect("record");
    let vote_event = rec
        .events
        .iter()
        .find(|e| e.detail.contains("\"vote\""))
        .expect("vote event")
        .clone();
    let mut rewritten = StepRecord::parse(&vote_event.detail).expect("parse");
    rewritten.vote = Some(Vote {
        yes: 3,
        no: 0,
        eligible: 3,
    });
    rewritten.note = Some("sửa".into());
    let mut e = DossierEdit::default();
    e.events.push(rewritten.event());
    let change = d2
        .edit(
            rollmesh_proto::actor_for(&org.public(C1)),
            &e,
            crate::node::now(),
        )
        .expect("edit")
        .expect("changes");
    // A second record of a step already taken (the cell voting again to change the outcome) is refused,
    // although the cell may record its own votes.
    let vc = rollmesh_proto::VerifiedChange::sign_own(
        &org.key(C1),
        rollmesh_proto::DocKind::Member,
        candidate,
        change,
    )
    .expect("sign");
    let report = ward
        .accept_records(vec![crate::testkit::change_record(&vc)], "test")
        .expect("accept");
    assert_eq!(report.rejected_total(), 1, "{report:?}");
}

#[test]
fn the_vote_counts_only_the_cells_official_members_not_exempted_or_attached_ones() {
    let org = Org::new();
    let cell = org.open(C1);
    for (i, st) in [
        Status::Official,
        Status::Official,
        Status::Official,
        Status::Exempted,
        Status::Probationary,
        Status::TemporarilyAway,
    ]
    .into_iter()
    .enumerate()
    {
        member(&cell, &format!("Đảng viên {i}"), C1, st);
    }
    assert_eq!(
        cell.voters(&crate::testkit::u(C1), d(2025, 1, 1))
            .expect("voters"),
        3
    );
    let candidate = member(&cell, "Nguyễn Văn An", C1, Status::Candidate);
    let sponsors: Vec<String> = cell
        .store()
        .projections(&crate::testkit::u(C1), |r| {
            (r.status() == Some(Status::Official)).then(|| r.id.to_string())
        })
        .expect("list")
        .into_iter()
        .flatten()
        .take(2)
        .collect();
    let open = StepInput {
        open: Some(CaseKind::Admission),
        date: Some(d(2025, 1, 6)),
        sponsors,
        certificate: Some("GCN".into()),
        ..StepInput::default()
    };
    cell.case_step(candidate, &open).expect("open");
    // Four votes from a cell of three voters: refused, the count is the node's, not the clerk's.
    let mut vote = step(Step::Vote, d(2025, 1, 20));
    vote.yes = Some(4);
    vote.no = Some(0);
    assert!(cell.case_step(candidate, &vote).is_err());
    // One of three is under two thirds: recorded, and the case is closed as rejected.
    vote.yes = Some(1);
    vote.no = Some(2);
    let done = cell.case_step(candidate, &vote).expect("recorded");
    assert_eq!(done.state, CaseState::Rejected { at: Step::Vote });
    assert_eq!(status(&cell, candidate), Some(Status::Candidate));
    assert!(cell
        .case_step(candidate, &step(Step::Resolution, d(2025, 2, 1)))
        .is_err());
}

#[test]
fn the_rule_set_names_who_decides_not_the_code() {
    let org = Org::new();
    let city = org.open("hn");
    let cell = org.open(C1);
    let ward = org.open(WARD);
    let (candidate, _) = voted_admission(&cell);
    sync(&org, &cell, &ward);
    ward.case_step(candidate, &step(Step::Resolution, d(2025, 2, 3)))
        .expect("resolution");
    // The city publishes a rule set in which the ward decides admissions (a three-level practice).
    let mut rules = default_rules();
    rules.cases.admission_decision = vec!["ward".into()];
    city.publish_rules(&rules.to_toml().expect("toml"))
        .expect("publish");
    sync(&org, &city, &ward);
    let done = ward
        .case_step(candidate, &step(Step::Decision, d(2025, 2, 10)))
        .expect("the ward now decides");
    assert_eq!(done.status, Some(Status::Probationary));
    // The cell receives the rule set and the ward's decision in one batch (the ward forwards both):
    // a decision judged before the rule set was in is judged again once it is, and applies.
    sync(&org, &ward, &cell);
    assert_eq!(status(&cell, candidate), Some(Status::Probationary));
    assert!(
        quarantine_codes(&cell).is_empty(),
        "{:?}",
        quarantine_codes(&cell)
    );
}

#[test]
fn an_official_transfer_is_decided_by_the_unit_covering_both_cells_and_moves_the_member() {
    let org = Org::new();
    let c1 = org.open(C1);
    let c2 = org.open(C2);
    let ward = org.open(WARD);
    let id = member(&c1, "Nguyễn Văn An", C1, Status::Official);
    let open = StepInput {
        open: Some(CaseKind::Transfer),
        date: Some(d(2025, 5, 5)),
        to: Some(C2.into()),
        note: Some("Chuyển nơi cư trú".into()),
        ..StepInput::default()
    };
    c1.case_step(id, &open)
        .expect("the cell proposes the transfer");
    // The sending cell cannot move its member into another cell.
    let err = c1
        .case_step(id, &step(Step::Send, d(2025, 5, 12)))
        .expect_err("a cell does not cover the other cell");
    assert!(matches!(err, NodeError::Refused(_)), "{err}");
    sync(&org, &c1, &ward);
    // Past 60 working days without the decision, R10 flags it at the ward.
    let r10 = |n: &Node, as_of| {
        n.screen(&default_rules(), &default_calendar(), as_of, None)
            .expect("screen")
            .into_iter()
            .filter(|f| f.rule == RuleId::R10)
            .count()
    };
    assert_eq!(r10(&ward, d(2025, 7, 25)), 0);
    assert_eq!(r10(&ward, d(2025, 8, 5)), 1);
    let mut send = step(Step::Send, d(2025, 5, 12));
    send.number = Some("12-GGT/ĐU".into());
    let done = ward
        .case_step(id, &send)
        .expect("the ward covers both cells");
    assert_eq!(
        done.state,
        CaseState::Open {
            next: Step::Receive
        }
    );
    let moved = ward.record(&id).expect("record");
    assert_eq!(moved.get(Field::Unit), Some(C2));
    assert_eq!(
        moved.status(),
        Some(Status::Transferring),
        "counted nowhere until received"
    );
    // The old cell lets the member go; the new one takes them in, and receives.
    sync(&org, &ward, &c1);
    assert!(matches!(c1.record(&id), Err(NodeError::NoSuchMember(_))));
    sync(&org, &ward, &c2);
    let done = c2
        .case_step(id, &step(Step::Receive, d(2025, 5, 20)))
        .expect("the new cell receives");
    assert_eq!(done.state, CaseState::Done);
    assert_eq!(
        done.status,
        Some(Status::Official),
        "the status it had before"
    );
    sync(&org, &c2, &ward);
    assert_eq!(r10(&ward, d(2025, 8, 5)), 0);
    assert!(
        quarantine_codes(&ward).is_empty(),
        "{:?}",
        quarantine_codes(&ward)
    );
}

#[test]
fn a_temporary_attachment_is_not_counted_at_the_host_and_is_flagged_at_home_past_its_limit() {
    use rollmesh_model::ledger::{AttachReason, Grant};
    let org = Org::new();
    let home = org.open(C2);
    let host = org.open(C1);
    let ward = org.open(WARD);
    for i in 0..3 {
        member(&host, &format!("Đảng viên {i}"), C1, Status::Official);
    }
    let away = member(&home, "Nguyễn Văn Khách", C2, Status::Official);
    let grant = Grant::new(d(2025, 1, 1), d(2026, 6, 30), AttachReason::Work).expect("grant");
    home.grant_attachment(&away, &crate::testkit::u(C1), grant)
        .expect("the home cell grants the attachment");
    sync(&org, &home, &ward);
    sync(&org, &ward, &host);
    // The host keeps the member's book but does not count or poll them.
    assert_eq!(
        host.voters(&crate::testkit::u(C1), d(2025, 6, 1))
            .expect("voters"),
        3
    );
    assert!(matches!(
        host.record(&away),
        Err(NodeError::NoSuchMember(_))
    ));
    // Twelve months on, R10 flags it at home and at the ward, not before.
    for n in [&home, &ward] {
        let at = |as_of| {
            n.screen(&default_rules(), &default_calendar(), as_of, None)
                .expect("screen")
                .into_iter()
                .filter(|f| f.rule == RuleId::R10)
                .collect::<Vec<_>>()
        };
        assert!(at(d(2025, 12, 31)).is_empty());
        let flags = at(d(2026, 1, 2));
        assert_eq!(flags.len(), 1, "at {}: {flags:?}", n.unit());
        assert_eq!(flags[0].unit, C2, "flagged at the home cell");
    }
}

#[test]
fn a_decided_status_without_its_step_is_refused_here_and_quarantined_there() {
    let org = Org::new();
    let cell = org.open(C1);
    let ward = org.open(WARD);
    let (candidate, officials) = voted_admission(&cell);
    // At the cell, the clerk cannot type the status a decision sets.
    let mut e = DossierEdit::default();
    e.set.insert(Field::Status, Status::Official.key().into());
    assert!(matches!(
        cell.edit_member(candidate, &e),
        Err(NodeError::Refused(_))
    ));
    let mut expel = DossierEdit::default();
    expel
        .set
        .insert(Field::Status, Status::Expelled.key().into());
    assert!(cell.edit_member(officials[0], &expel).is_err());
    // A status that is the clerk's (deceased) is fine.
    let mut died = DossierEdit::default();
    died.set
        .insert(Field::Status, Status::Deceased.key().into());
    assert!(cell.edit_member(officials[1], &died).expect("edit"));
    // A node signing such an edit anyway (its own key, its own cell) is quarantined upstream.
    let forged = forge_edit(&cell, &org.key(C1), candidate, &e);
    let mut records = log_records(&org, &cell, &["hn", DISTRICT, WARD, C1, C2]);
    records.push(crate::testkit::change_record(&forged));
    let report = ward.accept_records(records, "test").expect("accept");
    assert_eq!(report.rejected_total(), 1, "{report:?}");
    assert_eq!(status(&ward, candidate), Some(Status::Candidate));
    assert_eq!(status(&ward, officials[1]), Some(Status::Deceased));
}

#[test]
fn a_step_dated_back_before_a_change_of_competence_is_judged_by_the_strictest() {
    let org = Org::new();
    let city = org.open("hn");
    let cell = org.open(C1);
    let ward = org.open(WARD);
    let district = org.open(DISTRICT);
    // From 2025 the city itself strikes members off.
    let mut rules = default_rules();
    rules.effective = d(2025, 1, 1);
    rules.cases.strike_off = vec!["city".into()];
    city.publish_rules(&rules.to_toml().expect("toml"))
        .expect("publish");
    for n in [&cell, &ward, &district] {
        sync(&org, &city, n);
    }
    let id = member(&cell, "Trần Văn Xóa", C1, Status::Official);
    let propose = StepInput {
        open: Some(CaseKind::StrikeOff),
        date: Some(d(2024, 12, 30)),
        yes: Some(1),
        no: Some(0),
        note: Some("Bỏ sinh hoạt".into()),
        ..StepInput::default()
    };
    cell.case_step(id, &propose)
        .expect("the cell proposes, dated 2024");
    sync(&org, &cell, &ward);
    sync(&org, &ward, &district);
    // Dated in 2024, when the shipped defaults let the district decide: still the city's, now.
    let err = district
        .case_step(id, &step(Step::Decision, d(2024, 12, 31)))
        .expect_err("backdating does not lower who decides");
    assert!(matches!(err, NodeError::Refused(_)), "{err}");
}

#[test]
fn a_change_built_on_old_heads_cannot_replace_the_events_and_undo_a_decision() {
    use automerge::transaction::Transactable;
    use automerge::{ObjType, ROOT};
    let org = Org::new();
    let cell = org.open(C1);
    let ward = org.open(WARD);
    let district = org.open(DISTRICT);
    let (candidate, _) = voted_admission(&cell);
    let old = cell
        .store()
        .dossier(&candidate)
        .expect("load")
        .expect("held");
    sync(&org, &cell, &ward);
    ward.case_step(candidate, &step(Step::Resolution, d(2025, 2, 3)))
        .expect("resolution");
    sync(&org, &ward, &district);
    district
        .case_step(candidate, &step(Step::Decision, d(2025, 3, 3)))
        .expect("decision");
    sync(&org, &district, &ward);
    // The cell, from the state before the decision, replaces the events list with a copy of the steps
    // it knew and writes the status again: judged on its own history it would change nothing.
    let mut doc = old.doc().clone();
    doc.set_actor(rollmesh_proto::actor_for(&org.public(C1)));
    let events = old.record().expect("record").events;
    let mut tx = doc.transaction();
    let list = tx.put_object(ROOT, "events", ObjType::List).expect("list");
    for (i, e) in events.iter().enumerate() {
        let m = tx.insert_object(&list, i, ObjType::Map).expect("map");
        tx.put(&m, "kind", e.kind.key()).expect("put");
        if let Some(date) = &e.date {
            tx.put(&m, "date", date.as_str()).expect("put");
        }
        tx.put(&m, "detail", e.detail.as_str()).expect("put");
    }
    tx.put(ROOT, "status", "candidate").expect("put");
    tx.commit();
    let change = doc.get_last_local_change().expect("change");
    let vc = rollmesh_proto::VerifiedChange::sign_own(
        &org.key(C1),
        rollmesh_proto::DocKind::Member,
        candidate,
        change,
    )
    .expect("sign");
    let report = ward
        .accept_records(vec![crate::testkit::change_record(&vc)], "test")
        .expect("accept");
    assert_eq!(report.rejected_total(), 1, "{report:?}");
    assert_eq!(status(&ward, candidate), Some(Status::Probationary));
    assert_eq!(
        ward.cases_of(&candidate).expect("cases")[0].state(),
        CaseState::Open {
            next: Step::Ceremony
        }
    );
}

/// A change to `id` signed by `unit`'s key, made by `f` on a copy of `doc`.
fn forged(
    org: &Org,
    unit: &str,
    id: MemberId,
    doc: &automerge::Automerge,
    f: impl FnOnce(&mut automerge::transaction::Transaction<'_>),
) -> rollmesh_sync::Record {
    let mut d = doc.clone();
    d.set_actor(rollmesh_proto::actor_for(&org.public(unit)));
    let mut tx = d.transaction();
    f(&mut tx);
    tx.commit();
    let change = d.get_last_local_change().expect("change");
    let vc = rollmesh_proto::VerifiedChange::sign_own(
        &org.key(unit),
        rollmesh_proto::DocKind::Member,
        id,
        change,
    )
    .expect("sign");
    crate::testkit::change_record(&vc)
}

#[test]
fn a_status_is_never_removed_unreadable_or_rewritten_from_an_empty_history() {
    use automerge::transaction::Transactable;
    use automerge::ROOT;
    let org = Org::new();
    let cell = org.open(C1);
    let ward = org.open(WARD);
    let id = member(&cell, "Trần Văn Xóa", C1, Status::Official);
    sync(&org, &cell, &ward);
    let doc = cell
        .store()
        .dossier(&id)
        .expect("load")
        .expect("held")
        .doc()
        .clone();
    let attempts = [
        forged(&org, C1, id, &doc, |tx| {
            tx.delete(ROOT, "status").expect("delete")
        }),
        forged(&org, C1, id, &doc, |tx| {
            tx.put(ROOT, "status", "xx").expect("put")
        }),
        forged(&org, C1, id, &doc, |tx| {
            tx.delete(ROOT, "unit").expect("delete")
        }),
        // A change with no dependencies, as if it created the member again.
        forged(&org, C1, id, &automerge::Automerge::new(), |tx| {
            tx.put(ROOT, "kind", rollmesh_model::DOSSIER_KIND)
                .expect("put");
            tx.put(ROOT, "id", id.to_string()).expect("put");
            tx.put(ROOT, "full_name", "Trần Văn Xóa").expect("put");
            tx.put(ROOT, "unit", C1).expect("put");
            tx.put(ROOT, "status", "expelled").expect("put");
        }),
    ];
    for (i, r) in attempts.into_iter().enumerate() {
        let report = ward.accept_records(vec![r], "test").expect("accept");
        assert_eq!(report.rejected_total(), 1, "attempt {i}: {report:?}");
    }
    assert_eq!(status(&ward, id), Some(Status::Official));
}

#[test]
fn a_status_written_beside_a_decision_does_not_outvote_it() {
    use automerge::transaction::Transactable;
    use automerge::ROOT;
    let org = Org::new();
    let cell = org.open(C1);
    let ward = org.open(WARD);
    let district = org.open(DISTRICT);
    let id = member(&cell, "Trần Văn Xóa", C1, Status::Official);
    let propose = StepInput {
        open: Some(CaseKind::StrikeOff),
        date: Some(d(2025, 3, 1)),
        yes: Some(1),
        no: Some(0),
        note: Some("Bỏ sinh hoạt".into()),
        ..StepInput::default()
    };
    cell.case_step(id, &propose).expect("propose");
    let before_decision = cell
        .store()
        .dossier(&id)
        .expect("load")
        .expect("held")
        .doc()
        .clone();
    sync(&org, &cell, &ward);
    sync(&org, &ward, &district);
    district
        .case_step(id, &step(Step::Decision, d(2025, 3, 10)))
        .expect("the district strikes the member off");
    // The cell, on the heads before the decision, writes a status it may write by hand ("temporarily
    // away", from official) with a high counter (padding the change with phone numbers so its status
    // operation wins Automerge's tie-break).
    let beside = forged(&org, C1, id, &before_decision, |tx| {
        for i in 0..40 {
            tx.put(ROOT, "phone", format!("09{i:08}")).expect("put");
        }
        tx.put(ROOT, "status", "temporarily_away").expect("put");
    });
    let report = district
        .accept_records(vec![beside], "test")
        .expect("accept");
    assert_eq!(report.rejected_total(), 0, "{report:?}");
    let r = district.record(&id).expect("record");
    assert_eq!(
        r.status(),
        Some(Status::StruckOff),
        "the decision's status is shown"
    );
    assert!(
        r.conflicted.contains(&Field::Status),
        "and the other value is a conflict to see"
    );
    // Resolving the conflict by hand to "official" is a status the decision set: refused.
    let mut e = DossierEdit::default();
    e.set.insert(Field::Status, Status::Official.key().into());
    assert!(district.edit_member(id, &e).is_err());
}
