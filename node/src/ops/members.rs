//! Member requests: add, edit (set, clear, events), show, list (paged, filtered), search, history (old →
//! new values, the person and the node), statistics, the changes feed for other systems, and the node's
//! identity. Each reply is the JSON the CLI prints with `--json` and renders as text otherwise.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Context, Result};
use automerge::{Automerge, Change};
use rollmesh_engine::{msg, Node};
use rollmesh_model::{
    Dossier, DossierEdit, Event, EventKind, Field, MemberRecord, Status, UnitPath,
};
use serde_json::{json, Value};

use super::{int_or, text};
use crate::render;

/// Field values from a JSON object of field keys, normalised.
pub fn fields_of(v: &Value) -> Result<BTreeMap<Field, String>> {
    let mut out = BTreeMap::new();
    if let Some(obj) = v.as_object() {
        for (k, val) in obj {
            let f = Field::from_key(k)?;
            let s = val
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| val.to_string());
            out.insert(f, f.normalize(&s)?);
        }
    } else if !v.is_null() {
        bail!("fields: not an object of field keys");
    }
    Ok(out)
}

/// `member.add` {fields, unit?}.
pub(super) fn add(node: &Node, req: &Value) -> Result<Value> {
    let mut fields = fields_of(&req["fields"])?;
    if let Some(u) = text(req, "unit") {
        fields.insert(Field::Unit, node.resolve_unit(u)?.to_string());
    }
    // A clerk places a member in a cell (the node's own unit when none is named).
    let unit = match fields.get(&Field::Unit) {
        Some(u) => UnitPath::parse(u)?,
        None => node.unit().clone(),
    };
    node.check_cell(&unit)?;
    if !fields.contains_key(&Field::FullName) {
        bail!(msg!(
            "cần họ tên (--name)",
            "a full name is required (--name)"
        ));
    }
    let id = node.add_member(fields, Vec::new())?;
    let rec = node.record(&id)?;
    node.audit("member.add", &id.to_string(), rec.name())?;
    Ok(render::record_json(&rec))
}

/// An event from JSON {kind, date?, detail}.
fn event_of(v: &Value) -> Result<Event> {
    let kind = v["kind"].as_str().unwrap_or("");
    let kind = EventKind::parse(kind).ok_or_else(|| {
        anyhow!(msg!(
            "loại sự kiện không rõ: {kind:?}",
            "unknown event kind: {kind:?}"
        ))
    })?;
    if matches!(
        kind,
        EventKind::CaseStep
            | EventKind::Admission
            | EventKind::Confirmation
            | EventKind::Discipline
            | EventKind::Transfer
    ) {
        bail!(msg!(
            "kết nạp, công nhận, kỷ luật, chuyển sinh hoạt và các bước hồ sơ được ghi bằng rollmesh case, không ghi tay",
            "admissions, confirmations, disciplines, transfers and case steps are recorded with rollmesh case, not by hand"
        ));
    }
    let date = match v["date"].as_str().filter(|d| !d.is_empty()) {
        Some(d) => Some(Field::AdmissionDate.normalize(d)?),
        None => None,
    };
    let detail = rollmesh_model::text::clean(v["detail"].as_str().unwrap_or(""));
    if detail.chars().any(rollmesh_model::text::is_hidden) || detail.chars().count() > 500 {
        bail!(msg!(
            "nội dung sự kiện quá dài hoặc có ký tự ẩn",
            "the event's detail is too long or holds hidden characters"
        ));
    }
    Ok(Event { kind, date, detail })
}

/// `member.edit` {id, fields?, unit?, clear?: [key], events?: [{kind, date, detail}]}.
pub(super) fn edit(node: &Node, req: &Value) -> Result<Value> {
    let id = node.resolve(text(req, "id").unwrap_or(""))?;
    let mut edit = DossierEdit {
        set: fields_of(&req["fields"])?,
        ..DossierEdit::default()
    };
    if let Some(u) = text(req, "unit") {
        edit.set
            .insert(Field::Unit, node.resolve_unit(u)?.to_string());
    }
    if let Some(u) = edit.set.get(&Field::Unit) {
        node.check_cell(&UnitPath::parse(u)?)?;
    }
    for c in req["clear"].as_array().into_iter().flatten() {
        edit.clear
            .insert(Field::from_key(c.as_str().unwrap_or(""))?);
    }
    for e in req["events"].as_array().into_iter().flatten() {
        edit.events.push(event_of(e)?);
    }
    // Admission and confirmation are decisions: their status comes from the case's steps, taken by the
    // unit entitled to them (`case step`), never from a hand edit.
    let from = node.record(&id)?.status();
    let to = edit.set.get(&Field::Status).and_then(|s| Status::parse(s));
    if matches!(
        (from, to),
        (
            Some(Status::Candidate),
            Some(Status::Probationary | Status::Official)
        ) | (Some(Status::Probationary), Some(Status::Official))
    ) {
        bail!(msg!(
            "kết nạp và công nhận chính thức được ghi bằng quyết định trong hồ sơ (rollmesh case step … decision / confirm), không sửa tay trạng thái",
            "admission and confirmation are recorded as decisions of the member's case (rollmesh case step … decision / confirm), not by editing the status"
        ));
    }
    if edit.is_empty() {
        bail!(msg!(
            "không có gì để sửa (dùng --phone, --set khóa=giá_trị, --clear, --event)",
            "nothing to change (use --phone, --set key=value, --clear, --event)"
        ));
    }
    let changed = node.edit_member(id, &edit)?;
    let keys: Vec<&str> = edit
        .set
        .keys()
        .chain(edit.clear.iter())
        .map(|f| f.key())
        .collect();
    node.audit("member.edit", &id.to_string(), &keys.join(","))?;
    Ok(json!({"changed": changed, "member": render::record_json(&node.record(&id)?)}))
}

/// `member.show` {id}: the record, concurrent values, events and document heads.
pub(super) fn show(node: &Node, req: &Value) -> Result<Value> {
    let id = node.resolve(text(req, "id").unwrap_or(""))?;
    let rec = node.record(&id)?;
    node.audit("member.show", &id.to_string(), "")?;
    let dossier = node.store().dossier(&id)?.context("dossier missing")?;
    let conflicts = dossier.conflicts()?;
    let heads: Vec<String> = dossier
        .doc()
        .get_heads()
        .iter()
        .map(|h| rollmesh_proto::identity::hex(&h.0))
        .collect();
    let mut v = render::record_json(&rec);
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "conflicts".into(),
            json!(conflicts
                .iter()
                .map(|(f, vals)| (f.key().to_string(), vals.clone()))
                .collect::<BTreeMap<_, _>>()),
        );
        o.insert(
            "events".into(),
            json!(rec
                .events
                .iter()
                .map(|e| json!({"kind": e.kind.key(), "date": e.date, "detail": e.detail}))
                .collect::<Vec<_>>()),
        );
        o.insert("heads".into(), json!(heads));
    }
    Ok(v)
}

/// `member.list` {unit?, status?, offset?, limit?}: a page of the members in a subtree (`limit` 0 = all),
/// with the total of the subtree (from the counters when there is no status filter).
pub(super) fn list(node: &Node, req: &Value) -> Result<Value> {
    let unit = match text(req, "unit") {
        Some(u) => node.resolve_unit(u)?,
        None => node.unit().clone(),
    };
    let status = match text(req, "status") {
        Some(s) => Some(
            Status::parse(s)
                .with_context(|| msg!("trạng thái không rõ: {s}", "unknown status: {s}"))?,
        ),
        None => None,
    };
    let offset: usize = int_or(req, "offset", 0)?;
    let limit = match int_or(req, "limit", 0)? {
        0 => usize::MAX,
        n => n,
    };
    let keep = move |r: &MemberRecord| status.is_none_or(|s| r.status() == Some(s));
    let page = node.store().list_page(
        &unit,
        offset,
        limit,
        status
            .is_some()
            .then_some(&keep as &dyn Fn(&MemberRecord) -> bool),
    )?;
    let total = node.store().subtree_total(&unit, status.map(|s| s.key()))?;
    node.audit(
        "member.list",
        &unit.to_string(),
        &format!("{} records", page.len()),
    )?;
    Ok(json!({"total": total, "offset": offset,
        "members": page.iter().map(render::record_json).collect::<Vec<_>>()}))
}

/// How many matches past the page a search counts before it says "more than" (a clerk refines a
/// search long before 250 names; counting further costs a scan of every posting of a common name).
const SEARCH_COUNT: usize = 200;

/// `member.search` {text, limit?}: by name, ignoring case and diacritics; `total` is exact when
/// `total_exact`, otherwise a lower bound.
pub(super) fn search(node: &Node, req: &Value) -> Result<Value> {
    let q = text(req, "text").ok_or_else(|| {
        anyhow!(msg!(
            "cần từ khóa tìm kiếm (text)",
            "a search text is required (text)"
        ))
    })?;
    let limit = match int_or(req, "limit", 200)? {
        0 => usize::MAX,
        n => n,
    };
    let (list, total, exact) =
        node.store()
            .search_counted(q, limit, limit.saturating_add(SEARCH_COUNT))?;
    node.audit("member.search", q, &format!("{} records", list.len()))?;
    Ok(json!({"total": total, "total_exact": exact,
        "members": list.iter().map(render::record_json).collect::<Vec<_>>()}))
}

/// Field values of a document, by key (conflicts resolved as the record resolves them).
fn values_of(id: rollmesh_model::MemberId, doc: &Automerge) -> Option<MemberRecord> {
    Dossier::from_doc(id, doc.clone()).ok()?.record().ok()
}

/// `member.history` {id}: each change in the order this node applied it: the node that signed it
/// (`author`), the person its message names, when, the keys it changed (`changed`, as its message lists
/// them) and each field from → to (`changes`).
pub(super) fn history(node: &Node, req: &Value) -> Result<Value> {
    let id = node.resolve(text(req, "id").unwrap_or(""))?;
    node.audit("member.history", &id.to_string(), "")?;
    let mut doc = Automerge::new();
    let mut before: Option<MemberRecord> = None;
    let mut out = Vec::new();
    for (seq, env) in node.store().history(&id)? {
        let change = Change::from_bytes(env.change_bytes().to_vec())
            .map_err(|e| anyhow!("stored change unreadable: {e}"))?;
        let message = change.message().unwrap_or_default().to_string();
        let (what, person) = rollmesh_model::dossier::change_person(&message);
        doc.apply_changes([change.clone()])
            .map_err(|e| anyhow!("stored change does not apply: {e}"))?;
        let after = values_of(id, &doc);
        let mut changed = Vec::new();
        if let Some(a) = &after {
            for f in Field::ALL {
                let old = before.as_ref().and_then(|b| b.get(*f));
                let new = a.get(*f);
                if old != new {
                    changed.push(json!({"field": f.key(), "old": old, "new": new}));
                }
            }
        }
        let events_before = before.as_ref().map_or(0, |b| b.events.len());
        let events: Vec<Value> = after
            .as_ref()
            .map(|a| {
                a.events
                    .iter()
                    .skip(events_before)
                    .map(|e| json!({"kind": e.kind.key(), "date": e.date, "detail": e.detail}))
                    .collect()
            })
            .unwrap_or_default();
        // What the message says changed: `create`, field keys, `-key` for removals, `+event:kind`.
        let keys: Vec<&str> = if what == "create" {
            vec!["create"]
        } else {
            what.strip_prefix("edit ")
                .unwrap_or(what)
                .split(' ')
                .collect()
        };
        out.push(json!({
            "seq": seq,
            "hash": rollmesh_proto::identity::hex(&change.hash().0),
            "author": env.author().node_id().to_string(),
            "person": person,
            "time": render::time_text(change.timestamp()),
            "unix_time": change.timestamp(),
            "changed": keys,
            "changes": changed,
            "events": events,
        }));
        if after.is_some() {
            before = after;
        }
    }
    Ok(json!({"id": id.to_string(), "entries": out}))
}

/// `stats` {unit?, depth?}: headcount by unit, status and sector, from the counters.
pub(super) fn stats(node: &Node, req: &Value) -> Result<Value> {
    let scope = match text(req, "unit") {
        Some(u) => UnitPath::parse(u)?,
        None => node.unit().clone(),
    };
    let depth: usize = int_or(req, "depth", 1)?;
    let table = headcount_table(node, &scope, depth)?;
    node.audit(
        "stats",
        &scope.to_string(),
        &format!("{} rows", table.len()),
    )?;
    Ok(json!({"unit": scope.to_string(), "rows": table
        .iter()
        .map(|((u, st, se), n)| json!({"unit": u, "status": st, "sector": se, "count": n}))
        .collect::<Vec<_>>()}))
}

/// `id` {}: the node's id and unit.
pub(super) fn id(node: &Node) -> Result<Value> {
    Ok(
        json!({"node_id": node.id().to_string(), "unit": node.unit().to_string(),
        "public_key": node.store().meta().public_key().to_hex()}),
    )
}

/// `changes` {since?, limit?}: member records changed after log position `since`, each member once per
/// page at its latest position in the page, with the cursor to pass next (`last_seq`). The log position
/// is this node's own and survives restarts; `pending` says whether more follows.
pub(super) fn changes(node: &Node, req: &Value) -> Result<Value> {
    let since: u64 = int_or(req, "since", 0)?;
    let limit: usize = int_or(req, "limit", 500)?.clamp(1, 5000);
    let (entries, last) = node.store().log_since(since, limit)?;
    let mut latest: BTreeMap<rollmesh_model::MemberId, u64> = BTreeMap::new();
    for e in &entries {
        if e.change.kind() == rollmesh_proto::DocKind::Member {
            latest.insert(e.change.doc(), e.seq);
        }
    }
    let mut results: Vec<(u64, Value)> = Vec::new();
    for (id, seq) in latest {
        let member = node.store().record(&id)?.map(|r| render::record_json(&r));
        results.push((
            seq,
            json!({"seq": seq, "id": id.to_string(), "member": member,
            "deleted": member.is_none()}),
        ));
    }
    results.sort_by_key(|(s, _)| *s);
    node.audit(
        "changes",
        &since.to_string(),
        &format!("{} records", results.len()),
    )?;
    Ok(json!({
        "results": results.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
        "last_seq": last,
        "pending": last < node.store().last_seq(),
    }))
}

/// Headcount of `scope` by (unit `depth` levels below it, status, sector), from the store's counters.
pub fn headcount_table(
    node: &Node,
    scope: &UnitPath,
    depth: usize,
) -> Result<BTreeMap<(String, String, String), u64>> {
    let keep = scope.depth() + 1 + depth;
    let mut table = BTreeMap::new();
    for h in node.store().headcount(scope)? {
        let unit: Vec<&str> = h.unit.segments().take(keep).collect();
        *table
            .entry((unit.join("."), h.status, h.sector))
            .or_default() += h.count;
    }
    Ok(table)
}
