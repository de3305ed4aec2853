//! Cases that travel the tree: an admission, an exemption, a strike-off, a discipline. A case lives in
//! the member's dossier as a series of **steps**, each a `case_step` event whose detail is one canonical
//! JSON object ([`StepRecord`]): which case, which step, the day, the unit that took it and the data the
//! step needs (a vote's counts, a decision's number, the sponsors, the form of a discipline).
//!
//! Keeping the steps in the dossier means a case goes exactly where its member goes — up the member's
//! chain to the city, down to the cell, and with the member when they move — and that the decision and
//! the status it sets are one signed change. Steps are written once and never altered or removed: a
//! receiving node reads the events a change creates from its operations
//! ([`crate::dossier::dossier_write`]) and checks every new step against the unit entitled to take it
//! ([`Need`]), whatever else the change does.
//!
//! The rest is derived: the order of steps ([`CaseKind::steps`]), whether a vote carried ([`Vote`]),
//! whether a case is open, done or rejected ([`Case::state`]).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::member::{keyed_enum, Event, EventKind, MemberId};
use crate::text;

keyed_enum!(
    /// What a case decides.
    #[serde(rename_all = "snake_case")]
    CaseKind {
        /// Kết nạp đảng viên, through probation to confirmation.
        Admission = "admission", "Kết nạp đảng viên", "Admission";
        /// Miễn công tác và sinh hoạt đảng.
        Exemption = "exemption", "Miễn sinh hoạt", "Exemption from activity";
        /// Xóa tên.
        StrikeOff = "strike_off", "Xóa tên", "Strike-off";
        /// Kỷ luật.
        Discipline = "discipline", "Kỷ luật", "Discipline";
        /// Chuyển sinh hoạt đảng chính thức to another cell.
        Transfer = "transfer", "Chuyển sinh hoạt chính thức", "Official transfer";
    }
);

keyed_enum!(
    /// One step of a case.
    #[serde(rename_all = "snake_case")]
    Step {
        /// The cell opens the case (for an admission: course certificate, application and CV checked,
        /// two sponsors).
        Open = "open", "Mở hồ sơ", "Opened";
        /// The cell's vote on the admission.
        Vote = "vote", "Chi bộ biểu quyết", "Cell vote";
        /// The grassroots committee's resolution (for an exemption: the cell's resolution).
        Resolution = "resolution", "Nghị quyết", "Resolution";
        /// The competent committee extends the time to decide an admission.
        Extend = "extend", "Gia hạn", "Extension";
        /// The competent committee's decision.
        Decision = "decision", "Quyết định", "Decision";
        /// The admission ceremony; probation starts.
        Ceremony = "ceremony", "Lễ kết nạp", "Ceremony";
        /// The cell's review at the end of probation, with its vote.
        Review = "review", "Chi bộ xét công nhận", "Cell review";
        /// The confirmation decision: the member becomes official.
        Confirm = "confirm", "Quyết định công nhận chính thức", "Confirmation";
        /// The cell's proposal, with its vote (strike-off, discipline).
        Propose = "propose", "Chi bộ đề nghị", "Cell proposal";
        /// A transfer decided by the lowest unit covering both cells, which moves the member.
        Send = "send", "Giới thiệu chuyển sinh hoạt", "Transfer issued";
        /// The new cell takes the member in.
        Receive = "receive", "Chi bộ mới tiếp nhận", "Received";
        /// The case is closed without going further (withdrawn, not approved), with the reason.
        Withdraw = "withdraw", "Rút, đóng hồ sơ", "Withdrawn";
    }
);

keyed_enum!(
    /// The forms of discipline, lightest first.
    #[serde(rename_all = "snake_case")]
    DisciplineForm {
        /// Khiển trách.
        Reprimand = "reprimand", "Khiển trách", "Reprimand";
        /// Cảnh cáo.
        Warning = "warning", "Cảnh cáo", "Warning";
        /// Cách chức.
        Removal = "removal", "Cách chức", "Removal from post";
        /// Khai trừ.
        Expulsion = "expulsion", "Khai trừ", "Expulsion";
    }
);

/// Who may take a step: any unit covering the case's cell (the cell itself, or an ancestor keeping the
/// books of a cell without a clerk), or a unit at or above the level the organisation's rule set names
/// for this decision (`[cases]` in the rule set, docs/RULES.md), by its key there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// The cell, or a unit above it.
    Cell,
    /// The level the rule set names under this key, or a unit above it.
    Level(&'static str),
    /// A unit covering both the cell a transfer leaves and the one it goes to (their lowest common
    /// ancestor, or above).
    Both,
}

/// The vote share a step needs to carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Share {
    /// At least two thirds of those entitled to vote.
    TwoThirds,
    /// More than half of those entitled to vote.
    Majority,
}

impl CaseKind {
    /// The steps of this kind of case, in order. ([`Step::Extend`] is optional, between the
    /// resolution and the decision of an admission.)
    pub fn steps(self) -> &'static [Step] {
        match self {
            CaseKind::Admission => &[
                Step::Open,
                Step::Vote,
                Step::Resolution,
                Step::Decision,
                Step::Ceremony,
                Step::Review,
                Step::Confirm,
            ],
            CaseKind::Exemption => &[Step::Resolution],
            CaseKind::StrikeOff | CaseKind::Discipline => &[Step::Propose, Step::Decision],
            CaseKind::Transfer => &[Step::Open, Step::Send, Step::Receive],
        }
    }

    /// Whether `step` belongs to this kind of case.
    pub fn has(self, step: Step) -> bool {
        self.steps().contains(&step)
            || (self == CaseKind::Admission && step == Step::Extend)
            || step == Step::Withdraw
    }
}

/// A vote's counts: for, against, and how many were entitled to vote (the cell's official members,
/// exempted members excluded, members attached from elsewhere not counted).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    /// Votes for.
    pub yes: u32,
    /// Votes against.
    pub no: u32,
    /// Members entitled to vote.
    pub eligible: u32,
}

impl Vote {
    /// Whether the vote carried with `share` of the entitled members (not of those present).
    pub fn carried(&self, share: Share) -> bool {
        let (yes, all) = (u64::from(self.yes), u64::from(self.eligible));
        all > 0
            && match share {
                Share::TwoThirds => 3 * yes >= 2 * all,
                Share::Majority => 2 * yes > all,
            }
    }

    /// The fewest votes for that carry with `share` of `eligible`.
    pub fn needed(eligible: u32, share: Share) -> u32 {
        let all = u64::from(eligible);
        let n = match share {
            Share::TwoThirds => (2 * all).div_ceil(3),
            Share::Majority => all / 2 + 1,
        };
        u32::try_from(n).unwrap_or(u32::MAX).max(1)
    }
}

/// A case's name inside its dossier: its kind, the day it was opened and, for a second (third…) case
/// of the same kind opened the same day, its number — shown `admission/2026-01-10`,
/// `discipline/2026-01-10-2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CaseKey {
    /// What it decides.
    pub kind: CaseKind,
    /// The day of its first step.
    pub opened: NaiveDate,
    /// 1 for the first case of this kind opened that day, 2 for the second… (at most 9).
    pub n: u8,
}

impl CaseKey {
    /// The first case of `kind` opened on `opened`.
    pub fn new(kind: CaseKind, opened: NaiveDate) -> CaseKey {
        CaseKey { kind, opened, n: 1 }
    }
}

impl fmt::Display for CaseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind.key(), self.opened.format("%Y-%m-%d"))?;
        if self.n != 1 {
            write!(f, "-{}", self.n)?;
        }
        Ok(())
    }
}

/// A string is not a case key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not a case (like admission/2026-01-10)")]
pub struct BadCaseKey(pub String);

impl FromStr for CaseKey {
    type Err = BadCaseKey;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadCaseKey(s.to_string());
        let (kind, rest) = s.split_once('/').ok_or_else(bad)?;
        let kind = CaseKind::ALL
            .iter()
            .copied()
            .find(|k| k.key() == kind)
            .ok_or_else(bad)?;
        let (day, n) = match rest.len() {
            10 => (rest, 1),
            12 if rest.as_bytes()[10] == b'-' => {
                (&rest[..10], rest[11..].parse::<u8>().map_err(|_| bad())?)
            }
            _ => return Err(bad()),
        };
        let opened = NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| bad())?;
        let key = CaseKey { kind, opened, n };
        // One case, one spelling: `-2` to `-9` only, never `-1` or `-02`.
        ((1..=9).contains(&n) && key.to_string() == s)
            .then_some(key)
            .ok_or_else(bad)
    }
}

impl Serialize for CaseKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CaseKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Why a step is not well-formed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CaseError {
    /// The event's detail is not a step record, or not in its one canonical form.
    #[error("a case step is not well-formed: {0}")]
    Malformed(String),
    /// The step does not belong to the case's kind.
    #[error("a {kind} case has no step {step}")]
    NoSuchStep {
        /// The case's kind key.
        kind: &'static str,
        /// The step's key.
        step: &'static str,
    },
    /// A field the step needs is missing or wrong.
    #[error("step {step}: {what}")]
    Field {
        /// The step's key.
        step: &'static str,
        /// What is wrong.
        what: String,
    },
    /// A change removes or alters a step already taken.
    #[error("a step already taken cannot be altered or removed ({0})")]
    Altered(String),
}

/// One step as the dossier stores it (the `detail` of a `case_step` event, as compact JSON with the
/// fields in this order and absent ones left out).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepRecord {
    /// The case.
    pub case: CaseKey,
    /// The step.
    pub step: Step,
    /// The day it was taken.
    pub date: NaiveDate,
    /// The unit that took it (the author's own unit; checked against the signer's credential).
    pub unit: String,
    /// The resolution's or decision's number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// The vote, for the steps that take one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vote: Option<Vote>,
    /// An admission's two sponsors (member ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sponsors: Vec<String>,
    /// An admission's course certificate (number or date as written on it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// The candidate's age in full years on the day of the cell's vote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age: Option<u32>,
    /// The form of a discipline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<DisciplineForm>,
    /// A transfer's cell of departure (the member's cell when it opened).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// A transfer's destination cell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// On a transfer's `send`: the member's status before it (given back when the new cell receives).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub was: Option<String>,
    /// The reason, or a note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The longest note or number, in characters.
pub const MAX_TEXT: usize = 500;

impl StepRecord {
    /// A bare step (fill the optional fields, then [`StepRecord::event`]).
    pub fn new(case: CaseKey, step: Step, date: NaiveDate, unit: &str) -> StepRecord {
        StepRecord {
            case,
            step,
            date,
            unit: unit.to_string(),
            number: None,
            vote: None,
            sponsors: Vec::new(),
            certificate: None,
            age: None,
            form: None,
            from: None,
            to: None,
            was: None,
            note: None,
        }
    }

    /// The vote share the step needs, if it takes a vote.
    pub fn share(&self) -> Option<Share> {
        match (self.case.kind, self.step) {
            (CaseKind::Admission, Step::Vote | Step::Review) => Some(Share::TwoThirds),
            (CaseKind::StrikeOff, Step::Propose) => Some(Share::Majority),
            (CaseKind::Discipline, Step::Propose) => Some(match self.form {
                Some(DisciplineForm::Expulsion) => Share::TwoThirds,
                _ => Share::Majority,
            }),
            _ => None,
        }
    }

    /// Whether the step's vote fell short (a case whose vote falls short is closed as rejected).
    pub fn vote_failed(&self) -> bool {
        match (self.share(), self.vote) {
            (Some(share), Some(v)) => !v.carried(share),
            _ => false,
        }
    }

    /// Who may take this step. `over_age`: the candidate was older than the rule set's limit at the
    /// cell's vote, so the admission is decided higher up.
    pub fn need(&self, over_age: bool, discipline: Option<DisciplineForm>) -> Need {
        match (self.case.kind, self.step) {
            (CaseKind::Admission, Step::Resolution) => Need::Level("admission_resolution"),
            (CaseKind::Admission, Step::Decision | Step::Extend) if over_age => {
                Need::Level("admission_over_age")
            }
            (CaseKind::Admission, Step::Decision | Step::Extend) => {
                Need::Level("admission_decision")
            }
            (CaseKind::Admission, Step::Confirm) => Need::Level("confirmation"),
            (CaseKind::Transfer, Step::Send) => Need::Both,
            (CaseKind::StrikeOff, Step::Decision) => Need::Level("strike_off"),
            (CaseKind::Discipline, Step::Decision) => {
                match discipline
                    .or(self.form)
                    .unwrap_or(DisciplineForm::Expulsion)
                {
                    DisciplineForm::Reprimand => Need::Level("reprimand"),
                    DisciplineForm::Warning => Need::Level("warning"),
                    DisciplineForm::Removal => Need::Level("removal"),
                    DisciplineForm::Expulsion => Need::Level("expulsion"),
                }
            }
            _ => Need::Cell,
        }
    }

    /// Checks the fields the step needs, and that texts are stored clean.
    pub fn check(&self) -> Result<(), CaseError> {
        let step = self.step.key();
        let field = |what: &str| CaseError::Field {
            step,
            what: what.to_string(),
        };
        if !self.case.kind.has(self.step) {
            return Err(CaseError::NoSuchStep {
                kind: self.case.kind.key(),
                step,
            });
        }
        if self.step == self.case.kind.steps()[0] && self.date != self.case.opened {
            return Err(field("the first step is taken on the day the case opens"));
        }
        if self.date < self.case.opened {
            return Err(field("a step cannot come before the case opened"));
        }
        if self.step == Step::Withdraw && self.note.is_none() {
            return Err(field("a case is closed with its reason"));
        }
        for (what, t) in [
            ("number", &self.number),
            ("note", &self.note),
            ("certificate", &self.certificate),
        ] {
            if let Some(t) = t {
                if t.is_empty()
                    || text::clean(t) != *t
                    || t.chars().any(text::is_hidden)
                    || t.chars().count() > MAX_TEXT
                {
                    return Err(field(&format!(
                        "{what} must be clean text of 1 to {MAX_TEXT} characters"
                    )));
                }
            }
        }
        match (self.share(), &self.vote) {
            (Some(_), None) => return Err(field("the vote counts are required")),
            (None, Some(_)) => return Err(field("this step takes no vote")),
            (Some(_), Some(v))
                if v.eligible == 0
                    || u64::from(v.yes) + u64::from(v.no) > u64::from(v.eligible) =>
            {
                return Err(field("more votes than members entitled to vote"))
            }
            _ => {}
        }
        let sponsors = self.case.kind == CaseKind::Admission && self.step == Step::Open;
        if sponsors {
            let ids: Vec<Result<MemberId, _>> = self
                .sponsors
                .iter()
                .map(|s| s.parse::<MemberId>())
                .collect();
            if ids.len() != 2
                || ids.iter().any(Result::is_err)
                || self.sponsors[0] == self.sponsors[1]
            {
                return Err(field("an admission needs two different sponsors"));
            }
        } else if !self.sponsors.is_empty() {
            return Err(field("only an admission's opening names sponsors"));
        }
        let with_form = self.case.kind == CaseKind::Discipline && self.step == Step::Propose;
        if with_form != self.form.is_some() {
            return Err(field("a discipline's proposal names its form, and only it"));
        }
        let moves = self.case.kind == CaseKind::Transfer && self.step == Step::Open;
        match (moves, &self.from, &self.to) {
            (true, Some(f), Some(t)) => {
                let (f, t) = (
                    crate::UnitPath::parse(f).map_err(|_| field("from is not a unit"))?,
                    crate::UnitPath::parse(t).map_err(|_| field("to is not a unit"))?,
                );
                if f.covers(&t) || t.covers(&f) {
                    return Err(field("a transfer goes to another cell"));
                }
            }
            (false, None, None) => {}
            _ => {
                return Err(field(
                    "a transfer's opening names where from and to, and only it",
                ))
            }
        }
        let sends = self.case.kind == CaseKind::Transfer && self.step == Step::Send;
        match &self.was {
            Some(w) if sends && crate::Status::ALL.iter().any(|s| s.key() == w) => {}
            None if !sends => {}
            _ => {
                return Err(field(
                    "a transfer's send records the member's status, and only it",
                ))
            }
        }
        if self.age.is_some() != (self.case.kind == CaseKind::Admission && self.step == Step::Vote)
        {
            return Err(field(
                "the candidate's age is recorded with the cell's vote, and only there",
            ));
        }
        Ok(())
    }

    /// Reads a stored step: well-formed, in its one canonical form, and complete.
    pub fn parse(detail: &str) -> Result<StepRecord, CaseError> {
        let r: StepRecord =
            serde_json::from_str(detail).map_err(|e| CaseError::Malformed(e.to_string()))?;
        if r.detail() != detail {
            return Err(CaseError::Malformed("not in canonical form".into()));
        }
        r.check()?;
        Ok(r)
    }

    /// The canonical stored text.
    pub fn detail(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The dossier event that records the step.
    pub fn event(&self) -> Event {
        Event {
            kind: EventKind::CaseStep,
            date: Some(self.date.format("%Y-%m-%d").to_string()),
            detail: self.detail(),
        }
    }
}

/// The steps a dossier's events hold, in document order (other events skipped).
pub fn steps_of(events: &[Event]) -> Result<Vec<StepRecord>, CaseError> {
    events
        .iter()
        .filter(|e| e.kind == EventKind::CaseStep)
        .map(|e| {
            let r = StepRecord::parse(&e.detail)?;
            if e.date.as_deref() != Some(r.date.format("%Y-%m-%d").to_string().as_str()) {
                return Err(CaseError::Malformed(
                    "the event's date is not the step's".into(),
                ));
            }
            Ok(r)
        })
        .collect()
}

/// Where a case stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CaseState {
    /// Waiting for `next`.
    Open {
        /// The next step.
        next: Step,
    },
    /// Every step taken.
    Done,
    /// Closed by a vote that fell short at `at`.
    Rejected {
        /// The step whose vote failed.
        at: Step,
    },
    /// Closed by a `withdraw` step (withdrawn, not approved).
    Withdrawn,
}

/// A case as its steps tell it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    /// Which case.
    pub key: CaseKey,
    /// Its steps, at most one of each (the first in the dossier's order), in the kind's order.
    pub steps: Vec<StepRecord>,
    /// Further records of a step already taken (two units wrote it concurrently), for a clerk to see.
    pub conflicts: Vec<StepRecord>,
}

impl Case {
    /// The step `s`, if taken.
    pub fn step(&self, s: Step) -> Option<&StepRecord> {
        self.steps.iter().find(|r| r.step == s)
    }

    /// Where the case stands.
    pub fn state(&self) -> CaseState {
        if self.step(Step::Withdraw).is_some() {
            return CaseState::Withdrawn;
        }
        // Of two records of one vote, one that fell short closes the case.
        if let Some(r) = self
            .steps
            .iter()
            .chain(self.conflicts.iter())
            .find(|r| r.vote_failed())
        {
            return CaseState::Rejected { at: r.step };
        }
        match self
            .key
            .kind
            .steps()
            .iter()
            .find(|s| self.step(**s).is_none())
        {
            Some(next) => CaseState::Open { next: *next },
            None => CaseState::Done,
        }
    }

    /// The discipline form proposed, if any.
    /// Of two records of a proposal (two units wrote it at once), the heavier form counts.
    pub fn form(&self) -> Option<DisciplineForm> {
        self.records(Step::Propose).filter_map(|r| r.form).max()
    }

    /// Every record of step `s`: the one shown, then any written concurrently.
    pub fn records(&self, s: Step) -> impl Iterator<Item = &StepRecord> {
        self.steps
            .iter()
            .chain(self.conflicts.iter())
            .filter(move |r| r.step == s)
    }

    /// A transfer's cells (from, to), as its opening names them.
    pub fn route(&self) -> Option<(crate::UnitPath, crate::UnitPath)> {
        let open = self.step(Step::Open)?;
        Some((
            crate::UnitPath::parse(open.from.as_deref()?).ok()?,
            crate::UnitPath::parse(open.to.as_deref()?).ok()?,
        ))
    }

    /// The candidate's age at the cell's vote, if recorded.
    pub fn age_at_vote(&self) -> Option<u32> {
        self.records(Step::Vote).filter_map(|r| r.age).max()
    }
}

/// The cases a dossier's steps make, by key. A step that names a case whose first step is missing is
/// still shown under its case (it cannot be taken that way here; a receiver shows what it holds).
pub fn cases_of(steps: Vec<StepRecord>) -> Vec<Case> {
    let mut by: BTreeMap<CaseKey, Case> = BTreeMap::new();
    for r in steps {
        let c = by.entry(r.case).or_insert_with(|| Case {
            key: r.case,
            steps: Vec::new(),
            conflicts: Vec::new(),
        });
        if c.step(r.step).is_some() {
            c.conflicts.push(r);
        } else {
            c.steps.push(r);
        }
    }
    let mut out: Vec<Case> = by.into_values().collect();
    for c in &mut out {
        let order = |s: Step| c.key.kind.steps().iter().position(|x| *x == s).unwrap_or(3);
        c.steps.sort_by_key(|r| (order(r.step), r.date));
    }
    out
}

/// What the member's decisions leave them with: the status (a key) and, after a transfer's decision, the
/// unit — from the latest decisive step (by its day, then its place in its case). A reader prefers these
/// when the dossier holds concurrent values for the status or the unit, so that a write made beside a
/// decision cannot outvote it.
pub fn decided(cases: &[Case]) -> (Option<String>, Option<String>) {
    /// When a step was taken (its day, its place in its case, the case), and the status and unit it leaves.
    type Effect = ((NaiveDate, usize, CaseKey), Option<String>, Option<String>);
    let mut effects: Vec<Effect> = Vec::new();
    for c in cases {
        for (i, r) in c.steps.iter().enumerate() {
            let at = (r.date, i, c.key);
            let status = match (c.key.kind, r.step) {
                (CaseKind::Admission, Step::Decision) => Some("probationary".to_string()),
                (CaseKind::Admission, Step::Confirm) => Some("official".to_string()),
                (CaseKind::Exemption, Step::Resolution) => Some("exempted".to_string()),
                (CaseKind::StrikeOff, Step::Decision) => Some("struck_off".to_string()),
                (CaseKind::Discipline, Step::Decision)
                    if c.form() == Some(DisciplineForm::Expulsion) =>
                {
                    Some("expelled".to_string())
                }
                (CaseKind::Transfer, Step::Send) => Some("transferring".to_string()),
                (CaseKind::Transfer, Step::Receive) => {
                    c.step(Step::Send).and_then(|s| s.was.clone())
                }
                _ => None,
            };
            let unit = match (c.key.kind, r.step) {
                (CaseKind::Transfer, Step::Send) => c.route().map(|(_, to)| to.to_string()),
                _ => None,
            };
            if status.is_some() || unit.is_some() {
                effects.push((at, status, unit));
            }
        }
    }
    effects.sort_by_key(|e| e.0);
    let status = effects.iter().rev().find_map(|(_, s, _)| s.clone());
    let unit = effects.iter().rev().find_map(|(_, _, u)| u.clone());
    (status, unit)
}

/// Full years from `born` to `day`.
pub fn age_on(born: NaiveDate, day: NaiveDate) -> u32 {
    use chrono::Datelike;
    let mut years = day.year() - born.year();
    if (day.month(), day.day()) < (born.month(), born.day()) {
        years -= 1;
    }
    u32::try_from(years).unwrap_or(0)
}

/// The depth (0 = the root) of the first level of `wanted` that the organisation's `levels` (root
/// first) has: a rule set names `["district", "ward"]` so that one default serves a four-level tree
/// (the district decides) and a three-level one (the ward does).
pub fn competent_depth(levels: &[String], wanted: &[String]) -> Option<usize> {
    wanted
        .iter()
        .find_map(|w| levels.iter().position(|l| l == w))
}

/// The lowest unit covering both `a` and `b`, if they share a root.
pub fn common_ancestor(a: &crate::UnitPath, b: &crate::UnitPath) -> Option<crate::UnitPath> {
    let mut u = Some(a.clone());
    while let Some(x) = u {
        if x.covers(b) {
            return Some(x);
        }
        u = x.parent();
    }
    None
}

/// Whether a unit at `author` (a dotted path) may take a step needing `depth` on `cell`'s case: it
/// covers the cell and sits at that depth or above.
pub fn entitled(author: &crate::UnitPath, cell: &crate::UnitPath, depth: usize) -> bool {
    author.covers(cell) && author.as_str().split('.').count() <= depth + 1
}

#[cfg(test)]
mod tests;
