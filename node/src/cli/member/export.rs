//! `member export` (xlsx, CSV or JSON) and `member export-doc` (one raw Automerge document).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::json;

use super::ExportFormat;
use crate::cli::DataDir;
use crate::render::print_json;
use rollmesh_engine::csv_import;
use rollmesh_engine::msg;

/// `member export`: every member as an Excel workbook, CSV or JSON, to stdout or a file (through the
/// running node if it holds the store). See `member.export` for the forms.
pub(super) fn export(
    format: Option<ExportFormat>,
    keys: bool,
    sep: u8,
    out: Option<PathBuf>,
    data: DataDir,
) -> Result<u8> {
    // `--out ds.xlsx` means a workbook: the file's extension decides when --format is not given.
    let format = format.unwrap_or_else(|| {
        let ext = out
            .as_ref()
            .and_then(|p| p.extension())
            .map(|e| e.to_string_lossy().to_lowercase());
        match ext.as_deref() {
            Some("xlsx") => ExportFormat::Xlsx,
            Some("json") => ExportFormat::Json,
            _ => ExportFormat::Csv,
        }
    });
    let format_key = match format {
        ExportFormat::Csv => "csv",
        ExportFormat::Json => "json",
        ExportFormat::Xlsx => "xlsx",
    };
    if format_key == "xlsx" && out.is_none() && std::io::IsTerminal::is_terminal(&std::io::stdout())
    {
        anyhow::bail!(msg!(
            "tệp Excel cần --out <tệp.xlsx>",
            "an Excel workbook needs --out <file.xlsx>"
        ));
    }
    let sep = match sep {
        b';' => ";",
        b'\t' => "tab",
        _ => ",",
    };
    let req = json!({"cmd": "member.export", "format": format_key, "keys": keys, "sep": sep});
    let v = crate::ops::call(&data.data, req)?;
    let buf = data_encoding::BASE64
        .decode(v["data"].as_str().unwrap_or("").as_bytes())
        .context("export")?;
    match out {
        Some(p) => {
            let _ = std::fs::remove_file(&p);
            let mut f =
                csv_import::create_private_file(&p).with_context(|| p.display().to_string())?;
            f.write_all(&buf).with_context(|| p.display().to_string())?;
            let (n, p) = (&v["count"], p.display());
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
    let v = crate::ops::call(&data.data, json!({"cmd": "member.export-doc", "id": id}))?;
    let bytes = data_encoding::BASE64
        .decode(v["data"].as_str().unwrap_or("").as_bytes())
        .context("document")?;
    let id = v["id"].as_str().unwrap_or("");
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
