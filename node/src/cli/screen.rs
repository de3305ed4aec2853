//! Screening: `screen run`, `screen list` and `screen explain`, over the node's scope, with the rule set
//! and the holiday calendar (docs/RULES.md). Works with the node running or not (see `crate::ops`).

use anyhow::Result;
use chrono::NaiveDate;
use clap::Subcommand;
use rollmesh_engine::msg;
use serde_json::{json, Value};

use super::ledger::clerk_date;
use super::DataDir;
use crate::i18n::is_en;

#[derive(Subcommand, Debug)]
pub enum ScreenCmd {
    /// Rà soát ngay theo bộ quy tắc, hoặc tại một ngày (evaluate every rule now, or --as-of a date).
    Run {
        /// Ngày rà soát, DD/MM/YYYY (default: today in Vietnam).
        #[arg(long, value_parser = clerk_date)]
        as_of: Option<NaiveDate>,
        /// Chỉ đơn vị này (only this subtree).
        #[arg(long)]
        unit: Option<String>,
        #[command(flatten)]
        data: DataDir,
    },
    /// Danh sách cần xem xét, lọc theo quy tắc và đơn vị (the flags, filtered by rule and unit).
    List {
        /// Quy tắc: R1, R2, R4, R6, R11, R14.
        #[arg(long)]
        rule: Option<String>,
        /// Chỉ đơn vị này (only this subtree).
        #[arg(long)]
        unit: Option<String>,
        /// Ngày rà soát, DD/MM/YYYY (default: today).
        #[arg(long, value_parser = clerk_date)]
        as_of: Option<NaiveDate>,
        #[command(flatten)]
        data: DataDir,
    },
    /// Sắp đến hạn: những trường hợp sẽ bị nêu tên trong N ngày tới nếu không ghi thêm gì (what will be
    /// flagged within N days unless dues, meetings or progress are recorded).
    Deadlines {
        /// Số ngày tới (default 31).
        #[arg(long, default_value_t = 31)]
        days: u32,
        /// Chỉ đơn vị này (only this subtree).
        #[arg(long)]
        unit: Option<String>,
        /// Tính từ ngày, DD/MM/YYYY (default: today).
        #[arg(long, value_parser = clerk_date)]
        as_of: Option<NaiveDate>,
        #[command(flatten)]
        data: DataDir,
    },
    /// Vì sao một đảng viên hay chi bộ bị nêu tên: các sự kiện và dữ liệu đã dùng (why a member or a
    /// cell is flagged: the facts and the data used).
    Explain {
        /// Mã đảng viên (or its first characters) hoặc chi bộ (or a cell's unit path).
        subject: String,
        /// Ngày rà soát, DD/MM/YYYY (default: today).
        #[arg(long, value_parser = clerk_date)]
        as_of: Option<NaiveDate>,
        #[command(flatten)]
        data: DataDir,
    },
}

fn explanation(f: &Value) -> &str {
    let key = if is_en() {
        "explanation_en"
    } else {
        "explanation_vi"
    };
    f[key].as_str().unwrap_or("")
}

fn subject_text(f: &Value, names: &Value) -> String {
    if let Some(id) = f["subject"]["member"].as_str() {
        let short: String = id.chars().take(10).collect();
        match names[id].as_str() {
            Some(n) => format!("{n} ({short})"),
            None => short,
        }
    } else {
        let cell = f["subject"]["cell"].as_str().unwrap_or("");
        msg!("chi bộ {cell}", "cell {cell}")
    }
}

fn day(v: &Value) -> String {
    v.as_str()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .map(|d| d.format("%d/%m/%Y").to_string())
        .unwrap_or_default()
}

/// `screen deadlines`.
fn deadlines(
    days: u32,
    unit: Option<String>,
    as_of: Option<NaiveDate>,
    data: DataDir,
    json: bool,
) -> Result<u8> {
    let mut req = json!({"cmd": "screen.deadlines", "days": days});
    if let Some(u) = unit {
        req["unit"] = json!(u);
    }
    if let Some(d) = as_of {
        req["as_of"] = json!(d.to_string());
    }
    let Some(v) = super::ledger::request(&data, req, json)? else {
        return Ok(0);
    };
    let list = v["deadlines"].as_array().cloned().unwrap_or_default();
    let n = list.len();
    println!(
        "{}",
        msg!(
            "{n} trường hợp sẽ đến hạn trong {days} ngày tới nếu không ghi thêm:",
            "{n} flags fall due within {days} days unless something is recorded:"
        )
    );
    for d in &list {
        let f = &d["flag"];
        let due = day(&d["due"]);
        println!(
            "  {} {:<4} {:<40} {}",
            msg!("hạn {due}", "due {due}"),
            f["rule"].as_str().unwrap_or(""),
            subject_text(f, &v["names"]),
            explanation(f)
        );
    }
    Ok(0)
}

fn list_text(v: &Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| match x.as_str() {
                    Some(_) => day(x),
                    None => x.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// A flag's evidence in words.
fn evidence_text(e: &Value) -> String {
    let (year, through) = (&e["year"], day(&e["counted_through"]));
    match e["kind"].as_str().unwrap_or("") {
        "dues" => {
            let (months, t) = (list_text(&e["months"]), &e["threshold"]);
            msg!(
                "năm {year}, tháng chưa đóng: {months} (ngưỡng {t} tháng), tính đến {through}",
                "{year}, unpaid months: {months} (threshold {t}), counted through {through}"
            )
        }
        "attendance" => {
            let (months, t) = (list_text(&e["months"]), &e["threshold"]);
            let dates = list_text(&e["meetings"]);
            msg!(
                "năm {year}, tháng vắng không lý do: {months} (buổi {dates}; ngưỡng {t} tháng), tính đến {through}",
                "{year}, months absent without reason: {months} (meetings {dates}; threshold {t}), counted through {through}"
            )
        }
        "help_list" => {
            let (start, due, m) = (day(&e["start"]), day(&e["due"]), &e["months"]);
            let last = match e["last_progress"].as_str() {
                Some(_) => day(&e["last_progress"]),
                None => msg!("chưa có", "none"),
            };
            msg!(
                "vào danh sách {start}, tiến bộ gần nhất: {last}, hết hạn {m} tháng ngày {due}",
                "on the list since {start}, last progress: {last}, {m} months ran out on {due}"
            )
        }
        "ratings" => {
            let (years, t) = (list_text(&e["years"]), &e["threshold"]);
            msg!(
                "các năm: {years} (ngưỡng {t} năm liền)",
                "years: {years} (threshold {t} in a row)"
            )
        }
        "meetings" => {
            let months = list_text(&e["months_without_regular"]);
            let quarters = list_text(&e["quarters_without_thematic"]);
            msg!(
                "năm {year}, tháng không sinh hoạt thường kỳ: {months}; quý không chuyên đề: {quarters}; tính đến {through}",
                "{year}, months without a regular meeting: {months}; quarters without a thematic one: {quarters}; counted through {through}"
            )
        }
        "residence" => {
            let (home, ward) = (
                e["residence_ward"].as_str().unwrap_or(""),
                e["cell_ward"].as_str().unwrap_or(""),
            );
            msg!(
                "nơi ở: {home}; phường của chi bộ: {ward}",
                "lives in: {home}; the cell's ward: {ward}"
            )
        }
        "probation" => {
            let (c, end, by) = (day(&e["ceremony"]), day(&e["ends"]), day(&e["review_by"]));
            let review = match e["review"].as_str() {
                Some(_) => day(&e["review"]),
                None => msg!("chưa", "not yet"),
            };
            let confirm = match e["confirm_by"].as_str() {
                Some(_) => {
                    let by = day(&e["confirm_by"]);
                    msg!("; hạn quyết định công nhận {by}", "; confirmation due {by}")
                }
                None => String::new(),
            };
            msg!(
                "lễ kết nạp {c}, hết dự bị {end}, hạn chi bộ xét {by}, chi bộ xét: {review}{confirm}",
                "ceremony {c}, probation ended {end}, review due {by}, reviewed: {review}{confirm}"
            )
        }
        "admission" => {
            let (from, due) = (day(&e["from"]), day(&e["due"]));
            let what = match e["step"].as_str() {
                Some("decision") => msg!("quyết định kết nạp", "the admission decision"),
                _ => msg!("lễ kết nạp", "the ceremony"),
            };
            let ext = if e["extended"].as_bool() == Some(true) {
                msg!(" (đã gia hạn)", " (extended)")
            } else {
                String::new()
            };
            msg!(
                "{what}: tính từ {from}, hạn {due}{ext}",
                "{what}: counted from {from}, due {due}{ext}"
            )
        }
        "transfer" => {
            let (from, due) = (day(&e["from"]), day(&e["due"]));
            match e["host"].as_str() {
                Some(host) => msg!(
                    "sinh hoạt tạm thời tại {host} từ {from}, quá thời hạn {due}",
                    "attached to {host} since {from}, beyond the limit {due}"
                ),
                None => msg!(
                    "chuyển sinh hoạt chính thức: tính từ {from}, hạn {due}",
                    "official transfer: counted from {from}, due {due}"
                ),
            }
        }
        _ => serde_json::to_string(e).unwrap_or_default(),
    }
}

/// Runs `screen …`.
pub(super) fn run(cmd: ScreenCmd, json: bool) -> Result<u8> {
    let (mut req, data, explain) = match cmd {
        ScreenCmd::Deadlines {
            days,
            unit,
            as_of,
            data,
        } => return deadlines(days, unit, as_of, data, json),
        ScreenCmd::Run { as_of, unit, data } => (
            json!({"cmd": "screen.run", "unit": unit, "as_of": as_of, "fresh": true}),
            data,
            false,
        ),
        ScreenCmd::List {
            rule,
            unit,
            as_of,
            data,
        } => (
            json!({"cmd": "screen.run", "unit": unit, "rule": rule, "as_of": as_of}),
            data,
            false,
        ),
        ScreenCmd::Explain {
            subject,
            as_of,
            data,
        } => (
            json!({"cmd": "screen.run", "subject": subject, "as_of": as_of}),
            data,
            true,
        ),
    };
    if let Some(o) = req.as_object_mut() {
        o.retain(|_, v| !v.is_null());
    }
    let Some(v) = super::ledger::request(&data, req, json)? else {
        return Ok(0);
    };
    let flags = v["flags"].as_array().cloned().unwrap_or_default();
    let (as_of, unit) = (day(&v["as_of"]), v["unit"].as_str().unwrap_or(""));
    let n = flags.len();
    println!(
        "{}",
        msg!(
            "Rà soát {unit} tại ngày {as_of}: {n} trường hợp cần xem xét.",
            "Screening of {unit} as of {as_of}: {n} flags."
        )
    );
    for f in &flags {
        let rule = f["rule"].as_str().unwrap_or("");
        println!(
            "  {rule:<4} {:<40} {}",
            subject_text(f, &v["names"]),
            explanation(f)
        );
        if explain {
            let e = evidence_text(&f["evidence"]);
            println!("       {} {e}", msg!("dữ liệu:", "data:"));
        }
    }
    if explain && flags.is_empty() {
        println!(
            "{}",
            msg!(
                "Không quy tắc nào nêu tên đối tượng này.",
                "No rule flags this subject."
            )
        );
        if let (Some(cell), Some(year)) = (v["no_ledger"].as_str(), v["year"].as_i64()) {
            println!(
                "{}",
                msg!(
                    "Lưu ý: nút này chưa có sổ năm {year} của chi bộ {cell}, nên đảng phí và sinh hoạt chưa đánh giá được.",
                    "Note: this node holds no {year} ledger of cell {cell}, so dues and meetings could not be judged."
                )
            );
        }
    }
    Ok(0)
}
