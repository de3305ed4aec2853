//! `member export` (CSV or JSON) and `member export-doc` (one raw Automerge document).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use rollmesh_model::Field;
use serde_json::json;

use super::ExportFormat;
use crate::cli::{open, DataDir};
use crate::render::{self, print_json};
use rollmesh_engine::msg;

/// `member export`: every member as CSV or JSON, to stdout or a file.
pub(super) fn export(format: ExportFormat, out: Option<PathBuf>, data: DataDir) -> Result<u8> {
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
            let mut w = csv::Writer::from_writer(&mut buf);
            let mut header = vec!["id".to_string()];
            header.extend(Field::ALL.iter().map(|f| f.key().to_string()));
            w.write_record(&header)?;
            for r in &list {
                let mut row = vec![r.id.to_string()];
                row.extend(
                    Field::ALL
                        .iter()
                        .map(|f| r.get(*f).unwrap_or("").to_string()),
                );
                w.write_record(&row)?;
            }
            w.flush()?;
        }
    }
    match out {
        Some(p) => {
            std::fs::write(&p, &buf).with_context(|| p.display().to_string())?;
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
