//! Reports on a node's data: `stats` (headcount), `verify` (re-check signatures) and `audit` (the access log).

use anyhow::Result;
use rollmesh_model::{Sector, Status};
use serde_json::json;

use super::{DataDir, EXIT_VERIFY_PROBLEMS};
use crate::render::{self, print_json};
use rollmesh_engine::msg;

/// `audit`: the local audit log, filtered, and whether its hash chain is intact.
pub(super) fn audit(
    action: Option<String>,
    member: Option<String>,
    data: DataDir,
    json: bool,
) -> Result<u8> {
    let req = json!({"cmd": "audit", "action": action, "member": member});
    let v = crate::ops::call(&data.data, req)?;
    let intact = v["intact"].as_bool() == Some(true);
    if json {
        print_json(&v);
    } else {
        for e in v["entries"].as_array().into_iter().flatten() {
            let s = |k: &str| e[k].as_str().unwrap_or("").to_string();
            println!(
                "#{:<5} {}  {:<24} {:<22} {:<28} {}",
                e["seq"],
                render::time_local(e["unix_time"].as_i64().unwrap_or(0)),
                s("user"),
                render::audit_action(&s("action")),
                s("target"),
                render::audit_detail(&s("detail"))
            );
        }
        let n = v["entries"].as_array().map_or(0, Vec::len);
        if intact {
            println!(
                "{}",
                msg!(
                    "Nhật ký nguyên vẹn ({n} mục).",
                    "The log is intact ({n} entries)."
                )
            );
        } else {
            let seq = &v["altered_at"];
            println!(
                "{}",
                msg!(
                    "CẢNH BÁO: nhật ký bị sửa từ mục {seq}.",
                    "WARNING: the log was altered at entry {seq}."
                )
            );
        }
    }
    Ok(if intact { 0 } else { EXIT_VERIFY_PROBLEMS })
}

/// `stats`: headcount by unit, status and sector.
pub(super) fn stats(unit: Option<String>, depth: usize, data: DataDir, json: bool) -> Result<u8> {
    let req = json!({"cmd": "stats", "unit": unit, "depth": depth});
    let v = crate::ops::call(&data.data, req)?;
    let rows = v["rows"].as_array().cloned().unwrap_or_default();
    if json {
        print_json(&serde_json::Value::Array(rows));
        return Ok(0);
    }
    let scope = v["unit"].as_str().unwrap_or("");
    let total: u64 = rows.iter().filter_map(|r| r["count"].as_u64()).sum();
    println!(
        "{}",
        msg!(
            "Số đảng viên trong {scope}: {total}",
            "Members in {scope}: {total}"
        )
    );
    for r in &rows {
        let (u, st, se) = (
            r["unit"].as_str().unwrap_or(""),
            r["status"].as_str().unwrap_or(""),
            r["sector"].as_str().unwrap_or(""),
        );
        let st = Status::parse(st)
            .map(|s| label(s.label_vi(), s.label_en()))
            .unwrap_or(st);
        let se = Sector::parse(se)
            .map(|s| label(s.label_vi(), s.label_en()))
            .unwrap_or(se);
        println!("{u}\t{st}\t{se}\t{}", r["count"]);
    }
    Ok(0)
}

/// `verify`: re-checks every stored signature and document.
pub(super) fn verify(data: DataDir, json: bool) -> Result<u8> {
    let v = crate::ops::call(&data.data, json!({"cmd": "verify"}))?;
    let clean = v["clean"].as_bool() == Some(true);
    if json {
        print_json(&v);
    } else {
        let (c, d, p, q) = (
            &v["changes"],
            &v["documents"],
            &v["pending"],
            &v["quarantined"],
        );
        println!("{}", msg!("Đã kiểm tra {c} thay đổi có chữ ký và {d} hồ sơ; {p} thay đổi chờ, {q} bị cách ly.",
            "Checked {c} signed changes and {d} dossiers; {p} waiting, {q} quarantined."));
        let problems = v["problems"].as_array().cloned().unwrap_or_default();
        for problem in &problems {
            println!("  ! {}", problem.as_str().unwrap_or(""));
        }
        if clean {
            println!("{}", msg!("Kho dữ liệu toàn vẹn.", "The store is clean."));
        } else {
            let n = problems.len();
            println!("{}", msg!("Phát hiện {n} lỗi.", "Found {n} problems."));
        }
    }
    Ok(if clean { 0 } else { EXIT_VERIFY_PROBLEMS })
}

fn label<'a>(vi: &'a str, en: &'a str) -> &'a str {
    if render::english() {
        en
    } else {
        vi
    }
}
