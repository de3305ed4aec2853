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
    #[value(
        alias = "công tác",
        alias = "công-tác",
        alias = "cong-tac",
        alias = "cong tac"
    )]
    Work,
    /// Học tập.
    #[value(
        alias = "học tập",
        alias = "học-tập",
        alias = "hoc-tap",
        alias = "hoc tap"
    )]
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
            let n = v["withdrawn"].as_u64().unwrap_or(0);
            if n > 0 {
                println!(
                    "{}",
                    msg!(
                        "Lưu ý: {n} tháng đảng phí {host} đã ghi nằm ngoài thời gian mới và không còn được tính.",
                        "Note: {n} months of dues {host} recorded fall outside the new dates and no longer count."
                    )
                );
            }
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
                    "Năm\tĐảng viên\tMã\tChi bộ chính thức\tNơi sinh hoạt tạm thời\tTừ\tĐến\tLý do\tTháng đã đóng\tTháng chưa đóng",
                    "Year\tMember\tId\tHome cell\tHost cell\tFrom\tUntil\tReason\tMonths paid\tMonths unpaid"
                )
            );
            let months = |v: &serde_json::Value| -> String {
                let list: Vec<String> = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|m| m.as_u64().map(|m| format!("{m:02}")))
                    .collect();
                if list.is_empty() {
                    "—".into()
                } else {
                    list.join(" ")
                }
            };
            for r in rows {
                let reason = match r["reason"].as_str() {
                    Some("study") => msg!("học tập", "study"),
                    Some("work") => msg!("công tác", "work"),
                    _ => "—".into(),
                };
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{reason}\t{}\t{}",
                    r["year"],
                    r["name"].as_str().unwrap_or(""),
                    r["member"].as_str().unwrap_or(""),
                    r["home"].as_str().unwrap_or(""),
                    r["host"].as_str().unwrap_or(""),
                    day(&r["from"]),
                    day(&r["until"]),
                    months(&r["paid_months"]),
                    months(&r["unpaid_months"])
                );
            }
            Ok(0)
        }
    }
}
