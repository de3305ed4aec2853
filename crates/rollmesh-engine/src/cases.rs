//! Cases at a node: taking a step (admission, exemption, strike-off, discipline) as one signed dossier
//! change that records the step and sets the status and dates it decides, and the competence check
//! that every node applies to every step it receives (`authority.rs` calls [`check_step`]).
//!
//! Who may take a step comes from the rule set's `[cases]` table in force on the step's day and the
//! organisation tree's levels ([`Competence`]); the same function judges a clerk's own step here (a
//! clear refusal) and a peer's step on arrival (quarantined `unauthorized`).

use std::collections::BTreeMap;

use chrono::{Months, NaiveDate};
use rollmesh_model::case::{
    age_on, cases_of, common_ancestor, competent_depth, entitled, steps_of, Case, CaseKey,
    CaseKind, CaseState, DisciplineForm, Need, Step, StepRecord, Vote,
};
use rollmesh_model::member::parse_date;
use rollmesh_model::orgdoc::OrgDocKind;
use rollmesh_model::{
    DossierEdit, DossierWrite, Event, EventKind, Field, MemberId, MemberRecord, Status, UnitPath,
};
use rollmesh_rules::{CaseRules, RuleSet};
use serde::Serialize;

use crate::error::NodeError;
use crate::node::Node;

/// The level keys assumed when a node holds no organisation tree (the four-level demo's).
const DEFAULT_LEVELS: [&str; 4] = ["city", "district", "ward", "cell"];

/// What decides competence: the tree's level keys (root first) and every published `[cases]` table by
/// the day it takes effect.
#[derive(Clone, Debug, Default)]
pub struct Competence {
    /// Level keys, root first.
    pub levels: Vec<String>,
    /// `(effective, cases table)`, oldest first.
    pub versions: Vec<(NaiveDate, CaseRules)>,
}

impl Competence {
    /// The table in force on `day` and every one published to take effect later: a step dated back
    /// before a change of competence is judged by the strictest of them, so backdating never lowers
    /// who may decide.
    fn tables_since(&self, day: NaiveDate) -> Vec<CaseRules> {
        let mut out = vec![self.on(day)];
        out.extend(
            self.versions
                .iter()
                .filter(|(from, _)| *from > day)
                .map(|(_, c)| c.clone()),
        );
        out
    }

    /// The `[cases]` table in force on `day` (the shipped one before any published version).
    pub fn on(&self, day: NaiveDate) -> CaseRules {
        self.versions
            .iter()
            .rev()
            .find(|(from, _)| *from <= day)
            .map(|(_, c)| c.clone())
            .unwrap_or_default()
    }

    /// The level keys in use (the tree's, or the four-level default).
    fn level_keys(&self) -> Vec<String> {
        if self.levels.is_empty() {
            DEFAULT_LEVELS.iter().map(|s| s.to_string()).collect()
        } else {
            self.levels.clone()
        }
    }

    /// The depth at which `need` is met on `cell`'s case on `day`, and the level's key; `route` is a
    /// transfer's (from, to).
    fn depth(
        &self,
        need: Need,
        cell: &UnitPath,
        day: NaiveDate,
        route: Option<&(UnitPath, UnitPath)>,
    ) -> Result<(usize, String), String> {
        let levels = self.level_keys();
        let key_at = |d: usize| {
            levels
                .get(d)
                .cloned()
                .unwrap_or_else(|| format!("depth {d}"))
        };
        match need {
            Need::Cell => Ok((cell.depth(), key_at(cell.depth()))),
            Need::Both => {
                let (from, to) = route.ok_or("the transfer names no cells")?;
                let top = common_ancestor(from, to).ok_or("the two cells share no unit")?;
                Ok((top.depth(), key_at(top.depth())))
            }
            Need::Level(key) => {
                let mut best: Option<usize> = None;
                for rules in self.tables_since(day) {
                    let wanted = rules.levels(key).unwrap_or_default();
                    let d = competent_depth(&levels, wanted).ok_or_else(|| {
                        format!(
                            "the rule set's cases.{key} names no level of this organisation's tree"
                        )
                    })?;
                    best = Some(best.map_or(d, |b| b.min(d)));
                }
                let d = best.unwrap_or(0);
                Ok((d, levels[d].clone()))
            }
        }
    }
}

/// Why a step may not be taken by its author.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotEntitled {
    /// The step.
    pub step: Step,
    /// The case's kind.
    pub kind: CaseKind,
    /// The level key that decides it.
    pub level: String,
    /// The author's unit.
    pub author: String,
    /// Something else is wrong (the step names another unit than its signer, the rule set is broken).
    pub other: Option<String>,
}

impl std::fmt::Display for NotEntitled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.other {
            Some(o) => f.write_str(o),
            None => write!(
                f,
                "step {} of the {} case is taken at level {} or above; {} is not entitled",
                self.step.key(),
                self.kind.key(),
                self.level,
                self.author
            ),
        }
    }
}

/// Checks that `author` may take step `s` on the member whose dossier reads `after` (with the change
/// applied): the step names the author's own unit, and the unit covers the member's cell at the level
/// the rule set in force on the step's day names (higher up for a candidate over the age limit).
pub fn check_step(
    c: &Competence,
    author: &UnitPath,
    after: &MemberRecord,
    s: &StepRecord,
) -> Result<(), NotEntitled> {
    let refuse = |level: String, other: Option<String>| NotEntitled {
        step: s.step,
        kind: s.case.kind,
        level,
        author: author.to_string(),
        other,
    };
    if s.unit != author.as_str() {
        return Err(refuse(
            String::new(),
            Some(format!(
                "the step names unit {} but is signed by a node of {}",
                s.unit, author
            )),
        ));
    }
    let Some(cell) = after.unit() else {
        return Err(refuse(String::new(), Some("the member has no unit".into())));
    };
    let case = steps_of(&after.events)
        .ok()
        .map(cases_of)
        .and_then(|cs| cs.into_iter().find(|k| k.key == s.case));
    let rules = c.on(s.date);
    // The age the vote recorded, or the one the dossier's date of birth gives on the vote's day,
    // whichever is older: the cell cannot lower it by editing the date of birth around the vote.
    let from_dob = case
        .as_ref()
        .and_then(|k| k.records(Step::Vote).map(|r| r.date).max())
        .zip(after.get(Field::DateOfBirth).and_then(parse_date))
        .map(|(vote, born)| age_on(born, vote));
    let over_age = case
        .as_ref()
        .and_then(Case::age_at_vote)
        .max(from_dob)
        .is_some_and(|age| age > rules.max_age);
    let form = case.as_ref().and_then(Case::form);
    let need = s.need(over_age, form);
    let route = case.as_ref().and_then(Case::route);
    let (depth, level) = c
        .depth(need, &cell, s.date, route.as_ref())
        .map_err(|e| refuse(String::new(), Some(e)))?;
    let allowed = match (need, &route) {
        // A transfer is decided by a unit covering both cells (the member's cell is already the new
        // one once the step applies).
        (Need::Both, Some((from, to))) => author.covers(from) && author.covers(to),
        _ => entitled(author, &cell, depth),
    };
    if allowed {
        Ok(())
    } else {
        Err(refuse(level, None))
    }
}

/// Checks a member change as its own history sees it (`before` at its dependencies, `after` with it,
/// `written` what its operations write): every case step it creates is new (a step is taken once) and
/// the author's to take, and a decided status it writes comes with its step ([`decided_status`]).
/// `Err` is the refusal's detail.
pub fn check_change(
    c: &Competence,
    author: &UnitPath,
    before: Option<&MemberRecord>,
    after: &MemberRecord,
    written: &DossierWrite,
) -> Result<(), String> {
    let added = steps_of(&written.events).map_err(|e| e.to_string())?;
    let taken = before
        .map(|b| steps_of(&b.events))
        .transpose()
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    for s in &added {
        if taken.iter().any(|t| t.case == s.case && t.step == s.step) {
            return Err(format!(
                "step {} of case {} is already taken",
                s.step.key(),
                s.case
            ));
        }
        check_step(c, author, after, s).map_err(|e| e.to_string())?;
    }
    decided_status(
        before.is_some(),
        before.and_then(MemberRecord::status),
        written.field(Field::Status),
        written.field(Field::Unit),
        after,
        &added,
    )
}

/// A status that only a decision sets must come with that decision's step — judged on what the
/// change writes (`to`, `None` when it does not write the status) against the status of its own
/// history (`from`): probationary with an admission's decision; official with its confirmation, or back
/// from an exemption or a temporary absence; expelled with the decision on an expulsion; struck off
/// with a strike-off's decision; exempted (from official only) with the cell's resolution; temporarily
/// away from official only; "in transfer" with a transfer's decision, and out of it only with the new
/// cell's receipt (which gives back the status before). A transfer's decision moves the member to the
/// case's destination (`unit`) and nowhere else. Other statuses (resigned, deceased, candidate) and a
/// new member's first status (an import of existing records) are the clerk's to write.
pub fn decided_status(
    from_record: bool,
    from: Option<Status>,
    to: Option<Option<&str>>,
    unit: Option<Option<&str>>,
    after: &MemberRecord,
    added: &[StepRecord],
) -> Result<(), String> {
    let has = |k: CaseKind, s: Step| added.iter().any(|r| r.case.kind == k && r.step == s);
    let case_of = |key: CaseKey| {
        steps_of(&after.events)
            .ok()
            .map(cases_of)
            .and_then(|cs| cs.into_iter().find(|c| c.key == key))
    };
    for send in added
        .iter()
        .filter(|r| r.case.kind == CaseKind::Transfer && r.step == Step::Send)
    {
        let dest = case_of(send.case).and_then(|c| c.route()).map(|(_, to)| to);
        if dest.is_none() || dest.as_ref().map(|u| u.as_str()) != unit.flatten() {
            return Err("a transfer's decision moves the member to the case's destination".into());
        }
    }
    // A change not writing the status keeps it; a new member (`from_record` false) comes with any.
    let Some(to) = to else {
        return Ok(());
    };
    if !from_record {
        return Ok(());
    }
    // An existing member always has a status that reads, before and after.
    let (Some(from), Some(to_status)) = (from, to.and_then(Status::parse)) else {
        return Err("an existing member's status is removed or does not read".into());
    };
    let to = Some(to_status);
    if to == Some(from) && !has(CaseKind::Transfer, Step::Receive) {
        return Ok(());
    }
    let ok = match to {
        _ if has(CaseKind::Transfer, Step::Receive) => from == Status::Transferring,
        _ if from == Status::Transferring => false,
        Some(Status::Probationary) => has(CaseKind::Admission, Step::Decision),
        Some(Status::Official) => {
            has(CaseKind::Admission, Step::Confirm)
                || matches!(from, Status::Exempted | Status::TemporarilyAway)
        }
        Some(Status::Expelled) => added.iter().any(|r| {
            r.case.kind == CaseKind::Discipline
                && r.step == Step::Decision
                && case_of(r.case).and_then(|c| c.form()) == Some(DisciplineForm::Expulsion)
        }),
        Some(Status::StruckOff) => has(CaseKind::StrikeOff, Step::Decision),
        Some(Status::Exempted) => {
            has(CaseKind::Exemption, Step::Resolution) && from == Status::Official
        }
        Some(Status::TemporarilyAway) => from == Status::Official,
        Some(Status::Transferring) => has(CaseKind::Transfer, Step::Send),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        let show = |s: Option<Status>| s.map_or("none", |s| s.key());
        Err(format!(
            "status {} → {} is decided by a case step the change does not carry",
            from.key(),
            show(to)
        ))
    }
}

mod at_node;

pub use at_node::{CaseRow, StepDone, StepInput};

#[cfg(test)]
mod tests;
