//! `trust add|list|remove`: the hand-kept list of node ids whose changes this node accepts.

use anyhow::Result;
use clap::Subcommand;
use rollmesh_proto::NodeId;
use serde_json::json;

use super::DataDir;
use crate::render;
use rollmesh_engine::msg;

#[derive(Subcommand, Debug)]
pub enum TrustCmd {
    /// Tin cậy một mã nút: nhận các thay đổi nút đó ký. Hãy đối chiếu mã với người giữ nút trước (trust a node).
    Add {
        /// Mã nút, ví dụ ABCDEFG-HIJKLMN-OPQRSTU (the node id).
        node_id: String,
        /// Ghi chú trong danh sách, ví dụ máy của ai (a note).
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// Liệt kê các mã nút được tin cậy (list trusted node ids).
    List {
        #[command(flatten)]
        data: DataDir,
    },
    /// Thôi tin cậy một mã nút; các thay đổi đã nhận vẫn giữ nguyên (stop trusting a node).
    Remove {
        /// Mã nút (the node id).
        node_id: String,
        #[command(flatten)]
        data: DataDir,
    },
}

/// Runs a `trust` subcommand.
pub(super) fn run(cmd: TrustCmd, json: bool) -> Result<u8> {
    match cmd {
        TrustCmd::Add {
            node_id,
            note,
            data,
        } => add(node_id, note, data, json),
        TrustCmd::List { data } => list(data, json),
        TrustCmd::Remove { node_id, data } => remove(node_id, data, json),
    }
}

/// `trust add`.
fn add(node_id: String, note: String, data: DataDir, json: bool) -> Result<u8> {
    let id: NodeId = node_id.parse()?;
    let req = json!({"cmd": "trust.add", "node_id": id.to_string(), "note": note});
    let Some(v) = super::request(&data, req, json)? else {
        return Ok(0);
    };
    if v["added"].as_bool() == Some(true) {
        println!(
            "{}",
            msg!("Đã tin cậy nút {id}.", "Now trusting node {id}.")
        );
    } else {
        println!(
            "{}",
            msg!(
                "Nút {id} đã được tin cậy từ trước.",
                "Node {id} was already trusted."
            )
        );
    }
    Ok(0)
}

/// `trust list`.
fn list(data: DataDir, json: bool) -> Result<u8> {
    let Some(v) = super::request(&data, json!({"cmd": "trust.list"}), json)? else {
        return Ok(0);
    };
    let list = v.as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        println!(
            "{}",
            msg!("Chưa tin cậy nút nào khác.", "No other node is trusted.")
        );
    } else {
        for t in list {
            println!(
                "{}  {}  {}",
                t["node_id"].as_str().unwrap_or(""),
                render::time_local(t["unix_time"].as_i64().unwrap_or(0)),
                t["note"].as_str().unwrap_or("")
            );
        }
    }
    Ok(0)
}

/// `trust remove`.
fn remove(node_id: String, data: DataDir, json: bool) -> Result<u8> {
    let id: NodeId = node_id.parse()?;
    let req = json!({"cmd": "trust.remove", "node_id": id.to_string()});
    let Some(v) = super::request(&data, req, json)? else {
        return Ok(0);
    };
    if v["removed"].as_bool() == Some(true) {
        println!(
            "{}",
            msg!("Đã thôi tin cậy nút {id}.", "No longer trusting node {id}.")
        );
    } else {
        println!(
            "{}",
            msg!(
                "Nút {id} không có trong danh sách.",
                "Node {id} was not in the list."
            )
        );
    }
    Ok(0)
}
