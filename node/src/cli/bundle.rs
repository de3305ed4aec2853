//! `bundle export|import`: files of signed changes, for moving data without a network.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use serde_json::json;

use super::{DataDir, EXIT_CHANGES_REJECTED};
use crate::i18n;
use crate::render::{self, print_json};
use rollmesh_engine::msg;

#[derive(Subcommand, Debug)]
pub enum BundleCmd {
    /// Ghi các thay đổi có chữ ký của nút (tất cả, hoặc sau --since SEQ) ra tệp gói (export a bundle).
    Export {
        /// Tệp gói cần ghi (the bundle file to write).
        #[arg(long)]
        out: PathBuf,
        /// Chỉ lấy thay đổi sau số thứ tự này, tức `last_seq` của lần xuất trước (only changes after this number).
        #[arg(long, default_value_t = 0)]
        since: u64,
        #[command(flatten)]
        data: DataDir,
    },
    /// Kiểm tra và nạp một gói; thay đổi bị từ chối được đưa vào cách ly, và lệnh thoát với mã 4 nếu có thay đổi,
    /// thu hồi hoặc chuỗi chứng nhận nào bị từ chối (verify and apply a bundle).
    Import {
        /// Tệp gói (the bundle file).
        file: PathBuf,
        #[command(flatten)]
        data: DataDir,
    },
}

/// Runs a `bundle` subcommand.
pub(super) fn run(cmd: BundleCmd, json: bool) -> Result<u8> {
    match cmd {
        BundleCmd::Export { out, since, data } => export(out, since, data, json),
        BundleCmd::Import { file, data } => import(file, data, json),
    }
}

/// `bundle export`.
fn export(out: PathBuf, since: u64, data: DataDir, json: bool) -> Result<u8> {
    let v = crate::ops::call(&data.data, json!({"cmd": "bundle.export", "since": since}))?;
    let bytes = data_encoding::BASE64
        .decode(v["data"].as_str().unwrap_or("").as_bytes())
        .context("bundle")?;
    std::fs::write(&out, &bytes).with_context(|| out.display().to_string())?;
    let (count, last) = (&v["changes"], &v["last_seq"]);
    if json {
        print_json(
            &json!({"out": out.display().to_string(), "changes": count, "since": since, "last_seq": last}),
        );
    } else {
        let p = out.display();
        println!("{}", msg!("Đã ghi {count} thay đổi có chữ ký ra {p} (đến số thứ tự {last}; lần sau dùng --since {last}).",
            "Wrote {count} signed changes to {p} (up to sequence {last}; next time use --since {last})."));
    }
    Ok(0)
}

/// `bundle import`: verifies and applies a bundle; exits 4 if changes, revocations or chains were refused
/// or the file is cut short.
fn import(file: PathBuf, data: DataDir, json: bool) -> Result<u8> {
    let bytes = std::fs::read(&file).with_context(|| file.display().to_string())?;
    let name = file.display().to_string();
    let req = json!({"cmd": "bundle.import", "name": name,
        "data": data_encoding::BASE64.encode(&bytes)});
    let v = crate::ops::call(&data.data, req)?;
    let reasons = v["rejected"].as_array().cloned().unwrap_or_default();
    let refused_credentials: Vec<String> = v["refused_credentials"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            c.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| c.to_string())
        })
        .collect();
    let complete = v["complete"].as_bool() != Some(false);
    let rejected = reasons.len();
    if json {
        print_json(&v);
    } else {
        let (n, a, d, w) = (
            &v["received"],
            &v["applied"],
            &v["duplicates"],
            &v["waiting"],
        );
        println!("{}", msg!("Đã đọc {n} thay đổi: áp dụng {a}, đã có {d}, chờ thay đổi trước {w}, bị từ chối {rejected}.",
            "Read {n} changes: {a} applied, {d} already present, {w} waiting for earlier changes, {rejected} rejected."));
        for x in &reasons {
            println!(
                "  ! {} ({})",
                render::reject_reason(x["code"].as_str().unwrap_or("")),
                x["detail"].as_str().unwrap_or("")
            );
        }
        let (s, rv) = (
            v["outside_scope"].as_u64().unwrap_or(0),
            v["revocations"].as_u64().unwrap_or(0),
        );
        if s > 0 {
            println!(
                "{}",
                msg!(
                    "Bỏ qua {s} thay đổi ngoài phạm vi của nút này.",
                    "Skipped {s} changes outside this node's scope."
                )
            );
        }
        if rv > 0 {
            println!(
                "{}",
                msg!(
                    "Đã ghi nhận {rv} lệnh thu hồi khóa.",
                    "Recorded {rv} key revocations."
                )
            );
        }
        for c in &refused_credentials {
            println!(
                "  ! {} {c}",
                i18n::pick("chứng nhận bị từ chối:", "credential refused:")
            );
        }
        if rejected > 0 {
            println!(
                "{}",
                msg!(
                    "Các thay đổi bị từ chối đã được cách ly: xem `rollmesh quarantine list`.",
                    "Rejected changes were quarantined: see `rollmesh quarantine list`."
                )
            );
        }
        if !complete {
            println!(
                "{}",
                msg!("Cảnh báo: tệp gói bị cắt cụt hoặc hỏng phần cuối; hãy chép lại tệp.",
                "Warning: the bundle file is truncated or its trailer is damaged; copy it again.")
            );
        }
    }
    // A refused revocation or chain counts like a refused change: a forged revocation or a chain under
    // another root is something the clerk must see, not a clean import.
    Ok(
        if rejected > 0 || !refused_credentials.is_empty() || !complete {
            EXIT_CHANGES_REJECTED
        } else {
            0
        },
    )
}
