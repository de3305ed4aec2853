//! `attach …`: temporary attachments to a host cell (sinh hoạt tạm thời). The member's home side records
//! the attachment; the host then records the member's meetings and dues as for its own members
//! (`meeting record`, `dues record --member <full id>`), and both sides see them.

use anyhow::Result;
use chrono::NaiveDate;
use clap::{Subcommand, ValueEnum};
use rollmesh_engine::msg;
use serde_json::json;

use super::ledger::{clerk_date, request};
use super::DataDir;

#[derive(Subcommand, Debug)]
pub enum AttachCmd {
    /// Ghi sinh hoạt tạm thời của một đảng viên tại chi bộ khác (bên chi bộ chính thức ghi); ghi lại
    /// với ngày khác để gia hạn hoặc rút ngắn (record a temporary attachment, as the home side).
    Grant {
        /// Mã đảng viên.
        #[arg(long, value_name = "MÃ")]
        member: String,
        /// Chi bộ nơi sinh hoạt tạm thời: mã hoặc tên (the host cell, code or name).
        #[arg(long, value_name = "CHI_BỘ")]
        host: String,
        /// Từ ngày, DD/MM/YYYY.
        #[arg(long, value_parser = clerk_date)]
        from: NaiveDate,
        /// Đến ngày, DD/MM/YYYY.
        #[arg(long, value_parser = clerk_date)]
        until: NaiveDate,
        /// Lý do: work (công tác) hoặc study (học tập).
        #[arg(long, value_enum, default_value = "work")]
        reason: Reason,
        #[command(flatten)]
        data: DataDir,
    },
    /// Các trường hợp sinh hoạt tạm thời nút này giữ: đi và đến (the attachments this node holds).
    List {
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Reason {
    /// Công tác.
    Work,
    /// Học tập.
    Study,
}

fn day(v: &serde_json::Value) -> String {
    v.as_str()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .map(|d| d.format("%d/%m/%Y").to_string())
        .unwrap_or_else(|| "—".into())
}

/// `attach …`.
pub(super) fn attach(cmd: AttachCmd, json: bool) -> Result<u8> {
    match cmd {
        AttachCmd::Grant {
            member,
            host,
            from,
            until,
            reason,
            data,
        } => {
            let reason = match reason {
                Reason::Work => "work",
                Reason::Study => "study",
            };
            let req = json!({"cmd": "attach.grant", "member": member, "host": host,
                "from": from.to_string(), "until": until.to_string(), "reason": reason});
            let Some(v) = request(&data, req, json)? else {
                return Ok(0);
            };
            let (name, host) = (
                v["name"].as_str().unwrap_or(""),
                v["host"].as_str().unwrap_or(""),
            );
            let (f, u) = (day(&v["from"]), day(&v["until"]));
            println!(
                "{}",
                msg!(
                    "Đã ghi: {name} sinh hoạt tạm thời tại {host} từ {f} đến {u}. Chi bộ {host} ghi điểm danh và đảng phí của đảng viên trong thời gian này.",
                    "Recorded: {name} attached to {host} from {f} to {u}. {host} records the member's attendance and dues for that time."
                )
            );
            Ok(0)
        }
        AttachCmd::List { data } => {
            let Some(v) = request(&data, json!({"cmd": "attach.list"}), json)? else {
                return Ok(0);
            };
            let rows = v["attachments"].as_array().cloned().unwrap_or_default();
            if rows.is_empty() {
                println!(
                    "{}",
                    msg!(
                        "Không có trường hợp sinh hoạt tạm thời nào.",
                        "No temporary attachments."
                    )
                );
                return Ok(0);
            }
            println!(
                "{}",
                msg!(
                    "Năm\tĐảng viên\tMã\tChi bộ chính thức\tNơi sinh hoạt tạm thời\tTừ\tĐến\tTháng đã đóng đảng phí",
                    "Year\tMember\tId\tHome cell\tHost cell\tFrom\tUntil\tMonths with dues"
                )
            );
            for r in rows {
                let months: Vec<String> = r["dues_months"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|m| m.as_u64().map(|m| format!("{m:02}")))
                    .collect();
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    r["year"],
                    r["name"].as_str().unwrap_or(""),
                    r["member"].as_str().unwrap_or(""),
                    r["home"].as_str().unwrap_or(""),
                    r["host"].as_str().unwrap_or(""),
                    day(&r["from"]),
                    day(&r["until"]),
                    months.join(" ")
                );
            }
            Ok(0)
        }
    }
}
