//! The screening rule engine: one rule set, evaluated the same way at every node (docs/BRIEF.md §4,
//! docs/RULES.md). Pure: no files, no clock (the evaluation date `as_of` is passed in), no randomness,
//! no hash-map iteration, so the same facts give the same flags, in the same order, everywhere.
//!
//! - [`RuleSet`]: every threshold, month count and status list, with the shipped defaults and TOML.
//! - [`Calendar`]: working days (weekends and public holidays; Vietnam's table for 2024–2027).
//! - Facts: [`MemberFacts`], [`CellFacts`], [`Ledger`] — built by the caller from its documents (the
//!   ledger types are `rollmesh_model::ledger`'s, re-exported here).
//! - [`evaluate`] → sorted [`Flag`]s with Vietnamese and English explanations and [`Evidence`];
//!   [`filter_by_scope`] keeps a subtree's.

mod calendar;
mod cases;
mod eval;
mod facts;
mod flag;
mod keys;
mod rules;

pub use calendar::{is_weekend, Calendar, CalendarError, VietnamYear, VIETNAM_TABLE};
pub use eval::{evaluate, vote_denominator};
pub use facts::{
    Attachment, AttachmentReason, Attendance, CellFacts, Dues, HelpListEntry, Ledger, Meeting,
    MeetingKind, MemberFacts, Rating,
};
pub use flag::{covers, filter_by_scope, Evidence, Flag, RuleId, Subject};
pub use rules::{
    AdmissionRule, AttendanceRule, CaseRules, Counting, DuesRule, ExemptionRule, HelpListRule,
    MeetingRule, ProbationRule, RatingRule, ResidenceRule, RuleSet, RuleSetError, TransferRule,
    DEFAULT_EFFECTIVE,
};
