//! Each screening rule at its boundaries: exactly the threshold and one below, consecutive or not,
//! across a year boundary, with accepted reasons, for each status, for members attached to a host cell;
//! and the rule set's parameters, its file format and its validation.

mod support;

use rollmesh_model::Status;
use rollmesh_rules::{
    evaluate, filter_by_scope, vote_denominator, Attachment, AttachmentReason, Attendance,
    CellFacts, Evidence, Flag, HelpListEntry, Ledger, MeetingKind, MemberFacts, Rating, RuleId,
    RuleSet, RuleSetError, Subject,
};
use support::*;

const C1: &str = "hn.d01.w01.c01";
const C2: &str = "hn.d01.w01.c02";
/// A host cell in another district.
const HOST: &str = "hn.d02.w05.c03";

fn official(id: &str) -> MemberFacts {
    member(id, C1, Status::Official)
}

fn r1(rules: &RuleSet, m: &MemberFacts, ledgers: &[Ledger], as_of: chrono::NaiveDate) -> Vec<Flag> {
    of(
        &run(rules, std::slice::from_ref(m), &[cell(C1)], ledgers, as_of),
        RuleId::R1,
    )
}

fn r1_months(flags: &[Flag]) -> Vec<(i32, Vec<u32>)> {
    flags
        .iter()
        .map(|f| match &f.evidence {
            Evidence::Dues { year, months, .. } => (*year, months.clone()),
            other => panic!("not dues evidence: {other:?}"),
        })
        .collect()
}

// ---------------------------------------------------------------- R1

#[test]
fn r1_fires_at_exactly_three_months_not_consecutive_and_explains_itself() {
    let m = official("m1");
    let ledger = dues_ledger(C1, 2026, "m1", &[1, 4, 6, 7, 8, 9, 10, 11, 12]);
    let flags = r1(&RuleSet::default(), &m, &[ledger], d(2027, 1, 15));
    assert_eq!(flags.len(), 1, "{flags:#?}");
    let f = &flags[0];
    assert_eq!(
        f.explanation_vi,
        "Không đóng đảng phí 3 tháng trong năm 2026 (tháng 2, 3, 5) mà không có lý do được chấp nhận"
    );
    assert_eq!(
        f.explanation_en,
        "No dues paid in 3 months of 2026 (months 2, 3, 5) without an accepted reason"
    );
    assert_eq!(f.subject, Subject::Member("m1".into()));
    assert_eq!(f.unit, C1);
    assert_eq!(f.year, Some(2026));
    assert_eq!(
        f.evidence,
        Evidence::Dues {
            year: 2026,
            months: vec![2, 3, 5],
            threshold: 3,
            counted_through: d(2026, 12, 31),
        }
    );
}

#[test]
fn r1_does_not_fire_one_month_below() {
    let m = official("m1");
    let ledger = dues_ledger(C1, 2026, "m1", &[1, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    assert!(r1(&RuleSet::default(), &m, &[ledger], d(2027, 1, 15)).is_empty());
}

#[test]
fn r1_counts_each_calendar_year_on_its_own() {
    // November and December 2025, then January 2026: three months in a row, but two years.
    let m = official("m1");
    let y2025 = dues_ledger(C1, 2025, "m1", &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    let y2026 = dues_ledger(C1, 2026, "m1", &[2]);
    let as_of = d(2026, 3, 1);
    assert!(r1(
        &RuleSet::default(),
        &m,
        &[y2025.clone(), y2026.clone()],
        as_of
    )
    .is_empty());
    // One more gap in 2025 makes that year fire, and only that year.
    let y2025 = dues_ledger(C1, 2025, "m1", &[1, 2, 3, 4, 5, 6, 7, 8, 9]);
    let flags = r1(&RuleSet::default(), &m, &[y2025, y2026], as_of);
    assert_eq!(r1_months(&flags), vec![(2025, vec![10, 11, 12])]);
}

#[test]
fn r1_counts_only_months_ended_before_the_evaluation_date() {
    let m = official("m1");
    let empty = Ledger::new(C1, 2026);
    let rules = RuleSet::default();
    // On 31 March, March is not over: January and February only.
    assert!(r1(&rules, &m, std::slice::from_ref(&empty), d(2026, 3, 31)).is_empty());
    // On 1 April it is.
    let flags = r1(&rules, &m, std::slice::from_ref(&empty), d(2026, 4, 1));
    assert_eq!(r1_months(&flags), vec![(2026, vec![1, 2, 3])]);
    // A month with no entry at all counts as unpaid once over, as above; with a grace period of five
    // working days, March counts only after Tuesday 7 April 2026.
    let mut grace = RuleSet::default();
    grace.counting.grace_working_days = 5;
    assert!(r1(&grace, &m, std::slice::from_ref(&empty), d(2026, 4, 7)).is_empty());
    assert_eq!(r1(&grace, &m, &[empty], d(2026, 4, 8)).len(), 1);
}

#[test]
fn r1_accepts_only_recorded_and_accepted_reasons() {
    let m = official("m1");
    let mut l = dues_ledger(C1, 2026, "m1", &[4, 5, 6, 7, 8, 9]);
    set_dues(&mut l, "m1", 1, unpaid(Some("ốm nặng, nằm viện"), true)); // excused
    set_dues(&mut l, "m1", 2, unpaid(Some("đi công tác"), false)); // reason refused
    set_dues(&mut l, "m1", 3, unpaid(None, true)); // no reason recorded
    let as_of = d(2026, 10, 1);
    assert!(r1(&RuleSet::default(), &m, std::slice::from_ref(&l), as_of).is_empty());
    set_dues(&mut l, "m1", 4, unpaid(Some("   "), true)); // a blank reason is no reason
    let flags = r1(&RuleSet::default(), &m, &[l], as_of);
    assert_eq!(r1_months(&flags), vec![(2026, vec![2, 3, 4])]);
}

#[test]
fn r1_treats_a_missing_ledger_as_unknown_and_a_late_payment_as_not_yet_made() {
    let m = official("m1");
    let rules = RuleSet::default();
    // No ledger for the member's cell: nothing is known, nothing fires.
    assert!(r1(&rules, &m, &[], d(2027, 1, 15)).is_empty());
    assert!(r1(&rules, &m, &[Ledger::new(C2, 2026)], d(2027, 1, 15)).is_empty());
    // January to March paid on 20 May: unpaid on 1 May, paid on 1 June.
    let mut l = dues_ledger(C1, 2026, "m1", &[4, 5, 6, 7, 8, 9, 10, 11, 12]);
    for month in 1..=3 {
        set_dues(
            &mut l,
            "m1",
            month,
            rollmesh_rules::Dues::Paid {
                amount: 10_000,
                date: d(2026, 5, 20),
            },
        );
    }
    assert_eq!(
        r1_months(&r1(&rules, &m, std::slice::from_ref(&l), d(2026, 5, 1))),
        vec![(2026, vec![1, 2, 3])]
    );
    assert!(r1(&rules, &m, &[l], d(2026, 6, 1)).is_empty());
}

#[test]
fn r1_starts_counting_with_the_first_whole_month_after_admission() {
    let empty = Ledger::new(C1, 2026);
    let mut m = official("m1");
    m.admitted = Some(d(2026, 3, 1));
    let flags = r1(
        &RuleSet::default(),
        &m,
        std::slice::from_ref(&empty),
        d(2026, 6, 1),
    );
    assert_eq!(r1_months(&flags), vec![(2026, vec![3, 4, 5])]);
    m.admitted = Some(d(2026, 3, 2));
    assert!(r1(&RuleSet::default(), &m, &[empty], d(2026, 6, 1)).is_empty());
}

#[test]
fn r1_threshold_comes_from_the_rule_set() {
    let m = official("m1");
    let l = dues_ledger(C1, 2026, "m1", &[1, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    let as_of = d(2027, 1, 15);
    assert!(r1(&RuleSet::default(), &m, std::slice::from_ref(&l), as_of).is_empty());
    let mut two = RuleSet::default();
    two.r1.months = 2;
    let flags = r1(&two, &m, std::slice::from_ref(&l), as_of);
    assert_eq!(r1_months(&flags), vec![(2026, vec![2, 3])]);
    assert!(flags[0]
        .explanation_vi
        .starts_with("Không đóng đảng phí 2 tháng"));
    let mut off = two.clone();
    off.r1.enabled = false;
    assert!(r1(&off, &m, std::slice::from_ref(&l), as_of).is_empty());
    let mut official_only = two;
    official_only.r1.statuses = vec![Status::Official];
    let probationary = member("m1", C1, Status::Probationary);
    assert!(r1(&official_only, &probationary, &[l], as_of).is_empty());
}

// ---------------------------------------------------------------- statuses

/// A member who breaks every member rule at once.
fn delinquent(id: &str, status: Status) -> (MemberFacts, Ledger) {
    let mut m = member(id, C1, status);
    m.residence_ward = Some("w99".into());
    m.ratings.insert(2024, Rating::NotCompleted);
    m.ratings.insert(2025, Rating::NotCompleted);
    m.help = Some(HelpListEntry {
        start: d(2024, 6, 1),
        progress: vec![],
    });
    let mut l = Ledger::new(C1, 2025);
    for month in 1..=12 {
        l.meetings.push(meeting(
            d(2025, month, 5),
            MeetingKind::Regular,
            &[(id, absent(None, false))],
        ));
    }
    (m, l)
}

fn ward_cell() -> CellFacts {
    CellFacts {
        unit: C1.into(),
        admin_ward: Some("w01".into()),
    }
}

fn rules_hit(flags: &[Flag], id: &str) -> Vec<RuleId> {
    flags
        .iter()
        .filter(|f| f.subject == Subject::Member(id.into()))
        .map(|f| f.rule)
        .collect()
}

#[test]
fn official_and_probationary_members_are_covered_alike() {
    for status in [Status::Official, Status::Probationary] {
        let (m, l) = delinquent("m1", status);
        let flags = run(
            &RuleSet::default(),
            &[m],
            &[ward_cell()],
            &[l],
            d(2026, 3, 1),
        );
        assert_eq!(
            rules_hit(&flags, "m1"),
            vec![RuleId::R1, RuleId::R2, RuleId::R4, RuleId::R6, RuleId::R14],
            "{status:?}"
        );
    }
}

#[test]
fn departed_people_and_candidates_are_never_flagged() {
    for status in [
        Status::Deceased,
        Status::StruckOff,
        Status::Expelled,
        Status::Resigned,
        Status::Candidate,
    ] {
        let (m, l) = delinquent("m1", status);
        let flags = run(
            &RuleSet::default(),
            &[m],
            &[ward_cell()],
            &[l],
            d(2026, 3, 1),
        );
        assert!(rules_hit(&flags, "m1").is_empty(), "{status:?}: {flags:#?}");
    }
}

#[test]
fn exempted_members_are_left_out_of_r1_and_r2_only() {
    let (m, l) = delinquent("m1", Status::Exempted);
    let flags = run(
        &RuleSet::default(),
        std::slice::from_ref(&m),
        &[ward_cell()],
        std::slice::from_ref(&l),
        d(2026, 3, 1),
    );
    assert_eq!(
        rules_hit(&flags, "m1"),
        vec![RuleId::R4, RuleId::R6, RuleId::R14]
    );
    // Without R12's exclusion they would be.
    let mut no_r12 = RuleSet::default();
    no_r12.r12.excluded.clear();
    let flags = run(&no_r12, &[m], &[ward_cell()], &[l], d(2026, 3, 1));
    assert_eq!(rules_hit(&flags, "m1")[..2], [RuleId::R1, RuleId::R2]);
}

#[test]
fn vote_denominators_leave_exempted_members_out() {
    let members = vec![
        member("a", C1, Status::Official),
        member("b", C1, Status::Official),
        member("c", C1, Status::Exempted),
        member("d", C1, Status::Probationary),
        member("e", C1, Status::Deceased),
        member("f", C2, Status::Official),
    ];
    let rules = RuleSet::default();
    assert_eq!(vote_denominator(&rules, &members, C1), 2);
    let mut no_r12 = rules.clone();
    no_r12.r12.excluded.clear();
    no_r12.r12.voters.push(Status::Exempted);
    assert_eq!(vote_denominator(&no_r12, &members, C1), 3);
}

// ---------------------------------------------------------------- temporary attachment

fn attached(start: chrono::NaiveDate, end: chrono::NaiveDate) -> MemberFacts {
    let mut m = member("m1", C1, Status::TemporarilyAway);
    m.temporary = Some(Attachment {
        host_cell: HOST.into(),
        start,
        end,
        reason: AttachmentReason::Study,
    });
    m
}

#[test]
fn an_attached_member_paying_at_the_host_is_not_flagged_at_home() {
    let m = attached(d(2026, 1, 1), d(2026, 12, 31));
    let home = dues_ledger(C1, 2026, "someone-else", &[1, 2, 3]);
    let host = full_year(HOST, 2026, "m1");
    let as_of = d(2027, 1, 15);
    let flags = run(
        &RuleSet::default(),
        std::slice::from_ref(&m),
        &[cell(C1)],
        &[home.clone(), host],
        as_of,
    );
    assert!(rules_hit(&flags, "m1").is_empty(), "{flags:#?}");
    // Without the host's ledger nothing is known about those months: still no flag.
    let flags = run(
        &RuleSet::default(),
        std::slice::from_ref(&m),
        &[cell(C1)],
        std::slice::from_ref(&home),
        as_of,
    );
    assert!(rules_hit(&flags, "m1").is_empty(), "{flags:#?}");
    // With the host's ledger and no payment in it, the member is behind.
    let flags = run(
        &RuleSet::default(),
        &[m],
        &[cell(C1)],
        &[home, Ledger::new(HOST, 2026)],
        as_of,
    );
    assert_eq!(rules_hit(&flags, "m1"), vec![RuleId::R1]);
    assert_eq!(
        flags
            .iter()
            .find(|f| f.rule == RuleId::R1)
            .map(|f| f.unit.as_str()),
        Some(C1)
    );
}

#[test]
fn a_partial_attachment_merges_home_and_host_months() {
    let m = attached(d(2026, 3, 1), d(2026, 6, 30));
    let home = dues_ledger(C1, 2026, "m1", &[1, 2, 7, 8, 9, 10, 11, 12]);
    let host = dues_ledger(HOST, 2026, "m1", &[3, 4, 5, 6]);
    let as_of = d(2027, 1, 15);
    assert!(r1(&RuleSet::default(), &m, &[home.clone(), host], as_of).is_empty());
    assert!(r1(&RuleSet::default(), &m, std::slice::from_ref(&home), as_of).is_empty());
    let host_unpaid = dues_ledger(HOST, 2026, "m1", &[3]);
    assert_eq!(
        r1_months(&r1(&RuleSet::default(), &m, &[home, host_unpaid], as_of)),
        vec![(2026, vec![4, 5, 6])]
    );
}

#[test]
fn absences_recorded_at_the_host_count_at_home() {
    let m = attached(d(2026, 1, 1), d(2026, 12, 31));
    let mut host = full_year(HOST, 2026, "m1");
    for mt in host.meetings.iter_mut() {
        if mt.kind == MeetingKind::Regular && [2, 5, 9].contains(&chrono::Datelike::month(&mt.date))
        {
            mt.attendance
                .insert("m1".into(), absent(Some("không báo"), false));
        }
    }
    let flags = run(
        &RuleSet::default(),
        &[m],
        &[cell(C1)],
        &[host],
        d(2027, 1, 15),
    );
    let r2 = of(&flags, RuleId::R2);
    assert_eq!(r2.len(), 1, "{flags:#?}");
    assert_eq!(r2[0].unit, C1);
}

// ---------------------------------------------------------------- R2

/// A 2026 ledger with a regular meeting on the 5th of each month, `m1` absent without reason in
/// `absent_in` and present otherwise.
fn attendance_ledger(absent_in: &[u32]) -> Ledger {
    let mut l = Ledger::new(C1, 2026);
    for month in 1..=12 {
        let a = if absent_in.contains(&month) {
            absent(None, false)
        } else {
            Attendance::Present
        };
        l.meetings.push(meeting(
            d(2026, month, 5),
            MeetingKind::Regular,
            &[("m1", a)],
        ));
    }
    l
}

fn r2(rules: &RuleSet, ledgers: &[Ledger], as_of: chrono::NaiveDate) -> Vec<Flag> {
    of(
        &run(rules, &[official("m1")], &[cell(C1)], ledgers, as_of),
        RuleId::R2,
    )
}

#[test]
fn r2_fires_at_three_months_not_consecutive_and_names_the_meetings() {
    let flags = r2(
        &RuleSet::default(),
        &[attendance_ledger(&[1, 4, 7])],
        d(2027, 1, 15),
    );
    assert_eq!(flags.len(), 1);
    assert_eq!(
        flags[0].explanation_vi,
        "Vắng sinh hoạt chi bộ không có lý do được chấp nhận trong 3 tháng của năm 2026 (tháng 1, 4, 7; buổi sinh hoạt ngày 05/01/2026, 05/04/2026, 05/07/2026)"
    );
    assert_eq!(
        flags[0].explanation_en,
        "Absent from cell meetings without an accepted reason in 3 months of 2026 (months 1, 4, 7; meetings of 2026-01-05, 2026-04-05, 2026-07-05)"
    );
    assert_eq!(
        flags[0].evidence,
        Evidence::Attendance {
            year: 2026,
            months: vec![1, 4, 7],
            meetings: vec![d(2026, 1, 5), d(2026, 4, 5), d(2026, 7, 5)],
            threshold: 3,
            counted_through: d(2026, 12, 31),
        }
    );
    assert!(r2(
        &RuleSet::default(),
        &[attendance_ledger(&[1, 4])],
        d(2027, 1, 15)
    )
    .is_empty());
}

#[test]
fn r2_excuses_accepted_reasons_only() {
    let mut l = attendance_ledger(&[1, 4]);
    l.meetings[6]
        .attendance
        .insert("m1".into(), absent(Some("ốm"), true));
    assert!(r2(
        &RuleSet::default(),
        std::slice::from_ref(&l),
        d(2027, 1, 15)
    )
    .is_empty());
    l.meetings[6]
        .attendance
        .insert("m1".into(), absent(Some("bận việc riêng"), false));
    assert_eq!(r2(&RuleSet::default(), &[l], d(2027, 1, 15)).len(), 1);
}

#[test]
fn r2_a_month_with_a_meeting_attended_does_not_count() {
    let mut l = attendance_ledger(&[1, 4, 7]);
    l.meetings.push(meeting(
        d(2026, 7, 20),
        MeetingKind::Regular,
        &[("m1", Attendance::Present)],
    ));
    assert!(r2(&RuleSet::default(), &[l], d(2027, 1, 15)).is_empty());
}

#[test]
fn r2_counts_regular_meetings_unless_told_otherwise() {
    let mut l = attendance_ledger(&[]);
    for month in [3, 6, 9] {
        l.meetings.push(meeting(
            d(2026, month, 20),
            MeetingKind::Thematic,
            &[("m1", absent(None, false))],
        ));
    }
    assert!(r2(
        &RuleSet::default(),
        std::slice::from_ref(&l),
        d(2027, 1, 15)
    )
    .is_empty());
    let mut both = RuleSet::default();
    both.r2.meeting_kinds = vec![MeetingKind::Regular, MeetingKind::Thematic];
    // The regular meetings of those months were attended, so the months still do not count...
    assert!(r2(&both, std::slice::from_ref(&l), d(2027, 1, 15)).is_empty());
    // ...unless the member missed those too.
    for i in [2, 5, 8] {
        l.meetings[i]
            .attendance
            .insert("m1".into(), absent(None, false));
    }
    assert_eq!(r2(&both, &[l], d(2027, 1, 15)).len(), 1);
}

#[test]
fn r2_counts_each_calendar_year_and_only_ended_months() {
    let mut y2025 = Ledger::new(C1, 2025);
    for month in [11, 12] {
        y2025.meetings.push(meeting(
            d(2025, month, 5),
            MeetingKind::Regular,
            &[("m1", absent(None, false))],
        ));
    }
    let y2026 = attendance_ledger(&[1]);
    assert!(r2(&RuleSet::default(), &[y2025, y2026], d(2026, 3, 1)).is_empty());
    let three = attendance_ledger(&[1, 2, 3]);
    assert!(r2(
        &RuleSet::default(),
        std::slice::from_ref(&three),
        d(2026, 3, 31)
    )
    .is_empty());
    assert_eq!(r2(&RuleSet::default(), &[three], d(2026, 4, 1)).len(), 1);
}

// ---------------------------------------------------------------- R4

fn on_list(start: chrono::NaiveDate, progress: &[chrono::NaiveDate]) -> MemberFacts {
    let mut m = official("m1");
    m.help = Some(HelpListEntry {
        start,
        progress: progress
            .iter()
            .map(|p| (*p, "có tiến bộ".to_string()))
            .collect(),
    });
    m
}

fn r4(rules: &RuleSet, m: &MemberFacts, as_of: chrono::NaiveDate) -> Vec<Flag> {
    of(
        &run(rules, std::slice::from_ref(m), &[cell(C1)], &[], as_of),
        RuleId::R4,
    )
}

#[test]
fn r4_fires_twelve_months_after_the_start_without_progress() {
    let m = on_list(d(2025, 3, 1), &[]);
    assert!(r4(&RuleSet::default(), &m, d(2026, 2, 28)).is_empty());
    let flags = r4(&RuleSet::default(), &m, d(2026, 3, 1));
    assert_eq!(flags.len(), 1);
    assert_eq!(
        flags[0].explanation_vi,
        "Trong danh sách giáo dục, giúp đỡ từ 01/03/2025, không có tiến bộ trong 12 tháng (đến 01/03/2026)"
    );
    assert_eq!(
        flags[0].explanation_en,
        "On the educate-and-help list since 2025-03-01 with no progress in 12 months (to 2026-03-01)"
    );
    assert_eq!(flags[0].year, None);
}

#[test]
fn r4_progress_restarts_the_count_and_future_notes_are_ignored() {
    let m = on_list(d(2025, 3, 1), &[d(2025, 6, 10), d(2026, 9, 1)]);
    assert!(r4(&RuleSet::default(), &m, d(2026, 6, 9)).is_empty());
    let flags = r4(&RuleSet::default(), &m, d(2026, 6, 10));
    assert_eq!(flags.len(), 1);
    assert!(flags[0]
        .explanation_vi
        .contains("tiến bộ ghi nhận gần nhất ngày 10/06/2025"));
    assert_eq!(
        flags[0].evidence,
        Evidence::HelpList {
            start: d(2025, 3, 1),
            last_progress: Some(d(2025, 6, 10)),
            due: d(2026, 6, 10),
            months: 12,
        }
    );
    let mut six = RuleSet::default();
    six.r4.months = 6;
    assert_eq!(
        r4(&six, &on_list(d(2025, 3, 1), &[]), d(2025, 9, 1)).len(),
        1
    );
}

// ---------------------------------------------------------------- R6

fn rated(ratings: &[(i32, Rating)]) -> MemberFacts {
    let mut m = official("m1");
    m.ratings = ratings.iter().copied().collect();
    m
}

fn r6(rules: &RuleSet, m: &MemberFacts, as_of: chrono::NaiveDate) -> Vec<Flag> {
    of(
        &run(rules, std::slice::from_ref(m), &[cell(C1)], &[], as_of),
        RuleId::R6,
    )
}

#[test]
fn r6_needs_consecutive_years() {
    use Rating::*;
    let as_of = d(2026, 3, 1);
    let two = rated(&[(2023, Good), (2024, NotCompleted), (2025, NotCompleted)]);
    let flags = r6(&RuleSet::default(), &two, as_of);
    assert_eq!(flags.len(), 1);
    assert_eq!(
        flags[0].explanation_vi,
        "Xếp loại “không hoàn thành nhiệm vụ” 2 năm liền (2024, 2025)"
    );
    assert_eq!(
        flags[0].explanation_en,
        "Rated “not completed” 2 years running (2024, 2025)"
    );
    assert_eq!(flags[0].year, Some(2025));
    // One year only.
    assert!(r6(
        &RuleSet::default(),
        &rated(&[(2024, Completed), (2025, NotCompleted)]),
        as_of
    )
    .is_empty());
    // Two years with a gap between them.
    assert!(r6(
        &RuleSet::default(),
        &rated(&[(2023, NotCompleted), (2025, NotCompleted)]),
        as_of
    )
    .is_empty());
    // Two years with a better one in between.
    assert!(r6(
        &RuleSet::default(),
        &rated(&[(2023, NotCompleted), (2024, Good), (2025, NotCompleted)]),
        as_of
    )
    .is_empty());
    // A run followed by a better rating is over.
    let over = rated(&[
        (2024, NotCompleted),
        (2025, NotCompleted),
        (2026, Completed),
    ]);
    assert!(r6(&RuleSet::default(), &over, d(2027, 1, 10)).is_empty());
    // A rating for a year still to come is not read.
    let future = rated(&[
        (2024, NotCompleted),
        (2025, NotCompleted),
        (2027, Completed),
    ]);
    assert_eq!(r6(&RuleSet::default(), &future, d(2026, 3, 1)).len(), 1);
    // An old run with nothing since does not flag forever.
    let old = rated(&[(2020, NotCompleted), (2021, NotCompleted)]);
    assert!(r6(&RuleSet::default(), &old, as_of).is_empty());
}

#[test]
fn r6_years_come_from_the_rule_set() {
    use Rating::*;
    let as_of = d(2026, 3, 1);
    let mut three = RuleSet::default();
    three.r6.years = 3;
    let two = rated(&[(2024, NotCompleted), (2025, NotCompleted)]);
    assert!(r6(&three, &two, as_of).is_empty());
    let run3 = rated(&[
        (2023, NotCompleted),
        (2024, NotCompleted),
        (2025, NotCompleted),
    ]);
    let flags = r6(&three, &run3, as_of);
    assert_eq!(
        flags[0].evidence,
        Evidence::Ratings {
            years: vec![2023, 2024, 2025],
            threshold: 3
        }
    );
}

// ---------------------------------------------------------------- R11

fn r11(ledgers: &[Ledger], as_of: chrono::NaiveDate) -> Vec<Flag> {
    of(
        &run(&RuleSet::default(), &[], &[cell(C1)], ledgers, as_of),
        RuleId::R11,
    )
}

#[test]
fn r11_a_month_without_a_regular_meeting_and_a_quarter_without_a_thematic_one() {
    let full = full_year(C1, 2026, "m1");
    assert!(r11(std::slice::from_ref(&full), d(2027, 1, 15)).is_empty());
    let mut l = full;
    // Drop February's regular meeting and the first quarter's thematic one.
    l.meetings
        .retain(|m| m.date != d(2026, 2, 5) && m.date != d(2026, 3, 20));
    let flags = r11(std::slice::from_ref(&l), d(2027, 1, 15));
    assert_eq!(flags.len(), 1);
    let f = &flags[0];
    assert_eq!(f.subject, Subject::Cell(C1.into()));
    assert_eq!(f.unit, C1);
    assert_eq!(
        f.explanation_vi,
        "Chi bộ không sinh hoạt thường kỳ trong tháng 2 năm 2026; không sinh hoạt chuyên đề trong quý 1 năm 2026"
    );
    assert_eq!(
        f.explanation_en,
        "The cell held no regular meeting in month 2 of 2026; no thematic meeting in quarter 1 of 2026"
    );
    // Only the thematic one missing.
    let mut q = full_year(C1, 2026, "m1");
    q.meetings.retain(|m| m.date != d(2026, 9, 20));
    let flags = r11(&[q], d(2027, 1, 15));
    assert_eq!(
        flags[0].evidence,
        Evidence::Meetings {
            year: 2026,
            months_without_regular: vec![],
            quarters_without_thematic: vec![3],
            counted_through: d(2026, 12, 31),
        }
    );
    assert_eq!(
        flags[0].explanation_vi,
        "Chi bộ không sinh hoạt chuyên đề trong quý 3 năm 2026"
    );
}

#[test]
fn r11_counts_only_ended_periods_and_needs_the_ledger() {
    let mut l = Ledger::new(C1, 2026);
    l.meetings
        .push(meeting(d(2026, 1, 5), MeetingKind::Regular, &[]));
    l.meetings
        .push(meeting(d(2026, 2, 5), MeetingKind::Regular, &[]));
    // A thematic meeting is not a regular one.
    l.meetings
        .push(meeting(d(2026, 3, 5), MeetingKind::Thematic, &[]));
    // March and the first quarter are not over on 31 March.
    assert!(r11(std::slice::from_ref(&l), d(2026, 3, 31)).is_empty());
    let flags = r11(std::slice::from_ref(&l), d(2026, 4, 1));
    assert_eq!(
        flags[0].evidence,
        Evidence::Meetings {
            year: 2026,
            months_without_regular: vec![3],
            quarters_without_thematic: vec![],
            counted_through: d(2026, 3, 31),
        }
    );
    // Without the cell's ledger for the year, nothing is known.
    assert!(r11(&[], d(2027, 1, 15)).is_empty());
    // Another cell's meetings do not count for this one.
    let mut other = full_year(C2, 2026, "m1");
    other.cell = C2.into();
    assert_eq!(r11(&[Ledger::new(C1, 2026), other], d(2026, 2, 1)).len(), 1);
}

// ---------------------------------------------------------------- R14

fn r14(rules: &RuleSet, m: &MemberFacts, ward: Option<&str>) -> Vec<Flag> {
    let c = CellFacts {
        unit: C1.into(),
        admin_ward: ward.map(str::to_string),
    };
    of(
        &run(rules, std::slice::from_ref(m), &[c], &[], d(2026, 3, 1)),
        RuleId::R14,
    )
}

#[test]
fn r14_residence_in_another_ward_without_transfer() {
    let mut m = official("m1");
    m.residence_ward = Some("hn.p07".into());
    let flags = r14(&RuleSet::default(), &m, Some("hn.p01"));
    assert_eq!(flags.len(), 1);
    assert_eq!(
        flags[0].explanation_vi,
        "Cư trú tại hn.p07, khác phường/xã của chi bộ (hn.p01), chưa chuyển sinh hoạt đảng về nơi cư trú"
    );
    // Same ward.
    assert!(r14(&RuleSet::default(), &m, Some("hn.p07")).is_empty());
    // A workplace cell (no ward) or an unknown residence.
    assert!(r14(&RuleSet::default(), &m, None).is_empty());
    let mut unknown = m.clone();
    unknown.residence_ward = None;
    assert!(r14(&RuleSet::default(), &unknown, Some("hn.p01")).is_empty());
    // Transfer in progress.
    let mut moving = m.clone();
    moving.transfer_in_progress = true;
    assert!(r14(&RuleSet::default(), &moving, Some("hn.p01")).is_empty());
    // Attached to a host cell today.
    let mut away = m.clone();
    away.temporary = Some(Attachment {
        host_cell: HOST.into(),
        start: d(2026, 1, 1),
        end: d(2026, 6, 30),
        reason: AttachmentReason::Work,
    });
    assert!(r14(&RuleSet::default(), &away, Some("hn.p01")).is_empty());
    let mut counted = RuleSet::default();
    counted.r14.skip_while_attached = false;
    assert_eq!(r14(&counted, &away, Some("hn.p01")).len(), 1);
    // Disabled.
    let mut off = RuleSet::default();
    off.r14.enabled = false;
    assert!(r14(&off, &m, Some("hn.p01")).is_empty());
}

// ---------------------------------------------------------------- output, scope, rule set

#[test]
fn scope_filter_covers_the_unit_and_below_only() {
    let mk = |unit: &str| Flag {
        rule: RuleId::R11,
        subject: Subject::Cell(unit.into()),
        unit: unit.into(),
        year: Some(2026),
        explanation_vi: String::new(),
        explanation_en: String::new(),
        evidence: Evidence::Residence {
            residence_ward: String::new(),
            cell_ward: String::new(),
        },
    };
    let flags = vec![
        mk("hn.d01.w01.c01"),
        mk("hn.d011.w01.c01"),
        mk("hn.d01"),
        mk("hn.d02.w01.c01"),
    ];
    let kept: Vec<String> = filter_by_scope(flags.clone(), "hn.d01")
        .into_iter()
        .map(|f| f.unit)
        .collect();
    assert_eq!(kept, vec!["hn.d01.w01.c01", "hn.d01"]);
    assert_eq!(filter_by_scope(flags.clone(), "hn").len(), 4);
    assert!(filter_by_scope(flags, "hn.d01.w01.c01.x").is_empty());
}

#[test]
fn flags_sort_by_unit_then_subject_then_rule() {
    let (m1, mut l) = delinquent("m1", Status::Official);
    let mut m2 = member("m0", C2, Status::Official);
    m2.residence_ward = Some("w99".into());
    l.meetings
        .push(meeting(d(2025, 1, 5), MeetingKind::Regular, &[]));
    let cells = vec![
        ward_cell(),
        CellFacts {
            unit: C2.into(),
            admin_ward: Some("w01".into()),
        },
    ];
    let flags = run(&RuleSet::default(), &[m2, m1], &cells, &[l], d(2026, 3, 1));
    let mut sorted = flags.clone();
    sorted.sort();
    assert_eq!(flags, sorted);
    let order: Vec<(String, RuleId)> = flags.iter().map(|f| (f.unit.clone(), f.rule)).collect();
    assert_eq!(
        order,
        vec![
            (C1.to_string(), RuleId::R11),
            (C1.to_string(), RuleId::R1),
            (C1.to_string(), RuleId::R2),
            (C1.to_string(), RuleId::R4),
            (C1.to_string(), RuleId::R6),
            (C1.to_string(), RuleId::R14),
            (C2.to_string(), RuleId::R14),
        ]
    );
}

#[test]
fn flags_round_trip_through_json() {
    let (m, l) = delinquent("m1", Status::Official);
    let flags = run(
        &RuleSet::default(),
        &[m],
        &[ward_cell()],
        &[l],
        d(2026, 3, 1),
    );
    let text = serde_json::to_string(&flags).expect("serialise");
    let back: Vec<Flag> = serde_json::from_str(&text).expect("parse");
    assert_eq!(back, flags);
}

#[test]
fn the_rule_set_file_round_trips_and_overrides_only_what_it_says() {
    let default = RuleSet::default();
    let text = default.to_toml().expect("serialise");
    assert!(
        text.contains(
            "statuses = [\"probationary\", \"official\", \"exempted\", \"temporarily_away\"]"
        ),
        "{text}"
    );
    assert_eq!(RuleSet::from_toml(&text), Ok(default.clone()));
    let partial =
        RuleSet::from_toml("effective = \"2026-07-01\"\n[r1]\nmonths = 2\n").expect("valid");
    assert_eq!(partial.r1.months, 2);
    assert_eq!(partial.effective, d(2026, 7, 1));
    assert_eq!(partial.r2, default.r2);
    // Labels are read too.
    let labels =
        RuleSet::from_toml("[r12]\nexcluded = [\"Miễn sinh hoạt\", \"dự bị\"]\n").expect("valid");
    assert_eq!(
        labels.r12.excluded,
        vec![Status::Exempted, Status::Probationary]
    );
}

#[test]
fn a_bad_rule_set_is_refused() {
    assert!(matches!(
        RuleSet::from_toml("[r1]\nmonhts = 2\n"),
        Err(RuleSetError::Toml(_))
    ));
    assert!(matches!(
        RuleSet::from_toml("[r1]\nstatuses = [\"official\", \"emperor\"]\n"),
        Err(RuleSetError::Toml(_))
    ));
    assert_eq!(
        RuleSet::from_toml("[r1]\nmonths = 0\n"),
        Err(RuleSetError::OutOfRange {
            key: "r1.months",
            value: 0,
            min: 1,
            max: 12
        })
    );
    let mut zero = RuleSet::default();
    zero.r11.quarters = 5;
    assert!(evaluate(&zero, &vn(), &[], &[], &[], d(2026, 3, 1)).is_err());
    let later = RuleSet::from_toml("effective = \"2026-07-01\"\n").expect("valid");
    assert_eq!(
        evaluate(&later, &vn(), &[], &[], &[], d(2026, 3, 1)),
        Err(RuleSetError::NotYetEffective {
            effective: d(2026, 7, 1),
            as_of: d(2026, 3, 1)
        })
    );
}

#[test]
fn the_rule_set_shown_in_rules_md_is_the_default() {
    // docs/RULES.md §5 shows the whole default file; keep it true.
    let doc = include_str!("../../../docs/RULES.md");
    let block = doc
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a toml block in RULES.md");
    assert_eq!(RuleSet::from_toml(block), Ok(RuleSet::default()));
}
