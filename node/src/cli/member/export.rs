//! `member export` (CSV or JSON) and `member export-doc` (one raw Automerge document).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use rollmesh_model::Field;
use serde_json::json;

use super::ExportFormat;
use crate::cli::{open, DataDir};
use crate::i18n;
use crate::render::{self, print_json};
use rollmesh_engine::csv_import::{self, neutralise};
use rollmesh_engine::msg;

/// `member export`: every member as CSV or JSON, to stdout or a file. The CSV is for Excel unless
/// `keys`: a UTF-8 BOM, field labels as the header, dates as DD/MM/YYYY and sex, status and sector by
/// their label, in the current language; with `keys`, the machine form (field keys, values as stored, no
/// BOM). Either way a cell that a spreadsheet would run as a formula starts with `'`, and either form
/// imports back (`member import` updates the members its `id` column names).
pub(super) fn export(
    format: ExportFormat,
    keys: bool,
    sep: u8,
    out: Option<PathBuf>,
    data: DataDir,
) -> Result<u8> {
    let node = open(&data)?;
    let list = node.store().list(None)?;
    node.audit(
        "member.export",
        &format!("{format:?}").to_lowercase(),
        &format!("{} records", list.len()),
    )?;
    let mut buf: Vec<u8> = Vec::new();
    match format {
        ExportFormat::Json => {
            let arr: Vec<_> = list.iter().map(render::record_json).collect();
            serde_json::to_writer_pretty(&mut buf, &arr)?;
            buf.push(b'\n');
        }
        ExportFormat::Csv => {
            if !keys {
                buf.extend_from_slice(b"\xEF\xBB\xBF");
            }
            let mut w = csv::WriterBuilder::new()
                .delimiter(sep)
                .from_writer(&mut buf);
            let id_header = if keys { "id" } else { i18n::pick("Mã", "Id") };
            let header = std::iter::once(id_header).chain(Field::ALL.iter().map(|f| {
                if keys {
                    f.key()
                } else {
                    render::label(*f)
                }
            }));
            w.write_record(header.map(|h| neutralise(h).into_owned()))?;
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
        }
    }
    match out {
        Some(p) => {
            let mut f =
                csv_import::create_private_file(&p).with_context(|| p.display().to_string())?;
            f.write_all(&buf).with_context(|| p.display().to_string())?;
            let (n, p) = (list.len(), p.display());
            eprintln!(
                "{}",
                msg!(
                    "Đã xuất {n} đảng viên ra {p}.",
                    "Exported {n} members to {p}."
                )
            );
        }
        None => std::io::stdout().write_all(&buf)?,
    }
    Ok(0)
}

/// `member export-doc`: a member's raw Automerge document.
pub(super) fn export_doc(id: String, out: PathBuf, data: DataDir, json: bool) -> Result<u8> {
    let node = open(&data)?;
    let id = node.resolve(&id)?;
    let dossier = node.store().dossier(&id)?.context("dossier missing")?;
    node.audit(
        "member.export-doc",
        &id.to_string(),
        &out.display().to_string(),
    )?;
    let bytes = dossier.doc().save();
    std::fs::write(&out, &bytes).with_context(|| out.display().to_string())?;
    if json {
        print_json(
            &json!({"id": id.to_string(), "out": out.display().to_string(), "bytes": bytes.len()}),
        );
    } else {
        let (n, p) = (bytes.len(), out.display());
        println!(
            "{}",
            msg!(
                "Đã ghi tài liệu Automerge ({n} byte) ra {p}.",
                "Wrote the Automerge document ({n} bytes) to {p}."
            )
        );
    }
    Ok(0)
}
