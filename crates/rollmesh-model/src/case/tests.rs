use super::*;

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn key(kind: CaseKind, opened: &str) -> CaseKey {
    CaseKey::new(kind, day(opened))
}

fn vote(yes: u32, no: u32, eligible: u32) -> Vote {
    Vote { yes, no, eligible }
}

#[test]
fn two_thirds_counts_the_entitled_members_not_those_present() {
    // Exactly two thirds carries; one vote fewer does not.
    assert!(vote(10, 5, 15).carried(Share::TwoThirds));
    assert!(
        !vote(9, 0, 15).carried(Share::TwoThirds),
        "9 of 15 is under 2/3 even with no vote against"
    );
    // 2/3 of 16 is 10.67: 11 are needed.
    assert!(!vote(10, 0, 16).carried(Share::TwoThirds));
    assert!(vote(11, 0, 16).carried(Share::TwoThirds));
    assert_eq!(Vote::needed(15, Share::TwoThirds), 10);
    assert_eq!(Vote::needed(16, Share::TwoThirds), 11);
    assert_eq!(Vote::needed(3, Share::TwoThirds), 2);
    // A majority is more than half.
    assert!(!vote(5, 5, 10).carried(Share::Majority));
    assert!(vote(6, 4, 10).carried(Share::Majority));
    assert_eq!(Vote::needed(10, Share::Majority), 6);
    assert!(
        !vote(0, 0, 0).carried(Share::Majority),
        "nobody entitled: nothing carries"
    );
    for eligible in 1..60 {
        for share in [Share::TwoThirds, Share::Majority] {
            let n = Vote::needed(eligible, share);
            assert!(vote(n, 0, eligible).carried(share), "{eligible} {share:?}");
            assert!(
                !vote(n - 1, 0, eligible).carried(share),
                "{eligible} {share:?}"
            );
        }
    }
}

fn open_admission() -> StepRecord {
    let mut r = StepRecord::new(
        key(CaseKind::Admission, "2026-01-10"),
        Step::Open,
        day("2026-01-10"),
        "hn.d01.w01.c01",
    );
    r.sponsors = vec![
        MemberId::new(1_700_000_000_000, [1; 10]).to_string(),
        MemberId::new(1_700_000_000_000, [2; 10]).to_string(),
    ];
    r.certificate = Some("Giấy chứng nhận số 12/2025".into());
    r
}

#[test]
fn a_step_reads_back_only_in_its_canonical_form() {
    let r = open_admission();
    let text = r.detail();
    assert_eq!(StepRecord::parse(&text), Ok(r.clone()));
    // The same data spelt differently is not a stored step.
    let spaced = text.replace(",\"step\"", ", \"step\"");
    assert!(matches!(
        StepRecord::parse(&spaced),
        Err(CaseError::Malformed(_))
    ));
    let extra = text.replacen('{', "{\"x\":1,", 1);
    assert!(
        StepRecord::parse(&extra).is_err(),
        "unknown fields are refused"
    );
    // A step the kind does not have.
    let mut wrong = r.clone();
    wrong.step = Step::Propose;
    wrong.sponsors.clear();
    assert!(matches!(wrong.check(), Err(CaseError::NoSuchStep { .. })));
    // One sponsor is not two.
    let mut one = r.clone();
    one.sponsors.pop();
    assert!(one.check().is_err());
    // A vote step needs its counts, and cannot claim more votes than voters.
    let mut v = StepRecord::new(r.case, Step::Vote, day("2026-02-01"), "hn.d01.w01.c01");
    v.age = Some(30);
    assert!(v.check().is_err());
    v.vote = Some(vote(10, 6, 15));
    assert!(v.check().is_err());
    v.vote = Some(vote(10, 5, 15));
    assert_eq!(v.check(), Ok(()));
    // Hidden characters in a note are refused.
    let mut n = v.clone();
    n.note = Some("ok\u{202E}".into());
    assert!(n.check().is_err());
}

#[test]
fn a_case_is_open_done_or_rejected_by_its_steps() {
    let open = open_admission();
    let c = |steps: Vec<StepRecord>| cases_of(steps).pop().expect("a case");
    assert_eq!(
        c(vec![open.clone()]).state(),
        CaseState::Open { next: Step::Vote }
    );
    let mut v = StepRecord::new(open.case, Step::Vote, day("2026-02-01"), "hn.d01.w01.c01");
    v.age = Some(30);
    v.vote = Some(vote(9, 0, 15));
    assert_eq!(
        c(vec![open.clone(), v.clone()]).state(),
        CaseState::Rejected { at: Step::Vote }
    );
    v.vote = Some(vote(10, 0, 15));
    let resolution = StepRecord::new(open.case, Step::Resolution, day("2026-02-10"), "hn.d01.w01");
    let case = c(vec![resolution.clone(), open.clone(), v.clone()]);
    assert_eq!(
        case.state(),
        CaseState::Open {
            next: Step::Decision
        }
    );
    assert_eq!(
        case.steps[0].step,
        Step::Open,
        "steps sort in the kind's order"
    );
    // A second record of a step is a conflict, not a second step.
    let mut again = resolution.clone();
    again.number = Some("99".into());
    let case = c(vec![open, v, resolution, again]);
    assert_eq!(case.conflicts.len(), 1);
}

#[test]
fn competence_reads_the_first_level_the_tree_has() {
    let four: Vec<String> = ["city", "district", "ward", "cell"]
        .map(String::from)
        .to_vec();
    let three: Vec<String> = ["city", "ward", "cell"].map(String::from).to_vec();
    let wanted: Vec<String> = ["district", "ward"].map(String::from).to_vec();
    assert_eq!(competent_depth(&four, &wanted), Some(1));
    assert_eq!(competent_depth(&three, &wanted), Some(1));
    assert_eq!(competent_depth(&three, &["district".to_string()]), None);
    let unit = |s: &str| crate::UnitPath::parse(s).expect("unit");
    let cell = unit("hn.d01.w01.c01");
    assert!(entitled(&unit("hn.d01"), &cell, 1));
    assert!(
        entitled(&unit("hn"), &cell, 1),
        "a unit above the competent level may decide"
    );
    assert!(
        !entitled(&unit("hn.d01.w01"), &cell, 1),
        "a ward is below the district"
    );
    assert!(
        !entitled(&unit("hn.d02"), &cell, 1),
        "another district does not cover the cell"
    );
    assert!(entitled(&cell, &cell, 3));
}

#[test]
fn ages_count_full_years() {
    assert_eq!(age_on(day("2000-03-01"), day("2018-02-28")), 17);
    assert_eq!(age_on(day("2000-03-01"), day("2018-03-01")), 18);
    assert_eq!(age_on(day("1966-01-01"), day("2026-12-31")), 60);
}

#[test]
fn case_keys_have_one_spelling() {
    let k = key(CaseKind::Discipline, "2026-01-10");
    assert_eq!(k.to_string(), "discipline/2026-01-10");
    assert_eq!("discipline/2026-01-10".parse(), Ok(k));
    let second = CaseKey { n: 2, ..k };
    assert_eq!(second.to_string(), "discipline/2026-01-10-2");
    assert_eq!("discipline/2026-01-10-2".parse(), Ok(second));
    for bad in [
        "discipline/2026-01-10-1",
        "discipline/2026-01-10-02",
        "discipline/2026-01-10-10",
        "discipline/2026-1-10",
        "Discipline/2026-01-10",
        "kỷ luật/2026-01-10",
    ] {
        assert!(bad.parse::<CaseKey>().is_err(), "{bad}");
    }
}

#[test]
fn a_withdrawn_case_is_closed_with_its_reason() {
    let open = open_admission();
    let mut w = StepRecord::new(open.case, Step::Withdraw, day("2026-02-01"), "hn.d01.w01");
    assert!(w.check().is_err(), "a reason is required");
    w.note = Some("Không đủ điều kiện".into());
    assert_eq!(w.check(), Ok(()));
    let case = cases_of(vec![open, w]).pop().expect("case");
    assert_eq!(case.state(), CaseState::Withdrawn);
}
