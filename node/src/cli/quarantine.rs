//! `quarantine list|show`: changes that were refused, with the reason.

use anyhow::Result;
use clap::Subcommand;
use serde_json::json;

use super::DataDir;
use crate::render;
use rollmesh_engine::msg;

#[derive(Subcommand, Debug)]
pub enum QuarantineCmd {
    /// Liệt kê các thay đổi bị từ chối, kèm lý do (list refused changes).
    List {
        #[command(flatten)]
        data: DataDir,
    },
    /// Xem đầy đủ một thay đổi bị từ chối (show one refused change).
    Show {
        /// Số thứ tự trong danh sách cách ly (its quarantine number).
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
    let Some(v) = super::request(&data, json!({"cmd": "quarantine.list"}), json)? else {
        return Ok(0);
    };
    let list = v.as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        println!(
            "{}",
            msg!(
                "Không có thay đổi nào bị cách ly.",
                "Nothing is quarantined."
            )
        );
    }
    for q in &list {
        println!(
            "#{:<4} {}  {}  {}  {}",
            q["seq"],
            render::time_local(q["unix_time"].as_i64().unwrap_or(0)),
            q["reason"].as_str().unwrap_or(""),
            q["author"].as_str().unwrap_or("?"),
            q["source"].as_str().unwrap_or("")
        );
    }
    Ok(0)
}

/// `quarantine show`.
fn show(seq: u64, data: DataDir, json: bool) -> Result<u8> {
    let Some(v) = super::request(&data, json!({"cmd": "quarantine.show", "seq": seq}), json)?
    else {
        return Ok(0);
    };
    if let Some(o) = v.as_object() {
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
