//! Requests about cases (admission, exemption, strike-off, discipline):
//! - `case.step` {member, open?: kind, step?, case?, date?, number?, for?, against?, sponsors?: [id],
//!   certificate?, form?, note?, to?} — opens a case (`open`) or takes its next step;
//! - `case.show` {id} — a member's cases, step by step;
//! - `case.list` {unit?, waiting?, all?} — the cases in scope; `waiting`: those whose next step is this
//!   node's to take (the inbox).

use anyhow::{anyhow, Result};
use rollmesh_engine::cases::{CaseRow, StepInput};
use rollmesh_engine::{msg, Node};
use rollmesh_model::case::{Case, CaseKind, CaseState, DisciplineForm, Step};
use rollmesh_model::member::parse_date;
use rollmesh_model::UnitPath;
use serde_json::{json, Value};

use super::{flag, int, text};

/// `Some(parse(req[key]))`, or `None` when absent. Besides a key or a full label, the clerk may type the
/// start of the Vietnamese label when only one value begins so ("kết nạp" for "Kết nạp đảng viên"); a
/// value that does not parse is refused naming the accepted ones.
fn keyed<T: Copy>(
    req: &Value,
    key: &str,
    parse: fn(&str) -> Option<T>,
    all: &[T],
    labels: fn(T) -> (&'static str, &'static str),
) -> Result<Option<T>> {
    let Some(raw) = text(req, key) else {
        return Ok(None);
    };
    if let Some(v) = parse(raw) {
        return Ok(Some(v));
    }
    let folded = rollmesh_model::text::fold(raw);
    let starts: Vec<T> = all
        .iter()
        .copied()
        .filter(|v| {
            let label = rollmesh_model::text::fold(labels(*v).1);
            !folded.is_empty() && (label == folded || label.starts_with(&format!("{folded} ")))
        })
        .collect();
    if let [one] = starts.as_slice() {
        return Ok(Some(*one));
    }
    // Or words of the label ("biểu quyết" for "Chi bộ biểu quyết"), when only one label has them.
    let padded = format!(" {folded} ");
    let within: Vec<T> = all
        .iter()
        .copied()
        .filter(|v| {
            let label = format!(" {} ", rollmesh_model::text::fold(labels(*v).1));
            !folded.is_empty() && label.contains(&padded)
        })
        .collect();
    if let [one] = within.as_slice() {
        return Ok(Some(*one));
    }
    let names = all
        .iter()
        .map(|v| format!("{} ({})", labels(*v).0, labels(*v).1))
        .collect::<Vec<_>>()
        .join(", ");
    let what = match key {
        "open" => msg!("loại hồ sơ", "case kind"),
        "step" => msg!("bước", "step"),
        "form" => msg!("hình thức kỷ luật", "form of discipline"),
        _ => key.to_string(),
    };
    Err(anyhow!(msg!(
        "{what} {raw:?} không hợp lệ; dùng một trong: {names}",
        "{what} {raw:?} is not known; use one of: {names}"
    )))
}

pub(super) fn step(node: &Node, req: &Value, via: &str) -> Result<Value> {
    let id = node.resolve(req["member"].as_str().unwrap_or(""))?;
    let label_kind = |k: CaseKind| (k.key(), k.label_vi());
    let label_step = |s: Step| (s.key(), s.label_vi());
    let label_form = |f: DisciplineForm| (f.key(), f.label_vi());
    let date = match text(req, "date") {
        None => None,
        Some(d) => Some(parse_date(d).ok_or_else(|| {
            anyhow!(msg!(
                "ngày {d:?} không hợp lệ (DD/MM/YYYY)",
                "date {d:?} is not a date (DD/MM/YYYY)"
            ))
        })?),
    };
    let count = |key: &str| -> Result<Option<u32>> {
        match &req[key] {
            Value::Null => Ok(None),
            v => int(v, key).map(Some),
        }
    };
    let input = StepInput {
        case: match text(req, "case") {
            Some(k) => Some(k.parse().map_err(|_| {
                anyhow!(msg!(
                    "{k:?} không phải mã hồ sơ; mã hồ sơ có dạng admission/2025-01-06 (xem rollmesh case show <mã đảng viên>)",
                    "{k:?} is not a case; a case reads like admission/2025-01-06 (see rollmesh case show <member id>)"
                ))
            })?),
            None => None,
        },
        open: keyed(req, "open", CaseKind::parse, CaseKind::ALL, label_kind)?,
        step: keyed(req, "step", Step::parse, Step::ALL, label_step)?,
        date,
        number: text(req, "number").map(str::to_string),
        yes: count("for")?,
        no: count("against")?,
        sponsors: req["sponsors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        certificate: text(req, "certificate").map(str::to_string),
        form: keyed(
            req,
            "form",
            DisciplineForm::parse,
            DisciplineForm::ALL,
            label_form,
        )?,
        note: text(req, "note").map(str::to_string),
        to: text(req, "to").map(str::to_string),
    };
    let done = node.case_step(id, &input)?;
    node.audit(
        "case.step",
        &id.to_string(),
        &format!("{} {} via {via}", done.record.case, done.record.step.key()),
    )?;
    let rec = node.record(&id)?;
    Ok(
        json!({"member": done.member, "name": rec.name(), "case": done.record.case.to_string(),
        "step": done.record.step.key(), "record": done.record, "state": done.state,
        "status": done.status.map(|s| s.key())}),
    )
}

/// A case as JSON, each step with the names a clerk reads beside the codes: the unit that took it,
/// a transfer's cells, an admission's sponsors.
fn case_json(node: &Node, c: &Case) -> Result<Value> {
    let tree = node.org_tree()?;
    let unit_name = |u: &str| {
        tree.as_ref().and_then(|t| {
            UnitPath::parse(u)
                .ok()
                .and_then(|p| t.unit(&p).map(|i| i.name.clone()))
        })
    };
    let named = |r: &rollmesh_model::case::StepRecord| -> Result<Value> {
        let mut v = serde_json::to_value(r)?;
        v["unit_name"] = json!(unit_name(&r.unit));
        if let Some(to) = &r.to {
            v["to_name"] = json!(unit_name(to));
        }
        if let Some(from) = &r.from {
            v["from_name"] = json!(unit_name(from));
        }
        if !r.sponsors.is_empty() {
            let mut names = Vec::new();
            for s in &r.sponsors {
                let name = match s.parse::<rollmesh_model::MemberId>() {
                    Ok(id) => node.store().record(&id)?.map(|r| r.name().to_string()),
                    Err(_) => None,
                };
                names.push(json!(name));
            }
            v["sponsor_names"] = json!(names);
        }
        Ok(v)
    };
    let steps = c.steps.iter().map(named).collect::<Result<Vec<_>>>()?;
    let conflicts = c.conflicts.iter().map(named).collect::<Result<Vec<_>>>()?;
    Ok(
        json!({"case": c.key.to_string(), "kind": c.key.kind.key(), "state": c.state(),
        "steps": steps, "conflicts": conflicts}),
    )
}

pub(super) fn show(node: &Node, req: &Value) -> Result<Value> {
    let id = node.resolve(req["id"].as_str().unwrap_or(""))?;
    let rec = node.record(&id)?;
    node.audit("case.show", &id.to_string(), "")?;
    let cases = node
        .cases_of(&id)?
        .iter()
        .map(|c| case_json(node, c))
        .collect::<Result<Vec<_>>>()?;
    Ok(json!({"member": id.to_string(), "name": rec.name(),
        "unit": rec.unit().map(|u| u.to_string()), "status": rec.status().map(|s| s.key()),
        "cases": cases}))
}

pub(super) fn list(node: &Node, req: &Value) -> Result<Value> {
    let scope = match text(req, "unit") {
        Some(u) => Some(node.resolve_unit(u)?),
        None => None::<UnitPath>,
    };
    let rows = node.case_list(scope.as_ref(), flag(req, "waiting"), flag(req, "all"))?;
    node.audit(
        "case.list",
        &scope.unwrap_or_else(|| node.unit().clone()).to_string(),
        "",
    )?;
    let rows: Vec<Value> = rows
        .iter()
        .map(|r| row_json(node, r))
        .collect::<Result<_>>()?;
    Ok(json!({ "cases": rows }))
}

fn row_json(node: &Node, r: &CaseRow) -> Result<Value> {
    let next = match r.state {
        CaseState::Open { next } => Some(next.key()),
        _ => None,
    };
    let since = r.case.steps.iter().map(|s| s.date).max();
    let case = case_json(node, &r.case)?;
    Ok(
        json!({"member": r.member, "name": r.name, "unit": r.unit, "status": r.status,
        "case": r.case.key.to_string(), "kind": r.case.key.kind.key(), "state": r.state,
        "next": next, "next_level": r.next_level, "next_level_name": r.next_level_name,
        "waiting_here": r.waiting_here, "since": since, "steps": case["steps"]}),
    )
}
