//! Files for Excel and other systems: `member.export` (a workbook, a CSV for Excel, a machine CSV or
//! JSON, returned base64 with its type) and `member.import` (a file sent base64, imported like
//! `member import` does it locally, with the rejected rows returned as a file).

use anyhow::{anyhow, Context, Result};
use rollmesh_engine::csv_import::{self, neutralise, XlsxCell};
use rollmesh_engine::{i18n, Node};
use rollmesh_model::member::{parse_date, FieldKind};
use rollmesh_model::{Field, MemberRecord};
use serde_json::{json, Value};

use super::{flag, text};
use crate::render;

/// The members an export covers: a unit's subtree (default: the node's scope), in unit then id order.
fn members_of(node: &Node, req: &Value) -> Result<Vec<MemberRecord>> {
    let unit = match text(req, "unit") {
        Some(u) => node.resolve_unit(u)?,
        None => node.unit().clone(),
    };
    Ok(node.store().list_page(&unit, 0, usize::MAX, None)?)
}

/// `member.export` {format: xlsx|csv|json, keys?, sep?, unit?} → {name, mime, count, data (base64)}.
/// `xlsx` and the default CSV are for Excel (labels, DD/MM/YYYY, Vietnamese values; the CSV with a UTF-8
/// BOM); `keys` gives the machine CSV (field keys, values as stored). Every text cell that a spreadsheet
/// would run as a formula starts with `'`; each form imports back (its id column updates members).
pub(super) fn export(node: &Node, req: &Value) -> Result<Value> {
    let format = text(req, "format").unwrap_or("csv");
    let keys = flag(req, "keys");
    let list = members_of(node, req)?;
    node.audit("member.export", format, &format!("{} records", list.len()))?;
    let id_header = if keys { "id" } else { i18n::pick("Mã", "Id") };
    let header: Vec<String> = std::iter::once(id_header.to_string())
        .chain(Field::ALL.iter().map(|f| {
            if keys {
                f.key().to_string()
            } else {
                render::label(*f).to_string()
            }
        }))
        .collect();
    let (bytes, mime, ext) = match format {
        "json" => {
            let arr: Vec<_> = list.iter().map(render::record_json).collect();
            let mut buf = serde_json::to_vec_pretty(&arr)?;
            buf.push(b'\n');
            (buf, "application/json", "json")
        }
        "xlsx" => {
            let rows: Vec<Vec<XlsxCell>> = list
                .iter()
                .map(|r| {
                    std::iter::once(XlsxCell::Text(r.id.to_string()))
                        .chain(Field::ALL.iter().map(|f| match r.get(*f) {
                            Some(v) if f.kind() == FieldKind::Date => match parse_date(v) {
                                Some(d) => XlsxCell::Date(d),
                                None => XlsxCell::Text(neutralise(v).into_owned()),
                            },
                            Some(v) => XlsxCell::Text(
                                neutralise(&csv_import::display_cell(*f, v)).into_owned(),
                            ),
                            None => XlsxCell::Text(String::new()),
                        }))
                        .collect()
                })
                .collect();
            let sheet = i18n::pick("Đảng viên", "Members");
            let bytes = csv_import::write_xlsx(sheet, &header, &rows).map_err(|e| anyhow!(e))?;
            (
                bytes,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "xlsx",
            )
        }
        "csv" => {
            let sep = match text(req, "sep").unwrap_or(",") {
                ";" | "semicolon" => b';',
                "\t" | "tab" => b'\t',
                _ => b',',
            };
            let mut buf: Vec<u8> = Vec::new();
            if !keys {
                buf.extend_from_slice(b"\xEF\xBB\xBF");
            }
            let mut w = csv::WriterBuilder::new()
                .delimiter(sep)
                .from_writer(&mut buf);
            w.write_record(header.iter().map(|h| neutralise(h).into_owned()))?;
            for r in &list {
                let cells = Field::ALL.iter().map(|f| match r.get(*f) {
                    Some(v) if !keys => csv_import::display_cell(*f, v),
                    Some(v) => v.to_string(),
                    None => String::new(),
                });
                let row = std::iter::once(r.id.to_string()).chain(cells);
                w.write_record(row.map(|c| neutralise(&c).into_owned()))?;
            }
            w.flush()?;
            drop(w);
            (buf, "text/csv; charset=utf-8", "csv")
        }
        other => anyhow::bail!(rollmesh_engine::msg!(
            "định dạng không rõ: {other:?} (xlsx, csv, json)",
            "unknown format: {other:?} (xlsx, csv, json)"
        )),
    };
    Ok(json!({
        "name": format!("dang-vien.{ext}"),
        "mime": mime,
        "count": list.len(),
        "data": data_encoding::BASE64.encode(&bytes),
    }))
}

/// `member.import` {name, data (base64), dry_run?} → the import's summary and, when rows were refused,
/// the rejected-rows file (base64) for the caller to save beside its input.
pub(super) fn import(node: &Node, req: &Value) -> Result<Value> {
    let bytes = data_encoding::BASE64
        .decode(text(req, "data").unwrap_or("").as_bytes())
        .context("data: not base64")?;
    let name = text(req, "name").unwrap_or("import.csv");
    // Only the file's own name: the temporary copy stays inside its private directory.
    let name: String = std::path::Path::new(name)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.') && !n.is_empty())
        .unwrap_or_else(|| "import.csv".into());
    let guard = scratch(node)?;
    let path = guard.0.join(&name);
    {
        let mut f = csv_import::create_private_file(&path)?;
        std::io::Write::write_all(&mut f, &bytes)?;
    }
    let dry_run = flag(req, "dry_run");
    let (mut v, rejected) = crate::import::import_summary(node, &path, &name, dry_run)?;
    // The temporary copy's path means nothing to the caller: the file's own name instead.
    v["rejected_file"] = Value::Null;
    if let Some(p) = rejected {
        let content = std::fs::read(&p)?;
        v["rejected_csv"] = json!(data_encoding::BASE64.encode(&content));
        v["rejected_name"] = json!(p.file_name().map(|n| n.to_string_lossy().into_owned()));
    }
    drop(guard);
    Ok(v)
}

/// Removes a temporary directory when dropped.
struct RemoveDir(std::path::PathBuf);

impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A private temporary directory inside the node's data directory, removed when dropped.
fn scratch(node: &Node) -> Result<RemoveDir> {
    let dir = node
        .dir()
        .join(format!("tmp-{}", rollmesh_engine::accounts::random_token()));
    let mut b = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(&dir).with_context(|| dir.display().to_string())?;
    Ok(RemoveDir(dir))
}

/// Removes temporary directories a node stopped in the middle of a request left behind (called when
/// the node starts).
pub fn clean_scratch(data: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(data) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("tmp-") && name.len() == 68 && e.path().is_dir() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// `bundle.export` {since?} → {changes, since, last_seq, data (base64 of the bundle file)}.
pub(super) fn bundle_export(node: &Node, req: &Value) -> Result<Value> {
    let since: u64 = super::int_or(req, "since", 0)?;
    let tmp = scratch(node)?;
    let path = tmp.0.join("export.bundle");
    let (count, last) = node.export_bundle(&path, since)?;
    let bytes = std::fs::read(&path)?;
    node.audit("bundle.export", "api", &format!("{count} changes"))?;
    Ok(json!({"changes": count, "since": since, "last_seq": last,
        "data": data_encoding::BASE64.encode(&bytes)}))
}

/// `bundle.import` {data (base64 of a bundle file)} → what was applied and refused.
pub(super) fn bundle_import(node: &Node, req: &Value) -> Result<Value> {
    let bytes = data_encoding::BASE64
        .decode(text(req, "data").unwrap_or("").as_bytes())
        .context("data: not base64")?;
    let tmp = scratch(node)?;
    let path = tmp.0.join("import.bundle");
    {
        let mut f = csv_import::create_private_file(&path)?;
        std::io::Write::write_all(&mut f, &bytes)?;
    }
    let name = text(req, "name").unwrap_or("bundle");
    let r = node.import_bundle(&path)?;
    node.audit(
        "bundle.import",
        name,
        &format!("{} applied", r.applied.applied.len()),
    )?;
    let reasons: Vec<_> = r
        .rejected
        .iter()
        .chain(r.applied.rejected.iter())
        .map(|x| json!({"code": x.code.key(), "detail": x.detail}))
        .collect();
    Ok(
        json!({"received": r.received, "applied": r.applied.applied.len(),
        "duplicates": r.applied.duplicates, "waiting": r.applied.pending,
        "outside_scope": r.applied.skipped, "revocations": r.revocations, "chains": r.chains,
        "refused_credentials": r.refused_credentials,
        "rejected": reasons, "complete": r.complete}),
    )
}

/// `member.export-doc` {id} → {id, bytes, data (base64 of the raw Automerge document)}.
pub(super) fn export_doc(node: &Node, req: &Value) -> Result<Value> {
    let id = node.resolve(text(req, "id").unwrap_or(""))?;
    let dossier = node
        .store()
        .dossier(&id)?
        .ok_or_else(|| anyhow!("dossier missing"))?;
    node.audit("member.export-doc", &id.to_string(), "")?;
    let bytes = dossier.doc().save();
    Ok(json!({"id": id.to_string(), "bytes": bytes.len(),
        "data": data_encoding::BASE64.encode(&bytes)}))
}

/// `verify` {}: every stored signature and document checked again.
pub(super) fn verify(node: &Node) -> Result<Value> {
    let r = node.store().verify()?;
    Ok(
        json!({"clean": r.is_clean(), "changes": r.changes, "documents": r.documents,
        "pending": r.pending, "quarantined": r.quarantined, "problems": r.problems}),
    )
}

/// `trust.add` {node_id, note?}, `trust.list` {}, `trust.remove` {node_id}: the hand-kept trust list.
pub(super) fn trust(node: &Node, req: &Value) -> Result<Value> {
    let id =
        || -> Result<rollmesh_proto::NodeId> { Ok(text(req, "node_id").unwrap_or("").parse()?) };
    match req["cmd"].as_str().unwrap_or("") {
        "trust.add" => {
            let id = id()?;
            let new = node
                .store()
                .trust_add(id, text(req, "note").unwrap_or(""))?;
            node.audit("trust.add", &id.to_string(), "")?;
            Ok(json!({"node_id": id.to_string(), "added": new}))
        }
        "trust.remove" => {
            let id = id()?;
            let was = node.store().trust_remove(id)?;
            node.audit("trust.remove", &id.to_string(), "")?;
            Ok(json!({"node_id": id.to_string(), "removed": was}))
        }
        _ => Ok(json!(node
            .store()
            .trust_list()?
            .iter()
            .map(|t| json!({"node_id": t.node_id, "note": t.note,
                "added_at": render::time_text(t.added_at), "unix_time": t.added_at}))
            .collect::<Vec<_>>())),
    }
}
