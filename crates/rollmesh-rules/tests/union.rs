//! "One set of rules evaluated at every node": for random members, cells and ledgers over a small tree,
//! the flags evaluated at a unit equal the union of those evaluated at each of its children (each with
//! its own members and cells, all ledgers available), equal the parent's flags filtered to the unit, and
//! do not depend on the order the facts come in.

mod support;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use proptest::prelude::*;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rollmesh_model::Status;
use rollmesh_rules::{
    covers, evaluate, filter_by_scope, Attachment, AttachmentReason, Attendance, CellFacts, Dues,
    Flag, HelpListEntry, Ledger, Meeting, MeetingKind, MemberFacts, Rating, RuleSet,
};
use support::{d, vn};

const CELLS: &[&str] = &[
    "hn.d1.w1.c1",
    "hn.d1.w1.c2",
    "hn.d1.w2.c1",
    "hn.d2.w1.c1",
    "hn.d2.w1.c2",
];
const WARDS: &[&str] = &["p1", "p2", "p3"];
const STATUSES: &[Status] = &[
    Status::Official,
    Status::Official,
    Status::Probationary,
    Status::Exempted,
    Status::TemporarilyAway,
    Status::Deceased,
    Status::StruckOff,
];
const MEMBERS: usize = 10;

fn day(offset: u32) -> NaiveDate {
    // Days from 1 January 2025.
    d(2025, 1, 1) + chrono::Duration::days(i64::from(offset))
}

fn id(i: usize) -> String {
    format!("m{i}")
}

prop_compose! {
    fn member_facts()(
        cell in 0..CELLS.len(),
        status in 0..STATUSES.len(),
        admitted in proptest::option::weighted(0.3, 0u32..700),
        residence in proptest::option::of(0..WARDS.len()),
        transfer in proptest::bool::weighted(0.2),
        temporary in proptest::option::weighted(0.3, (0..CELLS.len(), 0u32..600, 30u32..400, any::<bool>())),
        ratings in proptest::collection::btree_map(2022i32..=2026, 0usize..6, 0..5),
        help in proptest::option::weighted(0.3, (0u32..500, proptest::collection::vec(0u32..800, 0..3))),
    ) -> (usize, usize, Option<u32>, Option<usize>, bool, Option<(usize, u32, u32, bool)>, BTreeMap<i32, usize>, Option<(u32, Vec<u32>)>) {
        (cell, status, admitted, residence, transfer, temporary, ratings, help)
    }
}

type RawMember = (
    usize,
    usize,
    Option<u32>,
    Option<usize>,
    bool,
    Option<(usize, u32, u32, bool)>,
    BTreeMap<i32, usize>,
    Option<(u32, Vec<u32>)>,
);

fn build_member(i: usize, raw: &RawMember) -> MemberFacts {
    let (cell, status, admitted, residence, transfer, temporary, ratings, help) = raw;
    let ratings_all = [
        Rating::Excellent,
        Rating::Good,
        Rating::Completed,
        Rating::NotCompleted,
    ];
    let mut m = MemberFacts::new(&id(i), CELLS[*cell], STATUSES[*status]);
    m.admitted = admitted.map(day);
    m.residence_ward = residence.map(|w| WARDS[w].to_string());
    m.transfer_in_progress = *transfer;
    m.temporary = temporary.map(|(host, start, len, study)| Attachment {
        host_cell: CELLS[host].to_string(),
        start: day(start),
        end: day(start + len),
        reason: if study {
            AttachmentReason::Study
        } else {
            AttachmentReason::Work
        },
    });
    // Half "not completed", so that runs happen.
    m.ratings = ratings
        .iter()
        .map(|(y, r)| (*y, ratings_all[(*r).min(3)]))
        .collect();
    m.help = help.as_ref().map(|(start, progress)| HelpListEntry {
        start: day(*start),
        progress: progress
            .iter()
            .map(|p| (day(*p), "tiến bộ".to_string()))
            .collect(),
    });
    // Every other admitted member came in through a recorded admission case, at various stages, so
    // that R8 and R9 are exercised.
    if let Some(a) = admitted.filter(|_| i.is_multiple_of(2)) {
        m.cases = admission_case(&m.cell.clone(), a, i);
    }
    // A member with a transfer in progress has a transfer case opened some day, for R10.
    if *transfer {
        let to = CELLS[(*cell + 1) % CELLS.len()];
        m.cases
            .extend(transfer_case(&m.cell.clone(), to, (i as u32 * 37) % 600));
    }
    m
}

/// An official transfer from `cell` to `to` opened `a` days into 2025, not decided yet.
fn transfer_case(cell: &str, to: &str, a: u32) -> Vec<rollmesh_model::case::Case> {
    use rollmesh_model::case::{cases_of, CaseKey, CaseKind, Step, StepRecord};
    let key = CaseKey::new(CaseKind::Transfer, day(a));
    let mut open = StepRecord::new(key, Step::Open, day(a), cell);
    open.from = Some(cell.to_string());
    open.to = Some(to.to_string());
    cases_of(vec![open])
}

/// An admission opened `a` days into 2025, taken as far as `i` says.
fn admission_case(cell: &str, a: u32, i: usize) -> Vec<rollmesh_model::case::Case> {
    use rollmesh_model::case::{cases_of, CaseKey, CaseKind, Step, StepRecord, Vote};
    let key = CaseKey::new(CaseKind::Admission, day(a));
    let at = |s: Step, off: u32| StepRecord::new(key, s, day(a + off), cell);
    let mut open = at(Step::Open, 0);
    open.sponsors = vec!["m0".into(), "m1".into()];
    let mut vote = at(Step::Vote, 10);
    vote.vote = Some(Vote {
        yes: 3,
        no: 0,
        eligible: 3,
    });
    vote.age = Some(30);
    let mut steps = vec![open, vote, at(Step::Resolution, 20)];
    if i.is_multiple_of(4) {
        steps.push(at(Step::Decision, 100));
        if i.is_multiple_of(8) {
            steps.push(at(Step::Ceremony, 120));
        }
    }
    cases_of(steps)
}

/// One ledger entry kind, drawn as a small number so that proptest can shrink it.
fn dues_of(kind: u8, year: i32, month: u32) -> Option<Dues> {
    match kind {
        0..=2 => Some(Dues::Paid {
            amount: 5_000,
            date: d(year, month, 15),
        }),
        3 => Some(Dues::Unpaid {
            reason: Some("ốm".into()),
            accepted: true,
        }),
        4 => Some(Dues::Unpaid {
            reason: Some("bận".into()),
            accepted: false,
        }),
        5 => Some(Dues::Unpaid {
            reason: None,
            accepted: false,
        }),
        _ => None,
    }
}

fn attendance_of(kind: u8) -> Option<Attendance> {
    match kind {
        0..=3 => Some(Attendance::Present),
        4 => Some(Attendance::Absent {
            reason: Some("ốm".into()),
            accepted: true,
        }),
        5 => Some(Attendance::Absent {
            reason: None,
            accepted: false,
        }),
        _ => None,
    }
}

/// A ledger: which (cell, year) it is, then for each month whether each meeting was held and, per
/// member, a dues kind and an attendance kind.
#[derive(Clone, Debug)]
struct RawLedger {
    cell: usize,
    year: i32,
    regular: Vec<bool>,
    thematic: Vec<bool>,
    dues: Vec<Vec<u8>>,
    attendance: Vec<Vec<u8>>,
}

fn raw_ledger() -> impl Strategy<Value = RawLedger> {
    (
        0..CELLS.len(),
        2025i32..=2026,
        proptest::collection::vec(proptest::bool::weighted(0.85), 12),
        proptest::collection::vec(proptest::bool::weighted(0.7), 4),
        proptest::collection::vec(proptest::collection::vec(0u8..8, 12), MEMBERS),
        proptest::collection::vec(proptest::collection::vec(0u8..8, 12), MEMBERS),
    )
        .prop_map(
            |(cell, year, regular, thematic, dues, attendance)| RawLedger {
                cell,
                year,
                regular,
                thematic,
                dues,
                attendance,
            },
        )
}

fn build_ledger(raw: &RawLedger) -> Ledger {
    let mut l = Ledger::new(CELLS[raw.cell], raw.year);
    for month in 1..=12u32 {
        let mi = (month - 1) as usize;
        let mut attendance = BTreeMap::new();
        for (member, kinds) in raw.attendance.iter().enumerate() {
            if let Some(a) = attendance_of(kinds[mi]) {
                attendance.insert(id(member), a);
            }
            if let Some(dues) = dues_of(raw.dues[member][mi], raw.year, month) {
                l.dues.entry(id(member)).or_default().insert(month, dues);
            }
        }
        if raw.regular[mi] {
            l.meetings.push(Meeting {
                date: d(raw.year, month, 5),
                kind: MeetingKind::Regular,
                topic: String::new(),
                attendance: attendance.clone(),
            });
        }
        if month % 3 == 0 && raw.thematic[mi / 3] {
            l.meetings.push(Meeting {
                date: d(raw.year, month, 25),
                kind: MeetingKind::Thematic,
                topic: "chuyên đề".into(),
                attendance,
            });
        }
    }
    l
}

prop_compose! {
    fn rule_set()(
        r1 in 1u32..=4,
        r2 in 1u32..=4,
        grace in 0u32..=3,
        lookback in 0u32..=2,
        r4 in prop_oneof![Just(12u32), 1u32..=24],
    ) -> RuleSet {
        let mut rules = RuleSet::default();
        rules.r1.months = r1;
        rules.r2.months = r2;
        rules.counting.grace_working_days = grace;
        rules.counting.lookback_years = lookback;
        rules.r4.months = r4;
        rules
    }
}

#[derive(Clone, Debug)]
struct World {
    members: Vec<MemberFacts>,
    cells: Vec<CellFacts>,
    ledgers: Vec<Ledger>,
    rules: RuleSet,
    as_of: NaiveDate,
}

fn world() -> impl Strategy<Value = World> {
    (
        proptest::collection::btree_map(0..MEMBERS, member_facts(), 0..=MEMBERS),
        proptest::collection::vec(proptest::option::weighted(0.7, 0..WARDS.len()), CELLS.len()),
        proptest::collection::vec(raw_ledger(), 0..6),
        rule_set(),
        0u32..800,
    )
        .prop_map(|(members, wards, ledgers, rules, as_of)| World {
            members: members
                .iter()
                .map(|(i, raw)| build_member(*i, raw))
                .collect(),
            cells: CELLS
                .iter()
                .zip(wards)
                .map(|(unit, w)| CellFacts {
                    unit: unit.to_string(),
                    admin_ward: w.map(|w| WARDS[w].to_string()),
                })
                .collect(),
            ledgers: ledgers.iter().map(build_ledger).collect(),
            rules,
            // From 2 January 2025 to early 2027, so that the rule set (effective 2024) applies.
            as_of: day(as_of + 1),
        })
}

impl World {
    /// Evaluates with only the members and cells `scope` covers, and every ledger.
    fn at(&self, scope: &str) -> Vec<Flag> {
        let members: Vec<MemberFacts> = self
            .members
            .iter()
            .filter(|m| covers(scope, &m.cell))
            .cloned()
            .collect();
        let cells: Vec<CellFacts> = self
            .cells
            .iter()
            .filter(|c| covers(scope, &c.unit))
            .cloned()
            .collect();
        evaluate(
            &self.rules,
            &vn(),
            &members,
            &cells,
            &self.ledgers,
            self.as_of,
        )
        .expect("valid rules")
    }
}

/// The tree above the cells: each unit and its children.
const TREE: &[(&str, &[&str])] = &[
    ("hn", &["hn.d1", "hn.d2"]),
    ("hn.d1", &["hn.d1.w1", "hn.d1.w2"]),
    ("hn.d2", &["hn.d2.w1"]),
    ("hn.d1.w1", &["hn.d1.w1.c1", "hn.d1.w1.c2"]),
    ("hn.d1.w2", &["hn.d1.w2.c1"]),
    ("hn.d2.w1", &["hn.d2.w1.c1", "hn.d2.w1.c2"]),
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn flags_at_a_parent_are_the_union_of_its_childrens(w in world()) {
        let root = w.at("hn");
        for (parent, children) in TREE {
            let at_parent = w.at(parent);
            let mut union: Vec<Flag> = children.iter().flat_map(|c| w.at(c)).collect();
            union.sort();
            union.dedup();
            prop_assert_eq!(&at_parent, &union, "{} vs its children", parent);
            prop_assert_eq!(&at_parent, &filter_by_scope(root.clone(), parent), "{} vs the root", parent);
        }
    }

    #[test]
    fn flags_do_not_depend_on_the_order_of_the_facts(w in world(), seed in any::<u64>()) {
        let before = w.at("hn");
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut shuffled = w.clone();
        shuffled.members.shuffle(&mut rng);
        shuffled.cells.shuffle(&mut rng);
        shuffled.ledgers.shuffle(&mut rng);
        for l in shuffled.ledgers.iter_mut() {
            l.meetings.shuffle(&mut rng);
        }
        prop_assert_eq!(before, shuffled.at("hn"));
    }
}

#[test]
fn random_worlds_do_raise_flags() {
    // The union property is only worth something if the worlds it runs on produce flags of every rule.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..200 {
        let w = world().new_tree(&mut runner).expect("strategy").current();
        seen.extend(w.at("hn").into_iter().map(|f| f.rule));
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        rollmesh_rules::RuleId::ALL
    );
}
