//! `bundle export|import`: files of signed changes, for moving data without a network.

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;
use serde_json::json;

use super::{open, DataDir, EXIT_CHANGES_REJECTED};
use crate::i18n;
use crate::render::{self, print_json};
use rollmesh_engine::msg;

#[derive(Subcommand, Debug)]
pub enum BundleCmd {
    /// Write the node's signed changes (all, or after --since SEQ) to a bundle file.
    Export {
        /// The bundle file to write.
        #[arg(long)]
        out: PathBuf,
        /// Only changes after this log sequence number (the `last_seq` of a previous export).
        #[arg(long, default_value_t = 0)]
        since: u64,
        #[command(flatten)]
        data: DataDir,
    },
    /// Verify and apply a bundle; refused changes are quarantined, and the command exits 4 if any change,
    /// revocation or credential chain was refused.
    Import {
        /// The bundle file.
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
    let node = open(&data)?;
    let (count, last) = node.export_bundle(&out, since)?;
    node.audit(
        "bundle.export",
        &out.display().to_string(),
        &format!("{count} changes"),
    )?;
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
    let node = open(&data)?;
    let r = node.import_bundle(&file)?;
    node.audit(
        "bundle.import",
        &file.display().to_string(),
        &format!("{} applied", r.applied.applied.len()),
    )?;
    let rejected = r.rejected_total();
    if json {
        let reasons: Vec<_> = r
            .rejected
            .iter()
            .chain(r.applied.rejected.iter())
            .map(|x| json!({"code": x.code.key(), "detail": x.detail}))
            .collect();
        print_json(
            &json!({"received": r.received, "applied": r.applied.applied.len(),
            "duplicates": r.applied.duplicates, "waiting": r.applied.pending,
            "outside_scope": r.applied.skipped, "revocations": r.revocations, "chains": r.chains,
            "refused_credentials": r.refused_credentials,
            "rejected": reasons, "complete": r.complete}),
        );
    } else {
        let (n, a, d, w) = (
            r.received,
            r.applied.applied.len(),
            r.applied.duplicates,
            r.applied.pending,
        );
        println!("{}", msg!("Đã đọc {n} thay đổi: áp dụng {a}, đã có {d}, chờ thay đổi trước {w}, bị từ chối {rejected}.",
            "Read {n} changes: {a} applied, {d} already present, {w} waiting for earlier changes, {rejected} rejected."));
        for x in r.rejected.iter().chain(r.applied.rejected.iter()) {
            println!("  ! {} ({})", render::reject_reason(x.code.key()), x.detail);
        }
        let (s, rv) = (r.applied.skipped, r.revocations);
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
        for c in &r.refused_credentials {
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
        if !r.complete {
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
        if rejected > 0 || !r.refused_credentials.is_empty() || !r.complete {
            EXIT_CHANGES_REJECTED
        } else {
            0
        },
    )
}
