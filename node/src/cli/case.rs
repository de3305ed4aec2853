//! `case …`: admissions, exemptions, strike-offs and disciplines, one step at a time. Each step is
//! recorded by the unit entitled to take it (the cell votes, the ward resolves, the district decides…)
//! and sets the member's status and dates itself.

use anyhow::Result;
use chrono::NaiveDate;
use clap::Subcommand;
use rollmesh_engine::msg;
use rollmesh_model::case::CaseKind;
use serde_json::{json, Value};

use super::ledger::{clerk_date, request};
use super::DataDir;
use crate::render::{case_step_label as step_label, case_step_line as step_line};

#[derive(Subcommand, Debug)]
pub enum CaseCmd {
    /// Mở hồ sơ (open a case): kết nạp (admission), miễn sinh hoạt (exemption), xóa tên (strike_off),
    /// kỷ luật (discipline), chuyển sinh hoạt chính thức (transfer, với --to). Với kết nạp cần --certificate và hai --sponsor; với xóa tên và kỷ luật cần
    /// số phiếu --for/--against của chi bộ (và --form cho kỷ luật).
    #[command(
        after_help = "Ví dụ:\n  rollmesh case open <mã> \"kết nạp\" --certificate \"GCN số 15/2024\" --sponsor <mã 1> --sponsor <mã 2> --data ./chi-bo\n  rollmesh case open <mã> \"chuyển sinh hoạt\" --to \"Chi bộ 01 Phường Điện Biên\" --data ./chi-bo\n  rollmesh case open <mã> \"kỷ luật\" --form \"cảnh cáo\" --for 9 --against 1 --data ./chi-bo\n  rollmesh case open <mã> \"miễn sinh hoạt\" --number 05-NQ/CB --note \"Tuổi cao, sức yếu\" --data ./chi-bo"
    )]
    Open {
        /// Mã đảng viên (hoặc phần đầu của mã).
        #[arg(value_name = "MÃ")]
        member: String,
        /// Loại hồ sơ: admission | exemption | strike_off | discipline (hoặc tên tiếng Việt).
        #[arg(value_name = "LOẠI")]
        kind: String,
        #[command(flatten)]
        step: StepArgs,
        /// Người giới thiệu (mã đảng viên chính thức), hai lần.
        #[arg(long = "sponsor", value_name = "MÃ")]
        sponsors: Vec<String>,
        /// Giấy chứng nhận học lớp bồi dưỡng nhận thức về Đảng (số, ngày).
        #[arg(long, value_name = "GCN")]
        certificate: Option<String>,
        /// Hình thức kỷ luật: reprimand (khiển trách) | warning (cảnh cáo) | removal (cách chức) |
        /// expulsion (khai trừ).
        #[arg(long, value_name = "HÌNH_THỨC")]
        form: Option<String>,
        /// Chuyển sinh hoạt chính thức: chi bộ chuyển đến (mã hoặc tên).
        #[arg(long, value_name = "CHI_BỘ")]
        to: Option<String>,
        #[command(flatten)]
        data: DataDir,
    },
    /// Ghi bước tiếp theo của hồ sơ (take the next step): vote, resolution, extend, decision,
    /// ceremony, review, confirm, send, receive; withdraw (rút, đóng hồ sơ, cần --note).
    #[command(
        after_help = "Ví dụ:\n  rollmesh case step <mã> vote --for 10 --against 1 --date 20/01/2025 --data ./chi-bo\n  rollmesh case step <mã> \"nghị quyết\" --number 15-NQ/ĐU --data ./phuong\n  rollmesh case step <mã> decision --number 125-QĐ/QU --data ./quan\n  rollmesh case step <mã> withdraw --note \"Không đủ điều kiện\" --data ./chi-bo"
    )]
    Step {
        /// Mã đảng viên.
        #[arg(value_name = "MÃ")]
        member: String,
        /// Bước: vote (chi bộ biểu quyết), resolution (nghị quyết), extend (gia hạn), decision (quyết
        /// định), ceremony (lễ kết nạp), review (chi bộ xét công nhận), confirm (công nhận chính thức),
        /// send (giới thiệu chuyển sinh hoạt), receive (chi bộ mới tiếp nhận).
        #[arg(value_name = "BƯỚC")]
        step: String,
        /// Hồ sơ, khi đảng viên có nhiều hồ sơ đang mở (như admission/2026-01-10).
        #[arg(long = "case", value_name = "HỒ_SƠ")]
        case: Option<String>,
        #[command(flatten)]
        step_args: StepArgs,
        #[command(flatten)]
        data: DataDir,
    },
    /// Các hồ sơ của một đảng viên, từng bước (a member's cases, step by step).
    Show {
        /// Mã đảng viên.
        #[arg(value_name = "MÃ")]
        member: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// Các hồ sơ đang mở trong phạm vi của nút (open cases in scope); --waiting: chỉ những hồ sơ chờ
    /// đơn vị này quyết định.
    List {
        /// Chỉ hồ sơ chờ đơn vị này (the inbox).
        #[arg(long)]
        waiting: bool,
        /// Cả hồ sơ đã xong hoặc bị bác.
        #[arg(long)]
        all: bool,
        /// Đơn vị (mã hoặc tên); mặc định cả phạm vi của nút.
        #[arg(long, value_name = "ĐƠN_VỊ")]
        unit: Option<String>,
        #[command(flatten)]
        data: DataDir,
    },
}

/// What any step may carry.
#[derive(clap::Args, Debug)]
pub struct StepArgs {
    /// Ngày, DD/MM/YYYY (mặc định hôm nay).
    #[arg(long, value_parser = clerk_date)]
    date: Option<NaiveDate>,
    /// Số nghị quyết, quyết định.
    #[arg(long, value_name = "SỐ")]
    number: Option<String>,
    /// Số phiếu tán thành.
    #[arg(long = "for", value_name = "N")]
    yes: Option<u32>,
    /// Số phiếu không tán thành.
    #[arg(long = "against", value_name = "N")]
    no: Option<u32>,
    /// Lý do hoặc ghi chú.
    #[arg(long, value_name = "GHI_CHÚ")]
    note: Option<String>,
}

impl StepArgs {
    fn into_json(self, req: &mut Value) {
        if let Some(d) = self.date {
            req["date"] = json!(d.to_string());
        }
        if let Some(n) = self.number {
            req["number"] = json!(n);
        }
        if let Some(n) = self.yes {
            req["for"] = json!(n);
        }
        if let Some(n) = self.no {
            req["against"] = json!(n);
        }
        if let Some(n) = self.note {
            req["note"] = json!(n);
        }
    }
}

fn kind_label(k: &Value) -> String {
    let k = k.as_str().unwrap_or("");
    let found = CaseKind::ALL.iter().find(|c| c.key() == k);
    found
        .map(|c| {
            if rollmesh_engine::i18n::is_en() {
                c.label_en().to_string()
            } else {
                c.label_vi().to_string()
            }
        })
        .unwrap_or_else(|| k.to_string())
}

fn state_line(s: &Value, next_level: Option<&str>) -> String {
    match s["state"].as_str() {
        Some("open") => {
            let next = step_label(&s["next"]);
            match next_level {
                Some(l) => msg!(
                    "đang mở, bước tiếp theo: {next} (cấp {l})",
                    "open, next: {next} (level {l})"
                ),
                None => msg!("đang mở, bước tiếp theo: {next}", "open, next: {next}"),
            }
        }
        Some("done") => msg!("đã xong", "done"),
        Some("withdrawn") => msg!("đã rút, đóng", "withdrawn"),
        Some("rejected") => {
            let at = step_label(&s["at"]);
            msg!(
                "không đạt (biểu quyết ở bước {at} không đủ số phiếu)",
                "rejected (the vote at {at} fell short)"
            )
        }
        _ => String::new(),
    }
}

/// `case …`.
pub(super) fn run(cmd: CaseCmd, json: bool) -> Result<u8> {
    match cmd {
        CaseCmd::Open {
            member,
            kind,
            step,
            sponsors,
            certificate,
            form,
            to,
            data,
        } => {
            let mut req = json!({"cmd": "case.step", "member": member, "open": kind});
            if let Some(t) = to {
                req["to"] = json!(t);
            }
            if !sponsors.is_empty() {
                req["sponsors"] = json!(sponsors);
            }
            if let Some(c) = certificate {
                req["certificate"] = json!(c);
            }
            if let Some(f) = form {
                req["form"] = json!(f);
            }
            step.into_json(&mut req);
            print_step(&data, req, json)
        }
        CaseCmd::Step {
            member,
            step,
            case,
            step_args,
            data,
        } => {
            let mut req = json!({"cmd": "case.step", "member": member, "step": step});
            if let Some(c) = case {
                req["case"] = json!(c);
            }
            step_args.into_json(&mut req);
            print_step(&data, req, json)
        }
        CaseCmd::Show { member, data } => {
            let Some(v) = request(&data, json!({"cmd": "case.show", "id": member}), json)? else {
                return Ok(0);
            };
            let name = v["name"].as_str().unwrap_or("");
            let cases = v["cases"].as_array().cloned().unwrap_or_default();
            if cases.is_empty() {
                println!(
                    "{}",
                    msg!("{name}: chưa có hồ sơ nào.", "{name}: no cases.")
                );
            }
            for c in cases {
                println!(
                    "{} — {} {}: {}",
                    name,
                    kind_label(&c["kind"]),
                    c["case"].as_str().unwrap_or(""),
                    state_line(&c["state"], None)
                );
                for s in c["steps"].as_array().into_iter().flatten() {
                    println!("  {}", step_line(s));
                }
                for s in c["conflicts"].as_array().into_iter().flatten() {
                    println!(
                        "  {} {}",
                        msg!("(ghi trùng)", "(recorded twice)"),
                        step_line(s)
                    );
                }
            }
            Ok(0)
        }
        CaseCmd::List {
            waiting,
            all,
            unit,
            data,
        } => {
            let mut req = json!({"cmd": "case.list", "waiting": waiting, "all": all});
            if let Some(u) = unit {
                req["unit"] = json!(u);
            }
            let Some(v) = request(&data, req, json)? else {
                return Ok(0);
            };
            let rows = v["cases"].as_array().cloned().unwrap_or_default();
            if rows.is_empty() {
                println!("{}", msg!("Không có hồ sơ nào.", "No cases."));
            }
            for r in rows {
                let here = if r["waiting_here"].as_bool() == Some(true) {
                    msg!("  ← chờ đơn vị này", "  ← waiting for this unit")
                } else {
                    String::new()
                };
                let since = r["since"]
                    .as_str()
                    .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                    .map(|d| d.format("%d/%m/%Y").to_string())
                    .unwrap_or_default();
                println!(
                    "{} ({}, {}) — {} {} ({}): {}{here}",
                    r["name"].as_str().unwrap_or(""),
                    r["member"].as_str().unwrap_or(""),
                    r["unit"].as_str().unwrap_or(""),
                    kind_label(&r["kind"]),
                    r["case"].as_str().unwrap_or(""),
                    msg!("bước gần nhất {since}", "last step {since}"),
                    state_line(
                        &r["state"],
                        r["next_level_name"].as_str().or(r["next_level"].as_str())
                    ),
                );
            }
            Ok(0)
        }
    }
}

fn print_step(data: &DataDir, req: Value, json: bool) -> Result<u8> {
    let Some(v) = request(data, req, json)? else {
        return Ok(0);
    };
    let name = v["name"].as_str().unwrap_or("");
    let case = v["case"].as_str().unwrap_or("");
    let line = step_line(&v["record"]);
    println!(
        "{}",
        msg!(
            "Đã ghi cho {name}, hồ sơ {case}: {line}",
            "Recorded for {name}, case {case}: {line}"
        )
    );
    if let Some(s) = v["status"].as_str() {
        let s = rollmesh_model::Status::parse(s)
            .map(|s| s.label_vi().to_string())
            .unwrap_or_else(|| s.to_string());
        println!("{}", msg!("Trạng thái mới: {s}.", "New status: {s}."));
    }
    if let Some(n) = v["notice"].as_str() {
        println!("{}", msg!("Lưu ý: {n}.", "Note: {n}."));
    }
    let state = state_line(&v["state"], None);
    println!("{}", msg!("Hồ sơ: {state}.", "Case: {state}."));
    Ok(0)
}
