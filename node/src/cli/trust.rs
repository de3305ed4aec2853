//! `trust add|list|remove`: the hand-kept list of node ids whose changes this node accepts.

use anyhow::Result;
use clap::Subcommand;
use rollmesh_proto::NodeId;
use serde_json::json;

use super::{open, DataDir};
use crate::render::{self, print_json};
use rollmesh_engine::msg;

#[derive(Subcommand, Debug)]
pub enum TrustCmd {
    /// Trust a node id: its signed changes will be accepted. Compare the id with its owner first.
    Add {
        /// The node id, e.g. ABCDEFG-HIJKLMN-OPQRSTU.
        node_id: String,
        /// A note for the list (whose machine it is).
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// List trusted node ids.
    List {
        #[command(flatten)]
        data: DataDir,
    },
    /// Stop trusting a node id (changes already accepted stay).
    Remove {
        /// The node id.
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
    let node = open(&data)?;
    let id: NodeId = node_id.parse()?;
    let new = node.store().trust_add(id, &note)?;
    if json {
        print_json(&json!({"node_id": id.to_string(), "added": new}));
    } else if new {
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
    let node = open(&data)?;
    let list = node.store().trust_list()?;
    if json {
        print_json(&json!(list
            .iter()
            .map(|t| json!({"node_id": t.node_id, "note": t.note,
            "added_at": render::time_text(t.added_at)}))
            .collect::<Vec<_>>()));
    } else if list.is_empty() {
        println!(
            "{}",
            msg!("Chưa tin cậy nút nào khác.", "No other node is trusted.")
        );
    } else {
        for t in list {
            println!(
                "{}  {}  {}",
                t.node_id,
                render::time_text(t.added_at),
                t.note
            );
        }
    }
    Ok(0)
}

/// `trust remove`.
fn remove(node_id: String, data: DataDir, json: bool) -> Result<u8> {
    let node = open(&data)?;
    let id: NodeId = node_id.parse()?;
    let was = node.store().trust_remove(id)?;
    if json {
        print_json(&json!({"node_id": id.to_string(), "removed": was}));
    } else if was {
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
