//! The rule set: every threshold, month count and status list the screening rules use, written once by
//! the city and evaluated the same way at every node. `RuleSet::default()` is the shipped set; a TOML
//! file may override any part (missing keys keep their defaults, unknown keys are refused so that a typo
//! or a rule this version does not know cannot pass silently). docs/RULES.md explains each key.

use chrono::NaiveDate;
use rollmesh_model::Status;
use serde::{Deserialize, Serialize};

use crate::facts::{MeetingKind, Rating};

/// A rule set that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RuleSetError {
    /// A number is outside what the rule can mean.
    #[error("{key} = {value} is outside {min}..={max}")]
    OutOfRange {
        /// The key, as in the TOML file (`r1.months`).
        key: &'static str,
        /// The value found.
        value: u32,
        /// Smallest allowed.
        min: u32,
        /// Largest allowed.
        max: u32,
    },
    /// The evaluation date is before the rule set takes effect.
    #[error("the rule set takes effect on {effective}, after the evaluation date {as_of}")]
    NotYetEffective {
        /// When the rule set takes effect.
        effective: NaiveDate,
        /// The date asked for.
        as_of: NaiveDate,
    },
    /// The TOML text could not be read or written.
    #[error("rule set file: {0}")]
    Toml(String),
}

/// Statuses covered by member rules by default: admitted members still in the party. Probationary
/// members are bound by the same duties (dues, meetings) as official ones.
fn members_in_party() -> Vec<Status> {
    vec![
        Status::Probationary,
        Status::Official,
        Status::Exempted,
        Status::TemporarilyAway,
    ]
}

/// How months, quarters and years are counted, shared by R1, R2, R6 and R11.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Counting {
    /// Calendar years looked at besides the current one: with 1, an evaluation in 2027 still reports
    /// the whole of 2026, which the cell may not have dealt with yet.
    pub lookback_years: u32,
    /// Working days after a month or quarter ends before it counts, so that the secretary can record
    /// late entries. With 0 a month counts from the day after its last day.
    pub grace_working_days: u32,
}

impl Default for Counting {
    fn default() -> Self {
        Counting {
            lookback_years: 1,
            grace_working_days: 0,
        }
    }
}

/// R1: dues not paid in several months of a calendar year without an accepted reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DuesRule {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Months (not necessarily consecutive) in one calendar year that trigger the rule.
    pub months: u32,
    /// Statuses the rule applies to (less those R12 excludes).
    #[serde(with = "crate::keys::statuses")]
    pub statuses: Vec<Status>,
}

impl Default for DuesRule {
    fn default() -> Self {
        DuesRule {
            enabled: true,
            months: 3,
            statuses: members_in_party(),
        }
    }
}

/// R2: absent without reason from cell meetings in several months of a calendar year.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttendanceRule {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Months (not necessarily consecutive) in one calendar year that trigger the rule.
    pub months: u32,
    /// Statuses the rule applies to (less those R12 excludes).
    #[serde(with = "crate::keys::statuses")]
    pub statuses: Vec<Status>,
    /// Which meetings count.
    pub meeting_kinds: Vec<MeetingKind>,
}

impl Default for AttendanceRule {
    fn default() -> Self {
        AttendanceRule {
            enabled: true,
            months: 3,
            statuses: members_in_party(),
            meeting_kinds: vec![MeetingKind::Regular],
        }
    }
}

/// R4: on the educate-and-help list for months without progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HelpListRule {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Months since the start, or since the last progress noted.
    pub months: u32,
    /// Statuses the rule applies to.
    #[serde(with = "crate::keys::statuses")]
    pub statuses: Vec<Status>,
}

impl Default for HelpListRule {
    fn default() -> Self {
        HelpListRule {
            enabled: true,
            months: 12,
            statuses: members_in_party(),
        }
    }
}

/// R6: a poor rating several years running.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RatingRule {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Consecutive calendar years; a year without a rating breaks the run.
    pub years: u32,
    /// Which ratings count.
    pub ratings: Vec<Rating>,
    /// The run must end no earlier than this many years before the evaluation year, so an old run
    /// followed by no rating at all does not flag forever. 2 allows for next year's rating being late.
    pub max_age_years: u32,
    /// Statuses the rule applies to.
    #[serde(with = "crate::keys::statuses")]
    pub statuses: Vec<Status>,
}

impl Default for RatingRule {
    fn default() -> Self {
        RatingRule {
            enabled: true,
            years: 2,
            ratings: vec![Rating::NotCompleted],
            max_age_years: 2,
            statuses: members_in_party(),
        }
    }
}

/// R11: cells that do not meet regularly.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MeetingRule {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Months without a regular meeting in a year that trigger the rule.
    pub months: u32,
    /// Quarters without a thematic meeting in a year that trigger the rule.
    pub quarters: u32,
}

impl Default for MeetingRule {
    fn default() -> Self {
        MeetingRule {
            enabled: true,
            months: 1,
            quarters: 1,
        }
    }
}

/// R12: statuses left out of R1, R2 and vote denominators.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExemptionRule {
    /// Statuses R1 and R2 never flag and votes do not count.
    #[serde(with = "crate::keys::statuses")]
    pub excluded: Vec<Status>,
    /// Statuses that vote in the cell (before the exclusion above).
    #[serde(with = "crate::keys::statuses")]
    pub voters: Vec<Status>,
}

impl Default for ExemptionRule {
    fn default() -> Self {
        ExemptionRule {
            excluded: vec![Status::Exempted],
            voters: vec![Status::Official],
        }
    }
}

/// R14: not transferred to where the member lives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResidenceRule {
    /// Whether the rule runs.
    pub enabled: bool,
    /// A member attached to a host cell on the evaluation date is already where the cell sent them:
    /// skip them (an overdue attachment is a deadline rule's business).
    pub skip_while_attached: bool,
    /// Statuses the rule applies to.
    #[serde(with = "crate::keys::statuses")]
    pub statuses: Vec<Status>,
}

impl Default for ResidenceRule {
    fn default() -> Self {
        ResidenceRule {
            enabled: true,
            skip_while_attached: true,
            statuses: members_in_party(),
        }
    }
}

fn levels(keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

/// Who decides each step of a case, and the admission age limits (R13). A competence is a list of
/// level keys of the organisation tree: the first one the tree has is the competent level, and a unit
/// at that level or above it (covering the member's cell) may take the step. `["district", "ward"]`
/// thus names the district in a four-level tree and the ward in a three-level one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CaseRules {
    /// The grassroots committee's resolution on an admission.
    pub admission_resolution: Vec<String>,
    /// The admission decision (and its extension).
    pub admission_decision: Vec<String>,
    /// The admission decision for a candidate older than `max_age` at the cell's vote.
    pub admission_over_age: Vec<String>,
    /// The confirmation decision at the end of probation.
    pub confirmation: Vec<String>,
    /// The strike-off decision.
    pub strike_off: Vec<String>,
    /// A reprimand.
    pub reprimand: Vec<String>,
    /// A warning.
    pub warning: Vec<String>,
    /// Removal from post.
    pub removal: Vec<String>,
    /// Expulsion.
    pub expulsion: Vec<String>,
    /// R13: the youngest age at the cell's vote.
    pub min_age: u32,
    /// R13: the oldest age at the cell's vote decided by `admission_decision`; older candidates need
    /// `admission_over_age`.
    pub max_age: u32,
}

impl Default for CaseRules {
    fn default() -> Self {
        CaseRules {
            admission_resolution: levels(&["ward"]),
            admission_decision: levels(&["district", "ward"]),
            admission_over_age: levels(&["city"]),
            confirmation: levels(&["district", "ward"]),
            strike_off: levels(&["district", "ward"]),
            reprimand: levels(&["cell"]),
            warning: levels(&["cell"]),
            removal: levels(&["ward"]),
            expulsion: levels(&["district", "ward"]),
            min_age: 18,
            max_age: 60,
        }
    }
}

impl CaseRules {
    /// The competence named `key` (as `rollmesh_model::case::Need::Level` names it).
    pub fn levels(&self, key: &str) -> Option<&[String]> {
        Some(match key {
            "admission_resolution" => &self.admission_resolution,
            "admission_decision" => &self.admission_decision,
            "admission_over_age" => &self.admission_over_age,
            "confirmation" => &self.confirmation,
            "strike_off" => &self.strike_off,
            "reprimand" => &self.reprimand,
            "warning" => &self.warning,
            "removal" => &self.removal,
            "expulsion" => &self.expulsion,
            _ => return None,
        })
    }
}

/// R8: probation (12 months from the ceremony, then the cell's review and the confirmation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProbationRule {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Months of probation.
    pub months: u32,
    /// Working days after probation ends for the cell's review.
    pub review_working_days: u32,
    /// Working days after the review for the confirmation decision.
    pub confirm_working_days: u32,
}

impl Default for ProbationRule {
    fn default() -> Self {
        ProbationRule {
            enabled: true,
            months: 12,
            review_working_days: 30,
            confirm_working_days: 30,
        }
    }
}

/// R9: the admission decision and the ceremony on time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdmissionRule {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Working days after the grassroots resolution for the decision.
    pub decision_working_days: u32,
    /// Working days an extension adds.
    pub extension_working_days: u32,
    /// Working days after the decision for the ceremony.
    pub ceremony_working_days: u32,
}

impl Default for AdmissionRule {
    fn default() -> Self {
        AdmissionRule {
            enabled: true,
            decision_working_days: 60,
            extension_working_days: 30,
            ceremony_working_days: 30,
        }
    }
}

/// R10: transfers that do not finish, and temporary attachments past their limit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TransferRule {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Working days after an official transfer is opened for the decision that moves the member.
    pub decide_working_days: u32,
    /// Days after that decision for the new cell to take the member in.
    pub receive_days: u32,
    /// Longest temporary attachment for work, in months.
    pub temporary_months: u32,
    /// Longest temporary attachment for study, in months.
    pub study_months: u32,
}

impl Default for TransferRule {
    fn default() -> Self {
        TransferRule {
            enabled: true,
            decide_working_days: 60,
            receive_days: 30,
            temporary_months: 12,
            study_months: 24,
        }
    }
}

/// The whole rule set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleSet {
    /// The first day this rule set applies.
    pub effective: NaiveDate,
    /// Statuses of people no longer in the party: no rule ever flags them.
    #[serde(with = "crate::keys::statuses")]
    pub departed: Vec<Status>,
    /// Counting conventions.
    pub counting: Counting,
    /// R1.
    pub r1: DuesRule,
    /// R2.
    pub r2: AttendanceRule,
    /// R4.
    pub r4: HelpListRule,
    /// R6.
    pub r6: RatingRule,
    /// R11.
    pub r11: MeetingRule,
    /// R12.
    pub r12: ExemptionRule,
    /// R14.
    pub r14: ResidenceRule,
    /// R8.
    pub r8: ProbationRule,
    /// R9.
    pub r9: AdmissionRule,
    /// R10.
    pub r10: TransferRule,
    /// Who decides each step of a case; R13's ages.
    pub cases: CaseRules,
}

/// The day the shipped rule set takes effect: the first year of the shipped holiday table.
pub const DEFAULT_EFFECTIVE: (i32, u32, u32) = (2024, 1, 1);

impl Default for RuleSet {
    fn default() -> Self {
        let (y, m, d) = DEFAULT_EFFECTIVE;
        RuleSet {
            effective: NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN),
            departed: vec![
                Status::StruckOff,
                Status::Expelled,
                Status::Resigned,
                Status::Deceased,
            ],
            counting: Counting::default(),
            r1: DuesRule::default(),
            r2: AttendanceRule::default(),
            r4: HelpListRule::default(),
            r6: RatingRule::default(),
            r11: MeetingRule::default(),
            r12: ExemptionRule::default(),
            r14: ResidenceRule::default(),
            r8: ProbationRule::default(),
            r9: AdmissionRule::default(),
            r10: TransferRule::default(),
            cases: CaseRules::default(),
        }
    }
}

fn in_range(key: &'static str, value: u32, min: u32, max: u32) -> Result<(), RuleSetError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(RuleSetError::OutOfRange {
            key,
            value,
            min,
            max,
        })
    }
}

impl RuleSet {
    /// Checks every number against what its rule can mean (a 0-month threshold would flag everyone).
    pub fn validate(&self) -> Result<(), RuleSetError> {
        in_range(
            "counting.lookback_years",
            self.counting.lookback_years,
            0,
            10,
        )?;
        in_range(
            "counting.grace_working_days",
            self.counting.grace_working_days,
            0,
            60,
        )?;
        in_range("r1.months", self.r1.months, 1, 12)?;
        in_range("r2.months", self.r2.months, 1, 12)?;
        in_range("r4.months", self.r4.months, 1, 120)?;
        in_range("r6.years", self.r6.years, 1, 20)?;
        in_range("r6.max_age_years", self.r6.max_age_years, 0, 20)?;
        in_range("r11.months", self.r11.months, 1, 12)?;
        in_range("r11.quarters", self.r11.quarters, 1, 4)?;
        in_range("r8.months", self.r8.months, 1, 60)?;
        in_range(
            "r8.review_working_days",
            self.r8.review_working_days,
            1,
            250,
        )?;
        in_range(
            "r8.confirm_working_days",
            self.r8.confirm_working_days,
            1,
            250,
        )?;
        in_range(
            "r9.decision_working_days",
            self.r9.decision_working_days,
            1,
            250,
        )?;
        in_range(
            "r9.extension_working_days",
            self.r9.extension_working_days,
            0,
            250,
        )?;
        in_range(
            "r9.ceremony_working_days",
            self.r9.ceremony_working_days,
            1,
            250,
        )?;
        in_range(
            "r10.decide_working_days",
            self.r10.decide_working_days,
            1,
            250,
        )?;
        in_range("r10.receive_days", self.r10.receive_days, 1, 365)?;
        in_range("r10.temporary_months", self.r10.temporary_months, 1, 60)?;
        in_range("r10.study_months", self.r10.study_months, 1, 120)?;
        in_range("cases.min_age", self.cases.min_age, 16, 100)?;
        in_range("cases.max_age", self.cases.max_age, self.cases.min_age, 120)?;
        Ok(())
    }

    /// Reads a rule set from TOML (missing keys keep their defaults) and validates it.
    pub fn from_toml(text: &str) -> Result<RuleSet, RuleSetError> {
        let rules: RuleSet = toml::from_str(text).map_err(|e| RuleSetError::Toml(e.to_string()))?;
        rules.validate()?;
        Ok(rules)
    }

    /// Writes the rule set as TOML.
    pub fn to_toml(&self) -> Result<String, RuleSetError> {
        toml::to_string(self).map_err(|e| RuleSetError::Toml(e.to_string()))
    }

    /// Whether a member with this status is counted in a cell vote's denominator (R12).
    pub fn counts_in_vote(&self, status: Status) -> bool {
        self.r12.voters.contains(&status)
            && !self.r12.excluded.contains(&status)
            && !self.departed.contains(&status)
    }
}
