//! The cell's year: `meeting record`, `dues record` and `ledger show`. Every command works with the
//! node running or not (see `crate::ops`).

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use chrono::{Datelike, NaiveDate};
use clap::{Subcommand, ValueEnum};
use rollmesh_engine::msg;
use rollmesh_engine::screen::today_in_vietnam;
use rollmesh_model::ledger::Rating;
use rollmesh_model::member::parse_date;
use serde_json::{json, Value};

use super::DataDir;
use crate::i18n::is_en;
use crate::render::print_json;

/// Runs a request on the node of `data` (see `crate::ops`); with `--json` prints the reply and returns
/// `None`, else returns it for the caller to print as text.
pub(super) fn request(data: &DataDir, req: Value, json: bool) -> Result<Option<Value>> {
    let v = crate::ops::call(&data.data, req)?;
    if json {
        print_json(&v);
        return Ok(None);
    }
    Ok(Some(v))
}

/// A clerk's date: `DD/MM/YYYY` (or `YYYY-MM-DD`).
pub(super) fn clerk_date(s: &str) -> Result<NaiveDate, String> {
    parse_date(s.trim()).ok_or_else(|| {
        // Written as a date, but no such day (31/04, 29/02 of a common year).
        let shaped = s.trim().split('/').map(str::len).collect::<Vec<_>>() == [2, 2, 4]
            && s.trim().chars().all(|c| c.is_ascii_digit() || c == '/');
        if shaped {
            msg!(
                "không có ngày {s} trong lịch",
                "{s} is not a day of the calendar"
            )
        } else {
            msg!(
                "{s:?} không phải ngày dạng DD/MM/YYYY",
                "{s:?} is not a date like DD/MM/YYYY"
            )
        }
    })
}

/// An ISO date from a reply as the clerk reads it, `DD/MM/YYYY`.
fn day_text(v: &Value) -> String {
    v.as_str()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .map(|d| d.format("%d/%m/%Y").to_string())
        .unwrap_or_default()
}

/// An amount in đồng as a clerk types it (`30000`, `30.000`, `30,000`, `30 000 đ`).
fn clerk_amount(s: &str) -> Result<u64, String> {
    rollmesh_engine::ledger_sheet::parse_amount(s).ok_or_else(|| {
        msg!(
            "{s:?} không phải số tiền (ví dụ 30000 hoặc 30.000)",
            "{s:?} is not an amount (e.g. 30000 or 30.000)"
        )
    })
}

/// A month: `MM/YYYY` (or `YYYY-MM`).
fn clerk_month(s: &str) -> Result<(i32, u32), String> {
    let bad = || {
        msg!(
            "{s:?} không phải tháng dạng MM/YYYY",
            "{s:?} is not a month like MM/YYYY"
        )
    };
    let s = s.trim();
    let (m, y) = match (s.split_once('/'), s.split_once('-')) {
        (Some((m, y)), _) => (m, y),
        (None, Some((y, m))) => (m, y),
        _ => return Err(bad()),
    };
    let (m, y): (u32, i32) = (m.parse().map_err(|_| bad())?, y.parse().map_err(|_| bad())?);
    if !(1..=12).contains(&m) || !(1900..=2200).contains(&y) {
        return Err(bad());
    }
    Ok((y, m))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    /// Sinh hoạt thường kỳ (regular monthly meeting).
    Regular,
    /// Sinh hoạt chuyên đề (thematic meeting).
    Thematic,
}

#[derive(Subcommand, Debug)]
pub enum MeetingCmd {
    /// Ghi một buổi sinh hoạt chi bộ và điểm danh (record a cell meeting and who attended).
    ///
    /// Every current member of the cell is marked present except those listed with --absent,
    /// --excused or --unexcused. Recording the same meeting again corrects it.
    Record {
        /// Ngày họp, DD/MM/YYYY (meeting date).
        #[arg(long, value_parser = clerk_date)]
        date: NaiveDate,
        /// Loại buổi họp (kind of meeting).
        #[arg(long, value_enum, default_value = "regular")]
        kind: KindArg,
        /// Nội dung (topic).
        #[arg(long, default_value = "")]
        topic: String,
        /// Chi bộ (the cell; default: this node's unit).
        #[arg(long)]
        cell: Option<String>,
        /// Buổi thứ mấy cùng loại trong ngày (the 2nd meeting of that kind the same day…).
        #[arg(long, default_value_t = 1)]
        number: u8,
        /// Vắng không lý do: mã đảng viên (absent without reason; repeatable).
        #[arg(long, value_name = "MÃ")]
        absent: Vec<String>,
        /// Vắng có lý do được chấp nhận: "MÃ:lý do" (absent, reason accepted; repeatable).
        #[arg(long, value_name = "MÃ:LÝ DO")]
        excused: Vec<String>,
        /// Vắng, lý do không được chấp nhận: "MÃ:lý do" (absent, reason not accepted; repeatable).
        #[arg(long, value_name = "MÃ:LÝ DO")]
        unexcused: Vec<String>,
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(Subcommand, Debug)]
pub enum DuesCmd {
    /// Ghi đảng phí một tháng của một đảng viên (record one member's dues for one month).
    Record {
        /// Mã đảng viên (member id or its first characters).
        #[arg(long, value_name = "MÃ")]
        member: String,
        /// Tháng, MM/YYYY.
        #[arg(long, value_parser = clerk_month, value_name = "MM/YYYY")]
        month: (i32, u32),
        /// Số tiền đã đóng, đồng (amount paid: 30000, 30.000 or "30 000").
        #[arg(long, conflicts_with = "unpaid", value_parser = clerk_amount)]
        paid: Option<u64>,
        /// Ngày đóng, DD/MM/YYYY (default: today).
        #[arg(long, value_parser = clerk_date, requires = "paid")]
        paid_on: Option<NaiveDate>,
        /// Chưa đóng (not paid).
        #[arg(long, required_unless_present = "paid")]
        unpaid: bool,
        /// Lý do chưa đóng (reason).
        #[arg(long, requires = "unpaid")]
        reason: Option<String>,
        /// Chi bộ chấp nhận lý do (the cell accepted the reason).
        #[arg(long, requires = "reason")]
        accepted: bool,
        /// Chi bộ ghi sổ, khi khác chi bộ của đảng viên (a host cell, for a temporarily attached member).
        #[arg(long)]
        cell: Option<String>,
        #[command(flatten)]
        data: DataDir,
    },
    /// Nhập bảng đảng phí một tháng từ Excel (CSV): cột Mã, Họ tên, Số tiền, Ngày đóng, Lý do, Chấp nhận
    /// (a month's dues sheet; rows without an amount are unpaid).
    Import {
        /// Tệp CSV (CSV file, UTF-8 or Windows-1258).
        file: PathBuf,
        /// Tháng, MM/YYYY.
        #[arg(long, value_parser = clerk_month, value_name = "MM/YYYY")]
        month: (i32, u32),
        /// Ngày đóng khi bảng không ghi, DD/MM/YYYY (default: the last day of the month).
        #[arg(long, value_parser = clerk_date)]
        paid_on: Option<NaiveDate>,
        /// Chi bộ ghi sổ cho mọi dòng (a host cell recording attached members).
        #[arg(long)]
        cell: Option<String>,
        /// Chỉ kiểm tra, không ghi (check only, write nothing).
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(Subcommand, Debug)]
pub enum RatingCmd {
    /// Xếp loại một đảng viên trong năm (set one member's rating for a year).
    Set {
        /// Mã đảng viên.
        #[arg(long, value_name = "MÃ")]
        member: String,
        /// Năm.
        #[arg(long)]
        year: i32,
        /// Xếp loại: "hoàn thành xuất sắc", "hoàn thành tốt", "hoàn thành", "không hoàn thành".
        #[arg(long)]
        rating: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// Nhập bảng xếp loại cả năm từ Excel (CSV): cột Mã, Họ tên, Xếp loại (a year's ratings sheet).
    Import {
        /// Tệp CSV.
        file: PathBuf,
        /// Năm.
        #[arg(long)]
        year: i32,
        /// Chỉ kiểm tra, không ghi (check only).
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum HelpWhat {
    /// Đưa vào danh sách (put on the list).
    Start,
    /// Ghi nhận tiến bộ (note progress).
    Note,
    /// Đưa ra khỏi danh sách (take off the list).
    End,
}

#[derive(Subcommand, Debug)]
pub enum HelpListCmd {
    /// Ghi danh sách giáo dục, giúp đỡ: đưa vào, ghi tiến bộ, đưa ra (record the educate-and-help list).
    Record {
        /// start | note | end.
        #[arg(value_enum)]
        what: HelpWhat,
        /// Mã đảng viên.
        #[arg(long, value_name = "MÃ")]
        member: String,
        /// Ngày, DD/MM/YYYY (default: today).
        #[arg(long, value_parser = clerk_date)]
        date: Option<NaiveDate>,
        /// Nội dung tiến bộ (the progress note, for `note`).
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        data: DataDir,
    },
}

/// `meeting …`.
pub(super) fn meeting(cmd: MeetingCmd, json: bool) -> Result<u8> {
    let MeetingCmd::Record {
        date,
        kind,
        topic,
        cell,
        number,
        absent,
        excused,
        unexcused,
        data,
    } = cmd;
    let mut list = Vec::new();
    for id in absent {
        list.push(json!({"id": id.trim()}));
    }
    for (items, accepted) in [(excused, true), (unexcused, false)] {
        for item in items {
            let (id, reason) = item.split_once(':').ok_or_else(|| {
                anyhow!(msg!(
                    "{item:?}: cần dạng MÃ:lý do",
                    "{item:?}: expected ID:reason"
                ))
            })?;
            list.push(json!({"id": id.trim(), "reason": reason.trim(), "accepted": accepted}));
        }
    }
    let kind = match kind {
        KindArg::Regular => "regular",
        KindArg::Thematic => "thematic",
    };
    let mut req = json!({"cmd": "meeting.record", "date": date.to_string(), "kind": kind,
        "topic": topic, "number": number, "absent": list});
    if let Some(c) = cell {
        req["cell"] = json!(c);
    }
    let Some(v) = request(&data, req, json)? else {
        return Ok(0);
    };
    let (present, absent) = (&v["present"], &v["absent"]);
    let day = date.format("%d/%m/%Y");
    let cell = v["cell"].as_str().unwrap_or("");
    if v["changed"].as_bool() == Some(true) && v["existing"].as_bool() == Some(true) {
        println!(
            "{}",
            msg!(
                "Buổi sinh hoạt ngày {day} của chi bộ {cell} đã có: đã cập nhật ({present} người chưa có trong điểm danh được ghi có mặt, {absent} vắng); điểm danh đã ghi trước giữ nguyên trừ người được nêu.",
                "The meeting of {day} at cell {cell} was already recorded: updated ({present} members not yet listed marked present, {absent} absent); earlier entries are kept except for those named."
            )
        );
    } else if v["changed"].as_bool() == Some(true) {
        println!(
            "{}",
            msg!(
                "Đã ghi buổi sinh hoạt ngày {day} của chi bộ {cell}: {present} có mặt, {absent} vắng.",
                "Recorded the meeting of {day} at cell {cell}: {present} present, {absent} absent."
            )
        );
    } else {
        println!(
            "{}",
            msg!(
                "Buổi sinh hoạt ngày {day} đã được ghi đúng như vậy; không thay đổi gì.",
                "The meeting of {day} was already recorded so; nothing changed."
            )
        );
    }
    Ok(0)
}

/// Sends a sheet and prints what was written and every refused row; exit 3 when a row was refused.
fn sheet(data: &DataDir, mut req: Value, file: &Path, json: bool) -> Result<u8> {
    let bytes = std::fs::read(file).with_context(|| file.display().to_string())?;
    req["csv"] = json!(data_encoding::BASE64.encode(&bytes));
    let v = crate::ops::call(&data.data, req)?;
    let bad = v["bad"].as_array().cloned().unwrap_or_default();
    if json {
        print_json(&v);
    } else {
        let (rows, changed) = (&v["rows"], &v["changed_ledgers"]);
        let refused = bad.len();
        if v["dry_run"].as_bool() == Some(true) {
            println!(
                "{}",
                msg!(
                    "Kiểm tra xong: {rows} dòng hợp lệ, {refused} dòng bị từ chối; chưa ghi gì.",
                    "Checked: {rows} valid rows, {refused} refused; nothing written."
                )
            );
        } else {
            println!(
                "{}",
                msg!(
                    "Đã ghi {rows} dòng vào {changed} sổ chi bộ; {refused} dòng bị từ chối.",
                    "Wrote {rows} rows into {changed} cell ledgers; {refused} rows refused."
                )
            );
        }
        for b in &bad {
            let (line, reason) = (&b["line"], b["reason"].as_str().unwrap_or(""));
            println!("  {} {line}: {reason}", msg!("dòng", "line"));
        }
    }
    // The refused rows, with their reasons, beside the sheet: fix them and import that file.
    if !bad.is_empty() && v["dry_run"].as_bool() != Some(true) {
        let header: Vec<String> = v["header"]
            .as_array()
            .map(|h| {
                h.iter()
                    .filter_map(|c| c.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let delimiter = v["delimiter"].as_u64().unwrap_or(u64::from(b',')) as u8;
        // Its first column must not be a column the sheet reader knows ("Lý do" is the dues reason).
        let mut out = crate::import::RejectedFile::new(file, &header, delimiter)
            .labelled(msg!("Lỗi", "Error"));
        for b in &bad {
            out.add(&rollmesh_engine::csv_import::BadRow {
                line: b["line"].as_u64().unwrap_or(0),
                reason: b["reason"].as_str().unwrap_or("").to_string(),
                duplicate: None,
                values: b["values"]
                    .as_array()
                    .map(|c| {
                        c.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
            })?;
        }
        if let Some(p) = out.finish()? {
            let p = p.display();
            if !json {
                println!(
                    "{}",
                    msg!(
                        "Các dòng bị từ chối (kèm lý do) đã ghi vào {p}: sửa rồi nhập lại tệp đó.",
                        "The refused rows, with reasons, are in {p}: fix them and import that file."
                    )
                );
            }
        }
    }
    Ok(if bad.is_empty() {
        0
    } else {
        super::EXIT_ROWS_REJECTED
    })
}

/// `rating …`.
pub(super) fn rating(cmd: RatingCmd, json: bool) -> Result<u8> {
    match cmd {
        RatingCmd::Set {
            member,
            year,
            rating,
            data,
        } => {
            let req =
                json!({"cmd": "rating.set", "member": member, "year": year, "rating": rating});
            let Some(v) = request(&data, req, json)? else {
                return Ok(0);
            };
            let name = v["name"].as_str().unwrap_or("");
            let label = v["rating"]
                .as_str()
                .and_then(|k| Rating::ALL.iter().find(|r| r.key() == k))
                .map(|r| if is_en() { r.label_en() } else { r.label_vi() })
                .unwrap_or("");
            println!(
                "{}",
                msg!(
                    "Đã xếp loại {name} năm {year}: {label}.",
                    "Rated {name} for {year}: {label}."
                )
            );
            Ok(0)
        }
        RatingCmd::Import {
            file,
            year,
            dry_run,
            data,
        } => {
            let req = json!({"cmd": "sheet.ratings", "year": year, "dry_run": dry_run});
            sheet(&data, req, &file, json)
        }
    }
}

/// `help-list …`.
pub(super) fn help_list(cmd: HelpListCmd, json: bool) -> Result<u8> {
    let HelpListCmd::Record {
        what,
        member,
        date,
        note,
        data,
    } = cmd;
    let date = date.unwrap_or_else(today_in_vietnam);
    let what = match what {
        HelpWhat::Start => "start",
        HelpWhat::Note => "note",
        HelpWhat::End => "end",
    };
    let req = json!({"cmd": "help.record", "member": member, "what": what,
        "date": date.to_string(), "note": note});
    let Some(v) = request(&data, req, json)? else {
        return Ok(0);
    };
    let name = v["name"].as_str().unwrap_or("");
    let day = date.format("%d/%m/%Y");
    let line = match what {
        "start" => msg!(
            "Đã đưa {name} vào danh sách giáo dục, giúp đỡ từ ngày {day}.",
            "Put {name} on the educate-and-help list on {day}."
        ),
        "note" => msg!(
            "Đã ghi tiến bộ của {name} ngày {day}.",
            "Noted the progress of {name} on {day}."
        ),
        _ => msg!(
            "Đã đưa {name} ra khỏi danh sách giáo dục, giúp đỡ ngày {day}.",
            "Took {name} off the educate-and-help list on {day}."
        ),
    };
    println!("{line}");
    Ok(0)
}

/// A stored dues entry (JSON of the ledger's `Dues`) in words.
fn dues_text(d: &Value) -> String {
    if let Some(p) = d.get("paid") {
        let (amount, on) = (&p["amount"], day_text(&p["date"]));
        msg!(
            "đã đóng {amount} đồng ngày {on}",
            "paid {amount} đồng on {on}"
        )
    } else {
        let u = &d["unpaid"];
        let reason = u["reason"].as_str().unwrap_or("");
        match (reason.is_empty(), u["accepted"].as_bool() == Some(true)) {
            (true, _) => msg!("chưa đóng, không lý do", "unpaid, no reason"),
            (false, true) => msg!(
                "chưa đóng, lý do được chấp nhận: {reason}",
                "unpaid, reason accepted: {reason}"
            ),
            (false, false) => msg!(
                "chưa đóng, lý do không được chấp nhận: {reason}",
                "unpaid, reason not accepted: {reason}"
            ),
        }
    }
}

/// `dues …`.
pub(super) fn dues(cmd: DuesCmd, json: bool) -> Result<u8> {
    let (member, (year, month), paid, paid_on, reason, accepted, cell, data) = match cmd {
        DuesCmd::Import {
            file,
            month: (year, month),
            paid_on,
            cell,
            dry_run,
            data,
        } => {
            let last_day = NaiveDate::from_ymd_opt(year, month, 1)
                .and_then(|d| d.checked_add_months(chrono::Months::new(1)))
                .and_then(|d| d.pred_opt())
                .ok_or_else(|| anyhow!("month {month:02}/{year}"))?;
            let mut req = json!({"cmd": "sheet.dues", "year": year, "month": month,
                "paid_on": paid_on.unwrap_or(last_day).to_string(), "dry_run": dry_run});
            if let Some(c) = cell {
                req["cell"] = json!(c);
            }
            return sheet(&data, req, &file, json);
        }
        DuesCmd::Record {
            member,
            month,
            paid,
            paid_on,
            unpaid: _,
            reason,
            accepted,
            cell,
            data,
        } => (member, month, paid, paid_on, reason, accepted, cell, data),
    };
    let mut req = json!({"cmd": "dues.record", "member": member, "year": year, "month": month});
    match paid {
        Some(amount) => {
            let on = paid_on.unwrap_or_else(today_in_vietnam);
            req["paid"] = json!({"amount": amount, "date": on.to_string()});
        }
        None => req["unpaid"] = json!({"reason": reason, "accepted": accepted}),
    }
    if let Some(c) = cell {
        req["cell"] = json!(c);
    }
    let Some(v) = request(&data, req, json)? else {
        return Ok(0);
    };
    let name = v["name"].as_str().unwrap_or("");
    let what = match paid {
        Some(a) => msg!("đã đóng {a} đồng", "paid {a} đồng"),
        None => msg!("chưa đóng", "unpaid"),
    };
    if v["changed"].as_bool() == Some(true) {
        println!(
            "{}",
            msg!(
                "Đã ghi đảng phí tháng {month:02}/{year} của {name}: {what}.",
                "Recorded the dues of {name} for {month:02}/{year}: {what}."
            )
        );
        if let Some(before) = v.get("previous").filter(|p| !p.is_null()) {
            let before = dues_text(before);
            println!(
                "{}",
                msg!("  (thay cho: {before})", "  (replacing: {before})")
            );
        }
    } else {
        println!(
            "{}",
            msg!(
                "Đảng phí tháng {month:02}/{year} của {name} đã được ghi như vậy; không thay đổi gì.",
                "The dues of {name} for {month:02}/{year} were already recorded so; nothing changed."
            )
        );
    }
    Ok(0)
}

/// `ledger show`: the year's meetings and dues of a cell, as a clerk reads the book.
pub(super) fn show(
    cell: Option<String>,
    year: Option<i32>,
    data: DataDir,
    json: bool,
) -> Result<u8> {
    let year = year.unwrap_or_else(|| today_in_vietnam().year());
    let mut req = json!({"cmd": "ledger.show", "year": year});
    if let Some(c) = cell {
        req["cell"] = json!(c);
    }
    let Some(v) = request(&data, req, json)? else {
        return Ok(0);
    };
    let l = &v["ledger"];
    let names = &v["names"];
    let name = |id: &str| {
        names[id]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| id.to_string())
    };
    let cell = l["cell"].as_str().unwrap_or("");
    println!(
        "{}",
        msg!(
            "Sổ chi bộ {cell} năm {year}",
            "Ledger of cell {cell} for {year}"
        )
    );
    let meetings = l["meetings"].as_array().cloned().unwrap_or_default();
    let n = meetings.len();
    println!("{}", msg!("Sinh hoạt ({n}):", "Meetings ({n}):"));
    for m in &meetings {
        let date = day_text(&m["date"]);
        let kind = match m["kind"].as_str() {
            Some("thematic") => msg!("chuyên đề", "thematic"),
            _ => msg!("thường kỳ", "regular"),
        };
        let att = m["attendance"].as_object().cloned().unwrap_or_default();
        let present = att
            .values()
            .filter(|a| a.as_str() == Some("present"))
            .count();
        let expected = att.len();
        println!(
            "  {date}  {kind:<10}  {}  — {}",
            m["topic"].as_str().unwrap_or(""),
            msg!(
                "có mặt {present}/{expected}",
                "present {present}/{expected}"
            )
        );
        for (id, a) in &att {
            if let Some(abs) = a.get("absent") {
                let reason = abs["reason"].as_str().unwrap_or("");
                let verdict = match (reason.is_empty(), abs["accepted"].as_bool()) {
                    (true, _) => msg!("vắng không lý do", "absent without reason"),
                    (false, Some(true)) => {
                        msg!("vắng có lý do: {reason}", "absent, excused: {reason}")
                    }
                    (false, _) => msg!(
                        "vắng, lý do không được chấp nhận: {reason}",
                        "absent, reason not accepted: {reason}"
                    ),
                };
                println!("      {}: {verdict}", name(id));
            }
        }
    }
    let dues = l["dues"].as_object().cloned().unwrap_or_default();
    println!("{}", msg!("Đảng phí:", "Dues:"));
    let header: String = (1..=12).map(|m| format!("  {m:02}")).collect();
    println!("  {:<28}{header}", msg!("tháng", "month"));
    // Every member of the cell, whether or not the book has dues for them, and anyone else it records:
    // by name, as on the paper sheet.
    let mut rows: Vec<(String, String)> = names
        .as_object()
        .into_iter()
        .flat_map(|o| o.keys())
        .chain(dues.keys())
        .map(|id| (name(id), id.clone()))
        .collect();
    rows.sort();
    rows.dedup();
    for (shown, id) in &rows {
        let months = dues.get(id);
        let cells: Vec<String> = (1..=12)
            .map(|m| match months.and_then(|ms| ms.get(m.to_string())) {
                None => "  . ".to_string(),
                Some(Value::Object(o)) if o.contains_key("paid") => "  ✓ ".to_string(),
                Some(_) => "  ✗ ".to_string(),
            })
            .collect();
        println!("  {shown:<28}{}", cells.concat());
    }
    println!(
        "{}",
        msg!(
            "  (✓ đã đóng, ✗ chưa đóng, . chưa ghi; tháng 1 → 12)",
            "  (✓ paid, ✗ unpaid, . not recorded; months 1 → 12)"
        )
    );
    let attached = v["attached"].as_array().cloned().unwrap_or_default();
    if !attached.is_empty() {
        println!(
            "{}",
            msg!(
                "Sinh hoạt tạm thời (đảng phí ghi tại nơi sinh hoạt tạm thời):",
                "Temporary attachments (dues recorded at the host):"
            )
        );
        for a in &attached {
            let who = a["name"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| a["member"].as_str().unwrap_or("").to_string());
            let (home, host) = (
                a["home"].as_str().unwrap_or(""),
                a["host"].as_str().unwrap_or(""),
            );
            let (from, until) = (day_text(&a["from"]), day_text(&a["until"]));
            let cells: Vec<String> = (1..=12)
                .map(|m| match a["dues"].get(m.to_string()) {
                    None => "  . ".to_string(),
                    Some(Value::Object(o)) if o.contains_key("paid") => "  ✓ ".to_string(),
                    Some(_) => "  ✗ ".to_string(),
                })
                .collect();
            let line = if home == cell {
                msg!(
                    "{who} tại {host} từ {from} đến {until}",
                    "{who} at {host} from {from} to {until}"
                )
            } else {
                msg!(
                    "{who} (chi bộ {home}) từ {from} đến {until}",
                    "{who} (of {home}) from {from} to {until}"
                )
            };
            let (present, held) = (
                a["present"].as_u64().unwrap_or(0),
                a["meetings"].as_u64().unwrap_or(0),
            );
            println!("  {line}");
            println!(
                "  {:<28}{}  {}",
                "",
                cells.concat(),
                msg!(
                    "có mặt {present}/{held} buổi",
                    "present at {present}/{held} meetings"
                )
            );
        }
    }
    let ratings = l["ratings"].as_object().cloned().unwrap_or_default();
    if !ratings.is_empty() {
        println!("{}", msg!("Xếp loại:", "Ratings:"));
        for (id, r) in &ratings {
            let label = r
                .as_str()
                .and_then(|k| Rating::ALL.iter().find(|x| x.key() == k))
                .map(|x| if is_en() { x.label_en() } else { x.label_vi() })
                .unwrap_or("");
            let short: String = id.chars().take(10).collect();
            println!("  {:<28} {short:<10}  {label}", name(id));
        }
    }
    let help = l["help"].as_object().cloned().unwrap_or_default();
    if !help.is_empty() {
        println!(
            "{}",
            msg!("Danh sách giáo dục, giúp đỡ:", "Educate-and-help list:")
        );
        for (id, h) in &help {
            let mut parts = Vec::new();
            if !h["start"].is_null() {
                let d = day_text(&h["start"]);
                parts.push(msg!("đưa vào {d}", "on the list {d}"));
            }
            for (d, note) in h["notes"].as_object().cloned().unwrap_or_default() {
                let d = day_text(&json!(d));
                let note = note.as_str().unwrap_or("");
                parts.push(msg!("tiến bộ {d}: {note}", "progress {d}: {note}"));
            }
            if !h["end"].is_null() {
                let d = day_text(&h["end"]);
                parts.push(msg!("đưa ra {d}", "off the list {d}"));
            }
            println!("  {:<28}{}", name(id), parts.join("; "));
        }
    }
    Ok(0)
}
