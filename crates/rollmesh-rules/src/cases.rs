//! R8, R9 and R10: the deadlines of an admission or a transfer, read from the member's case (the steps
//! in the dossier), and temporary attachments past their limit.
//! R8 raises the alert when probation ends and marks it overdue when the cell's review or the
//! confirmation decision is late; R9 marks an admission decision or a ceremony that is late.

use chrono::{Months, NaiveDate};
use rollmesh_model::case::{Case, CaseKind, CaseState, Step};

use crate::facts::AttachmentReason;

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
    // A case as it stood on `as_of`: steps dated later are not known yet.
    let known: Vec<Case> = m
        .cases
        .iter()
        .map(|c| Case {
            key: c.key,
            steps: c
                .steps
                .iter()
                .filter(|s| s.date <= as_of)
                .cloned()
                .collect(),
            conflicts: Vec::new(),
        })
        .filter(|c| !c.steps.is_empty())
        .collect();
    if rules.r10.enabled {
        out.extend(r10_temporary(rules, m, as_of));
        for c in known
            .iter()
            .filter(|c| c.key.kind == CaseKind::Transfer)
            .filter(|c| matches!(c.state(), CaseState::Open { .. }))
        {
            out.extend(r10_official(rules, calendar, m, c, as_of));
        }
    }
    for c in known
        .iter()
        .filter(|c| c.key.kind == CaseKind::Admission)
        .filter(|c| matches!(c.state(), CaseState::Open { .. }))
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

fn r10_official(
    rules: &RuleSet,
    calendar: &Calendar,
    m: &MemberFacts,
    c: &Case,
    as_of: NaiveDate,
) -> Option<Flag> {
    let rule = &rules.r10;
    let to = c
        .step(Step::Open)
        .and_then(|o| o.to.clone())
        .unwrap_or_default();
    let (from, due, vi, en) = match c.step(Step::Send) {
        None => {
            let from = c.step(Step::Open)?.date;
            let due = calendar.add_working_days(from, rule.decide_working_days)?;
            (
                from,
                due,
                format!(
                    "Đề nghị chuyển sinh hoạt đến {to} từ {}, chưa có quyết định chuyển (hạn {})",
                    vi_date(from),
                    vi_date(due)
                ),
                format!(
                    "Transfer to {to} proposed on {}, not decided (due {})",
                    en_date(from),
                    en_date(due)
                ),
            )
        }
        Some(s) => {
            let due = s
                .date
                .checked_add_days(chrono::Days::new(u64::from(rule.receive_days)))?;
            (
                s.date,
                due,
                format!(
                    "Đã giới thiệu chuyển sinh hoạt đến {to} ngày {}, chi bộ mới chưa tiếp nhận (hạn {})",
                    vi_date(s.date),
                    vi_date(due)
                ),
                format!(
                    "Transfer to {to} issued on {}, not yet received by the new cell (due {})",
                    en_date(s.date),
                    en_date(due)
                ),
            )
        }
    };
    (as_of > due).then(|| {
        flag(
            m,
            RuleId::R10,
            vi,
            en,
            Evidence::Transfer {
                transfer: "official".into(),
                from,
                due,
                host: None,
            },
        )
    })
}

/// A temporary attachment still running past its limit (12 months; 24 for study): flagged at the
/// member's home cell, which keeps counting them.
fn r10_temporary(rules: &RuleSet, m: &MemberFacts, as_of: NaiveDate) -> Option<Flag> {
    let rule = &rules.r10;
    let a = m.temporary.as_ref()?;
    let months = match a.reason {
        AttachmentReason::Work => rule.temporary_months,
        AttachmentReason::Study => rule.study_months,
    };
    let due = a.start.checked_add_months(Months::new(months))?;
    if as_of <= due || a.end <= due {
        return None;
    }
    let (why_vi, why_en) = match a.reason {
        AttachmentReason::Work => ("công tác", "work"),
        AttachmentReason::Study => ("học tập", "study"),
    };
    Some(flag(
        m,
        RuleId::R10,
        format!(
            "Sinh hoạt tạm thời tại {} ({why_vi}) từ {} đến {}, quá {months} tháng (hạn {})",
            a.host_cell,
            vi_date(a.start),
            vi_date(a.end),
            vi_date(due)
        ),
        format!(
            "Temporarily attached to {} ({why_en}) from {} to {}, beyond {months} months (limit {})",
            a.host_cell,
            en_date(a.start),
            en_date(a.end),
            en_date(due)
        ),
        Evidence::Transfer {
            transfer: "temporary".into(),
            from: a.start,
            due,
            host: Some(a.host_cell.clone()),
        },
    ))
}
