//! R8 and R9: the deadlines of an admission, read from the member's case (the steps in the dossier).
//! R8 raises the alert when probation ends and marks it overdue when the cell's review or the
//! confirmation decision is late; R9 marks an admission decision or a ceremony that is late.

use chrono::{Months, NaiveDate};
use rollmesh_model::case::{Case, CaseKind, CaseState, Step};

use crate::calendar::Calendar;
use crate::eval::{en_date, vi_date};
use crate::facts::MemberFacts;
use crate::flag::{Evidence, Flag, RuleId, Subject};
use crate::rules::RuleSet;

/// The R8 and R9 flags of one member on `as_of`.
pub(crate) fn deadlines(
    rules: &RuleSet,
    calendar: &Calendar,
    m: &MemberFacts,
    as_of: NaiveDate,
) -> Vec<Flag> {
    let mut out = Vec::new();
    for c in m
        .cases
        .iter()
        .filter(|c| c.key.kind == CaseKind::Admission)
        .filter(|c| !matches!(c.state(), CaseState::Rejected { .. } | CaseState::Done))
    {
        if rules.r8.enabled {
            out.extend(r8(rules, calendar, m, c, as_of));
        }
        if rules.r9.enabled {
            out.extend(r9(rules, calendar, m, c, as_of));
        }
    }
    out
}

fn flag(m: &MemberFacts, rule: RuleId, vi: String, en: String, evidence: Evidence) -> Flag {
    Flag {
        rule,
        subject: Subject::Member(m.id.clone()),
        unit: m.cell.clone(),
        year: None,
        explanation_vi: vi,
        explanation_en: en,
        evidence,
    }
}

fn r8(
    rules: &RuleSet,
    calendar: &Calendar,
    m: &MemberFacts,
    c: &Case,
    as_of: NaiveDate,
) -> Option<Flag> {
    let rule = &rules.r8;
    let ceremony = c.step(Step::Ceremony)?.date;
    let ends = ceremony.checked_add_months(Months::new(rule.months))?;
    if as_of < ends || c.step(Step::Confirm).is_some() {
        return None;
    }
    let review_by = calendar.add_working_days(ends, rule.review_working_days)?;
    let review = c.step(Step::Review).map(|r| r.date);
    let confirm_by = match review {
        Some(r) => Some(calendar.add_working_days(r, rule.confirm_working_days)?),
        None => None,
    };
    let (overdue, vi, en) = match (review, confirm_by) {
        (Some(r), Some(by)) => (
            as_of > by,
            format!(
                "Dự bị từ lễ kết nạp {}, chi bộ xét công nhận ngày {}; {} quyết định công nhận chính thức (hạn {})",
                vi_date(ceremony),
                vi_date(r),
                if as_of > by { "quá hạn" } else { "chờ" },
                vi_date(by)
            ),
            format!(
                "On probation since the ceremony on {}, reviewed by the cell on {}; the confirmation decision is {} (due {})",
                en_date(ceremony),
                en_date(r),
                if as_of > by { "overdue" } else { "awaited" },
                en_date(by)
            ),
        ),
        _ => (
            as_of > review_by,
            format!(
                "Dự bị từ lễ kết nạp {}, hết {} tháng dự bị ngày {}; chi bộ {} xét công nhận chính thức (hạn {})",
                vi_date(ceremony),
                rule.months,
                vi_date(ends),
                if as_of > review_by { "quá hạn chưa" } else { "cần" },
                vi_date(review_by)
            ),
            format!(
                "On probation since the ceremony on {}, {} months ended on {}; the cell's review is {} (due {})",
                en_date(ceremony),
                rule.months,
                en_date(ends),
                if as_of > review_by { "overdue" } else { "due" },
                en_date(review_by)
            ),
        ),
    };
    Some(flag(
        m,
        RuleId::R8,
        vi,
        en,
        Evidence::Probation {
            ceremony,
            ends,
            review_by,
            review,
            confirm_by,
            overdue,
        },
    ))
}

fn r9(
    rules: &RuleSet,
    calendar: &Calendar,
    m: &MemberFacts,
    c: &Case,
    as_of: NaiveDate,
) -> Option<Flag> {
    let rule = &rules.r9;
    let extended = c.step(Step::Extend).is_some();
    let (step, from, due) = match (c.step(Step::Decision), c.step(Step::Ceremony)) {
        (None, _) => {
            let from = c.step(Step::Resolution)?.date;
            let days = rule.decision_working_days
                + if extended {
                    rule.extension_working_days
                } else {
                    0
                };
            ("decision", from, calendar.add_working_days(from, days)?)
        }
        (Some(d), None) => (
            "ceremony",
            d.date,
            calendar.add_working_days(d.date, rule.ceremony_working_days)?,
        ),
        (Some(_), Some(_)) => return None,
    };
    if as_of <= due {
        return None;
    }
    let (vi, en) = if step == "decision" {
        (
            format!(
                "Nghị quyết đề nghị kết nạp ngày {}, quá hạn quyết định kết nạp (hạn {}{})",
                vi_date(from),
                vi_date(due),
                if extended { ", đã gia hạn" } else { "" }
            ),
            format!(
                "Admission resolution of {}, the admission decision is overdue (due {}{})",
                en_date(from),
                en_date(due),
                if extended { ", extended" } else { "" }
            ),
        )
    } else {
        (
            format!(
                "Quyết định kết nạp ngày {}, quá hạn tổ chức lễ kết nạp (hạn {})",
                vi_date(from),
                vi_date(due)
            ),
            format!(
                "Admission decided on {}, the ceremony is overdue (due {})",
                en_date(from),
                en_date(due)
            ),
        )
    };
    Some(flag(
        m,
        RuleId::R9,
        vi,
        en,
        Evidence::Admission {
            step: step.to_string(),
            from,
            due,
            extended,
        },
    ))
}
