//! Running a node: `run` (the sync daemon) and `status` (asking a running node over its API).

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::json;

use super::DataDir;
use crate::i18n;
use crate::render::{self, print_json};
use rollmesh_engine::msg;

/// `run`: syncs with peers over QUIC until Ctrl-C.
pub(super) fn run_node(config: PathBuf) -> Result<u8> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,quinn=warn,quinn_proto=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
    crate::daemon::run(&config)?;
    Ok(0)
}

/// `status`: per-peer sync state of a running node.
pub(super) fn status(data: DataDir, json: bool) -> Result<u8> {
    if crate::client::read_addr(&data.data).is_none() {
        let d = data.data.display();
        anyhow::bail!(msg!(
            "nút {d} chưa chạy: hãy khởi động bằng `rollmesh run --config {d}/node.toml`",
            "the node {d} is not running: start it with `rollmesh run --config {d}/node.toml`"
        ));
    }
    let v = crate::client::call(&data.data, &json!({"cmd": "status"})).with_context(|| {
        msg!(
            "nút chưa chạy (rollmesh run)?",
            "is the node running (rollmesh run)?"
        )
    })?;
    if json {
        print_json(&v);
    } else {
        let (id, unit, n, seq) = (
            v["node_id"].as_str().unwrap_or(""),
            v["unit"].as_str().unwrap_or(""),
            &v["members"],
            &v["log_seq"],
        );
        println!(
            "{}",
            msg!(
                "Nút {id} ({unit}): {n} đảng viên, nhật ký thay đổi đến #{seq}",
                "Node {id} ({unit}): {n} members, change log at #{seq}"
            )
        );
        for p in v["peers"].as_array().into_iter().flatten() {
            let state = if p["connected"].as_bool() == Some(true) {
                i18n::pick("đã kết nối", "connected")
            } else {
                i18n::pick("mất kết nối", "disconnected")
            };
            let last = p["last_sync"]
                .as_i64()
                .map(render::time_local)
                .unwrap_or_else(|| "-".into());
            println!(
                "  {:<16} {:<14} {:<12} {} {}  {} {}  {} {}  {} {}  {}",
                p["name"].as_str().unwrap_or(""),
                p["unit"].as_str().unwrap_or(""),
                state,
                i18n::pick("đồng bộ lúc", "last sync"),
                last,
                i18n::pick("gửi", "sent"),
                p["changes_sent"],
                i18n::pick("nhận", "received"),
                p["changes_received"],
                i18n::pick("tồn", "backlog"),
                p["backlog"],
                p["last_error"].as_str().unwrap_or("")
            );
        }
    }
    Ok(0)
}
