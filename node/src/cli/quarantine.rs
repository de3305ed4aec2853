//! `quarantine list|show`: changes that were refused, with the reason.

use anyhow::{bail, Result};
use clap::Subcommand;
use serde_json::json;

use super::{open, DataDir};
use crate::render::{self, print_json};
use rollmesh_engine::msg;

#[derive(Subcommand, Debug)]
pub enum QuarantineCmd {
    /// List refused changes with their reasons.
    List {
        #[command(flatten)]
        data: DataDir,
    },
    /// Show one refused change in full.
    Show {
        /// Its quarantine number.
        seq: u64,
        #[command(flatten)]
        data: DataDir,
    },
}

/// Runs a `quarantine` subcommand.
pub(super) fn run(cmd: QuarantineCmd, json: bool) -> Result<u8> {
    match cmd {
        QuarantineCmd::List { data } => list(data, json),
        QuarantineCmd::Show { seq, data } => show(seq, data, json),
    }
}

/// `quarantine list`.
fn list(data: DataDir, json: bool) -> Result<u8> {
    let node = open(&data)?;
    let list = node.store().quarantine_list()?;
    if json {
        print_json(&json!(list.iter().map(|q| json!({"seq": q.seq, "at": render::time_text(q.at), "code": q.code,
            "detail": q.detail, "source": q.source, "author": q.author, "doc": q.doc.map(|d| d.to_string())})).collect::<Vec<_>>()));
    } else if list.is_empty() {
        println!(
            "{}",
            msg!(
                "Không có thay đổi nào bị cách ly.",
                "Nothing is quarantined."
            )
        );
    } else {
        for q in &list {
            println!(
                "#{:<4} {}  {}  {}  {}",
                q.seq,
                render::time_local(q.at),
                render::reject_reason(&q.code),
                q.author.as_deref().unwrap_or("?"),
                q.source
            );
        }
    }
    Ok(0)
}

/// `quarantine show`.
fn show(seq: u64, data: DataDir, json: bool) -> Result<u8> {
    let node = open(&data)?;
    let Some(q) = node
        .store()
        .quarantine_list()?
        .into_iter()
        .find(|q| q.seq == seq)
    else {
        bail!(msg!(
            "không có mục cách ly số {seq}",
            "no quarantine entry {seq}"
        ));
    };
    let v = json!({"seq": q.seq, "at": render::time_text(q.at), "code": q.code, "reason": render::reject_reason(&q.code),
        "detail": q.detail, "source": q.source, "author": q.author, "doc": q.doc.map(|d| d.to_string()),
        "bytes": q.bytes.len()});
    if json {
        print_json(&v);
    } else if let Some(o) = v.as_object() {
        for (k, val) in o {
            println!(
                "  {k:<8} {}",
                val.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| val.to_string())
            );
        }
    }
    Ok(0)
}
