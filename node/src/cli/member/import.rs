//! `member import`: the command's side — the file imported on the node the CLI opened, or sent to the
//! running node — and the closing report. The import itself is `crate::import`.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::json;

use crate::cli::{open, DataDir, EXIT_ROWS_REJECTED};
use crate::import::{outcome_json, run_import};
use crate::render::print_json;
use rollmesh_engine::csv_import;
use rollmesh_engine::msg;

/// `member import`: validates every row; unless `dry_run`, writes the valid ones in chunks of `batch`
/// and the refused ones to the rejected-rows file. Exits 3 if some rows were rejected. While the node
/// runs, the file goes to it through its API and the rejected rows come back to be written here.
pub(super) fn import(
    path: &Path,
    dry_run: bool,
    batch: usize,
    data: &DataDir,
    json: bool,
) -> Result<u8> {
    let summary = match open(data) {
        Ok(node) => {
            let label = path.display().to_string();
            let out = run_import(&node, path, &label, dry_run, batch, json, false)?;
            outcome_json(&out)
        }
        Err(e) if crate::client::held_by_daemon(&e) => {
            let bytes = std::fs::read(path).with_context(|| path.display().to_string())?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let req = json!({"cmd": "member.import", "name": name, "dry_run": dry_run,
                "data": data_encoding::BASE64.encode(&bytes)});
            let mut v = crate::client::call(&data.data, &req)?;
            // The commits the node made, as a local import prints them while it runs.
            let mut o = std::io::stdout().lock();
            for c in v["commits"].as_array().into_iter().flatten() {
                let n = |k: &str| c[k].as_u64().unwrap_or(0);
                crate::import::print_commit(
                    &mut o,
                    n("first_line"),
                    n("last_line"),
                    n("rows") as usize,
                    n("total_committed") as usize,
                    json,
                )?;
            }
            drop(o);
            if let (Some(b64), Some(n)) = (v["rejected_csv"].as_str(), v["rejected_name"].as_str())
            {
                let content = data_encoding::BASE64
                    .decode(b64.as_bytes())
                    .context("rejected rows")?;
                let target = path.with_file_name(n);
                let _ = std::fs::remove_file(&target);
                let mut f = csv_import::create_private_file(&target)
                    .with_context(|| target.display().to_string())?;
                f.write_all(&content)?;
                v["rejected_file"] = json!(target.display().to_string());
            }
            v
        }
        Err(e) => return Err(e),
    };
    print_summary(&summary, dry_run, json);
    Ok(
        if summary["bad"].as_array().is_some_and(|b| !b.is_empty()) {
            EXIT_ROWS_REJECTED
        } else {
            0
        },
    )
}

/// At most this many refused rows are listed on the terminal; the rejected-rows file has them all.
const LISTED: usize = 100;

/// The closing report: the rejected rows, then the totals and where the rejected rows went.
fn print_summary(out: &serde_json::Value, dry_run: bool, json: bool) {
    let n = |k: &str| out[k].as_u64().unwrap_or(0) as usize;
    let (created, updated, unchanged) = (n("created"), n("updated"), n("unchanged"));
    let bad = out["bad"].as_array().cloned().unwrap_or_default();
    let total = created + updated + unchanged + bad.len();
    let valid = total - bad.len();
    let rejected = bad.len();
    let duplicates = bad
        .iter()
        .filter(|b| b.get("duplicate_of").is_some() || b.get("duplicate_of_line").is_some())
        .count();
    let file = out["rejected_file"].as_str().map(str::to_string);
    if json {
        let (imported, updated) = if dry_run { (0, 0) } else { (created, updated) };
        let mut v = json!({"event": "summary", "rows": total, "valid": valid,
            "imported": imported, "updated": updated, "unchanged": unchanged,
            "duplicates": duplicates, "rejected": bad,
            "rejected_file": file, "dry_run": dry_run});
        if dry_run {
            v["would_import"] = json!(created);
            v["would_update"] = json!(n("updated"));
        }
        print_json(&v);
        return;
    }
    for b in bad.iter().take(LISTED) {
        let (line, reason) = (&b["line"], b["reason"].as_str().unwrap_or(""));
        println!(
            "{}",
            msg!(
                "  dòng {line}: bị từ chối: {reason}",
                "  line {line}: rejected: {reason}"
            )
        );
    }
    if rejected > LISTED {
        let more = rejected - LISTED;
        println!(
            "{}",
            msg!(
                "  … và {more} dòng bị từ chối khác",
                "  … and {more} more rejected rows"
            )
        );
    }
    if dry_run {
        println!(
            "{}",
            msg!(
                "Chạy thử: {total} dòng, {valid} hợp lệ, {rejected} bị từ chối; chưa ghi gì.",
                "Dry run: {total} rows, {valid} valid, {rejected} rejected; nothing written."
            )
        );
        if updated + unchanged > 0 {
            println!(
                "{}",
                msg!(
                    "Sẽ thêm {created} đảng viên mới, cập nhật {updated} đảng viên; {unchanged} dòng không có gì thay đổi.",
                    "Would add {created} new members and update {updated}; {unchanged} rows change nothing."
                )
            );
        }
    } else {
        println!(
            "{}",
            msg!(
                "Đã nhập {created}/{total} dòng; {rejected} dòng bị từ chối.",
                "Imported {created} of {total} rows; {rejected} rows rejected."
            )
        );
        if updated + unchanged > 0 {
            println!(
                "{}",
                msg!(
                    "Đã cập nhật {updated} đảng viên; {unchanged} dòng không có gì thay đổi.",
                    "Updated {updated} members; {unchanged} rows changed nothing."
                )
            );
        }
    }
    if duplicates > 0 && dry_run {
        println!(
            "{}",
            msg!(
                "{duplicates} dòng trùng với đảng viên đã có hoặc với một dòng trước đó nên sẽ không được nhập.",
                "{duplicates} rows repeat an existing member or an earlier row and would not be imported."
            )
        );
    } else if duplicates > 0 {
        println!(
            "{}",
            msg!(
                "{duplicates} dòng trùng với đảng viên đã có hoặc với một dòng trước đó nên không được nhập lại.",
                "{duplicates} rows repeat an existing member or an earlier row and were not imported again."
            )
        );
    }
    if let Some(p) = file {
        println!(
            "{}",
            msg!(
                "Các dòng bị từ chối đã được ghi vào {p} (cột Lý do cho biết vì sao): sửa các dòng đó rồi nhập lại chính tệp này.",
                "The rejected rows were written to {p} (its Reason column says why): fix them and import that file."
            )
        );
    }
}
