//! What an evaluation produces: flags, each naming its rule, its subject, the cell it belongs to (for
//! filtering by subtree), a one-line explanation in Vietnamese and English, and the structured evidence
//! behind it so a report can drill down without re-running the rule.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// A screening rule's id. Declared in numeric order, which is also the order flags sort in; the
/// deadline rules (R8–R10) and admission eligibility (R13) slot in between when they are added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RuleId {
    /// Dues unpaid without accepted reason.
    R1,
    /// Meetings missed without accepted reason.
    R2,
    /// On the educate-and-help list without progress.
    R4,
    /// Rated "not completed" years running.
    R6,
    /// Probation: review and confirmation due.
    R8,
    /// Admission: decision or ceremony overdue.
    R9,
    /// Transfer unfinished, or temporary attachment past its limit.
    R10,
    /// A cell that does not meet regularly.
    R11,
    /// Not transferred to where the member lives.
    R14,
}

impl RuleId {
    /// Every rule that produces flags, in order.
    pub const ALL: &'static [RuleId] = &[
        RuleId::R1,
        RuleId::R2,
        RuleId::R4,
        RuleId::R6,
        RuleId::R8,
        RuleId::R9,
        RuleId::R10,
        RuleId::R11,
        RuleId::R14,
    ];

    /// The short code, `R1`.
    pub fn code(self) -> &'static str {
        match self {
            RuleId::R1 => "R1",
            RuleId::R2 => "R2",
            RuleId::R4 => "R4",
            RuleId::R6 => "R6",
            RuleId::R8 => "R8",
            RuleId::R9 => "R9",
            RuleId::R10 => "R10",
            RuleId::R11 => "R11",
            RuleId::R14 => "R14",
        }
    }

    /// What a hit leads to, in Vietnamese.
    pub fn outcome_vi(self) -> &'static str {
        match self {
            RuleId::R1 | RuleId::R2 | RuleId::R4 => "xem xét xóa tên",
            RuleId::R6 => "đưa vào diện rà soát",
            RuleId::R8 => "xét công nhận đảng viên chính thức",
            RuleId::R9 => "đôn đốc quyết định, lễ kết nạp",
            RuleId::R10 => "hoàn tất chuyển sinh hoạt",
            RuleId::R11 => "chấn chỉnh sinh hoạt chi bộ",
            RuleId::R14 => "xem xét chuyển sinh hoạt",
        }
    }

    /// What a hit leads to, in English.
    pub fn outcome_en(self) -> &'static str {
        match self {
            RuleId::R1 | RuleId::R2 | RuleId::R4 => "strike-off candidate",
            RuleId::R6 => "screening list",
            RuleId::R8 => "confirmation to be considered",
            RuleId::R9 => "admission decision or ceremony to be chased",
            RuleId::R10 => "transfer to be completed",
            RuleId::R11 => "cell meetings to be put right",
            RuleId::R14 => "transfer to be reviewed",
        }
    }
}

impl std::fmt::Display for RuleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// What a flag is about. Cells sort before members so that a cell's own flag heads its members'.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// A cell, by unit path.
    Cell(String),
    /// A member, by id.
    Member(String),
}

/// The facts a flag rests on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Evidence {
    /// R1: the months of `year` counted as unpaid.
    Dues {
        /// Calendar year.
        year: i32,
        /// Months (1–12) without payment or accepted reason.
        months: Vec<u32>,
        /// The threshold in force.
        threshold: u32,
        /// The last day of the last month that counted at the evaluation date.
        counted_through: NaiveDate,
    },
    /// R2: the months of `year` with an absence without accepted reason, and those meetings.
    Attendance {
        /// Calendar year.
        year: i32,
        /// Months (1–12) that count.
        months: Vec<u32>,
        /// The meetings missed in those months.
        meetings: Vec<NaiveDate>,
        /// The threshold in force.
        threshold: u32,
        /// The last day of the last month that counted at the evaluation date.
        counted_through: NaiveDate,
    },
    /// R4: time on the educate-and-help list.
    HelpList {
        /// Day the member was put on the list.
        start: NaiveDate,
        /// The latest progress noted, if any.
        last_progress: Option<NaiveDate>,
        /// The day the count ran out: start (or last progress) plus the threshold.
        due: NaiveDate,
        /// The threshold in months.
        months: u32,
    },
    /// R6: the run of ratings.
    Ratings {
        /// The consecutive years, oldest first.
        years: Vec<i32>,
        /// The threshold in force.
        threshold: u32,
    },
    /// R11: the cell's missing meetings in `year`.
    Meetings {
        /// Calendar year.
        year: i32,
        /// Months (1–12) without a regular meeting.
        months_without_regular: Vec<u32>,
        /// Quarters (1–4) without a thematic meeting.
        quarters_without_thematic: Vec<u32>,
        /// The last day of the last month that counted at the evaluation date.
        counted_through: NaiveDate,
    },
    /// R8: a probation and its deadlines.
    Probation {
        /// The admission ceremony, when probation began.
        ceremony: NaiveDate,
        /// The day probation ends.
        ends: NaiveDate,
        /// The last day for the cell's review.
        review_by: NaiveDate,
        /// The cell's review, if held.
        review: Option<NaiveDate>,
        /// The last day for the confirmation decision, once reviewed.
        confirm_by: Option<NaiveDate>,
        /// Whether a deadline has passed (otherwise the flag is the alert that probation has ended).
        overdue: bool,
    },
    /// R9: an admission step that is late.
    Admission {
        /// `decision` or `ceremony`.
        step: String,
        /// The step it counts from (the resolution, or the decision).
        from: NaiveDate,
        /// The last day it was due.
        due: NaiveDate,
        /// Whether the decision's time was extended.
        extended: bool,
    },
    /// R10: a transfer that has not finished, or a temporary attachment past its limit.
    Transfer {
        /// `official` or `temporary`.
        transfer: String,
        /// The day it counts from (the opening or the decision; the attachment's first day).
        from: NaiveDate,
        /// The last day it was due to finish (the limit, for an attachment).
        due: NaiveDate,
        /// For an attachment: the host cell.
        host: Option<String>,
    },
    /// R14: the two wards compared.
    Residence {
        /// Where the member lives.
        residence_ward: String,
        /// The cell's ward.
        cell_ward: String,
    },
}

/// One rule hit.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Flag {
    /// The rule.
    pub rule: RuleId,
    /// Who or what.
    pub subject: Subject,
    /// The cell the subject belongs to (a member's home cell), for filtering by subtree.
    pub unit: String,
    /// The calendar year the flag is about, for the rules counted by year.
    pub year: Option<i32>,
    /// One line naming the facts, in Vietnamese.
    pub explanation_vi: String,
    /// The same line in English.
    pub explanation_en: String,
    /// The facts, structured.
    pub evidence: Evidence,
}

impl Flag {
    fn key(&self) -> (&str, &Subject, RuleId, Option<i32>) {
        (&self.unit, &self.subject, self.rule, self.year)
    }

    /// Whether the flag's unit is `scope` or below it.
    pub fn in_scope(&self, scope: &str) -> bool {
        covers(scope, &self.unit)
    }
}

/// Flags sort by unit, then subject (the cell first), rule and year, so that a subtree's flags are
/// contiguous and every node lists the same flags in the same order.
impl Ord for Flag {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key()).then_with(|| {
            (&self.evidence, &self.explanation_vi, &self.explanation_en).cmp(&(
                &other.evidence,
                &other.explanation_vi,
                &other.explanation_en,
            ))
        })
    }
}

impl PartialOrd for Flag {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Whether `scope` covers `unit`: the same path, or a path below it (`hn.d01` covers `hn.d01.w02` but
/// not `hn.d011`).
pub fn covers(scope: &str, unit: &str) -> bool {
    match unit.strip_prefix(scope) {
        Some("") => true,
        Some(rest) => rest.starts_with('.'),
        None => false,
    }
}

/// The flags whose unit `scope` covers, in their original order.
pub fn filter_by_scope(flags: impl IntoIterator<Item = Flag>, scope: &str) -> Vec<Flag> {
    flags.into_iter().filter(|f| f.in_scope(scope)).collect()
}
