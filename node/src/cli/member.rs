//! `member …`: adding, editing, showing, listing and searching member dossiers. Field flags, CSV import
//! and export live in the submodules.

mod export;
mod fields;
mod import;

pub use fields::FieldArgs;

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Subcommand, ValueEnum};
use rollmesh_model::Field;
use serde_json::json;

use super::{request, DataDir};
use crate::i18n;
use crate::render::{self, print_json};
use fields::{fields_json, parse_event};
use rollmesh_engine::msg;

#[derive(Subcommand, Debug)]
pub enum MemberCmd {
    /// Thêm đảng viên mới: ghi các trường chính bằng tham số, hoặc dùng --from-json (add a member).
    Add {
        #[command(flatten)]
        fields: FieldArgs,
        /// Tệp JSON chứa một đối tượng {"full_name": "…", "dob": "…", …} (a JSON file).
        #[arg(long, value_name = "FILE")]
        from_json: Option<PathBuf>,
        #[command(flatten)]
        data: DataDir,
    },
    /// Sửa hoặc xóa trường trong hồ sơ đảng viên, hoặc ghi sự kiện (edit a member).
    Edit {
        /// Mã đảng viên, hoặc vài ký tự đầu đủ để không trùng (member id or a unique prefix).
        id: String,
        #[command(flatten)]
        fields: FieldArgs,
        /// Xóa một trường theo khóa trường; dùng được nhiều lần (remove a field, by key).
        #[arg(long, value_name = "KEY")]
        clear: Vec<String>,
        /// Ghi sự kiện dạng KIND:DATE:DETAIL (loại:ngày:nội dung), ví dụ rating:2025-12-31:Hoàn thành tốt nhiệm vụ.
        #[arg(long, value_name = "KIND:DATE:DETAIL")]
        event: Vec<String>,
        #[command(flatten)]
        data: DataDir,
    },
    /// Xem hồ sơ đảng viên, kèm các giá trị khác nhau do sửa cùng lúc ở hai nơi, nếu có (show a dossier).
    Show {
        /// Mã đảng viên, hoặc vài ký tự đầu đủ để không trùng (member id or a unique prefix).
        id: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// Liệt kê đảng viên, có thể lọc theo đơn vị hoặc trạng thái (list members).
    List {
        /// Chỉ đảng viên thuộc đơn vị này và các đơn vị trực thuộc, theo mã hoặc tên (only this unit).
        #[arg(long)]
        unit: Option<String>,
        /// Chỉ đảng viên có trạng thái này (only members with this status).
        #[arg(long)]
        status: Option<String>,
        #[command(flatten)]
        data: DataDir,
    },
    /// Ai đã sửa gì, khi nào: lịch sử thay đổi có chữ ký của hồ sơ (the member's change log).
    History {
        /// Mã đảng viên, hoặc vài ký tự đầu đủ để không trùng (member id or a unique prefix).
        id: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// Tìm đảng viên theo tên, không phân biệt hoa thường hay dấu: "nguyen van an" tìm ra "Nguyễn Văn An" (search).
    Search {
        /// Các chữ trong họ tên (words of the name).
        text: String,
        /// Hiện tối đa bấy nhiêu đảng viên; tổng số vẫn được đếm đủ (show at most this many).
        #[arg(long, default_value_t = 200)]
        limit: usize,
        #[command(flatten)]
        data: DataDir,
    },
    /// Nhập đảng viên từ tệp CSV có dòng tiêu đề ghi tên trường (full_name, dob, sex, … hoặc nhãn tiếng Việt);
    /// dòng nào có mã đảng viên (tệp từ `member export`) thì cập nhật đảng viên đó (import members).
    Import {
        /// Tệp cần nhập: tệp Excel (.xlsx) hoặc CSV (UTF-8, hoặc Windows-1258 như Excel thường lưu;
        /// phân cách bằng dấu phẩy, chấm phẩy hoặc tab). Các dòng bị từ chối được ghi ra tệp bên cạnh,
        /// <name>.rejected.csv (the file to import).
        #[arg(long, value_name = "FILE", alias = "file", alias = "xlsx")]
        csv: PathBuf,
        /// Chỉ kiểm tra và báo cáo, không ghi gì (check only, write nothing).
        #[arg(long)]
        dry_run: bool,
        /// Số dòng mỗi lần ghi vào kho; lô lớn ghi ít trang hơn nhưng tốn bộ nhớ hơn (rows per commit).
        #[arg(long, default_value_t = 2000, hide = true)]
        batch: usize,
        #[command(flatten)]
        data: DataDir,
    },
    /// Xuất danh sách đảng viên ra Excel, CSV hoặc JSON, in ra màn hình hoặc ghi tệp --out (export).
    Export {
        /// xlsx, csv hoặc json (mặc định: theo đuôi tệp --out, nếu không có thì csv).
        #[arg(long, value_enum)]
        format: Option<ExportFormat>,
        /// CSV dạng cho máy: tiêu đề là khóa trường, giá trị giữ nguyên như khi lưu (ngày ISO, mã giá trị),
        /// không có BOM. Mặc định CSV dành cho Excel: có BOM UTF-8, nhãn, ngày DD/MM/YYYY, giá trị tiếng Việt.
        #[arg(long)]
        keys: bool,
        /// Dấu phân cách trong CSV; chọn semicolon nếu Excel trên máy dùng dấu `;` (the CSV separator).
        #[arg(long, value_enum, default_value = "comma")]
        sep: CsvSeparator,
        /// Tệp ghi ra; mặc định in ra màn hình (output file).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        data: DataDir,
    },
    /// Ghi dữ liệu Automerge gốc của một hồ sơ ra tệp, dạng nhị phân chuẩn (raw Automerge document).
    ExportDoc {
        /// Mã đảng viên, hoặc vài ký tự đầu đủ để không trùng (member id or a unique prefix).
        id: String,
        /// Tệp ghi ra (output file).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        data: DataDir,
    },
    /// Liệt kê các trường hồ sơ và khóa trường, dùng cho --set, --clear và tiêu đề CSV (list fields).
    Fields,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum CsvSeparator {
    /// Dấu phẩy `,` (comma).
    Comma,
    /// Dấu chấm phẩy `;` (semicolon).
    Semicolon,
    /// Dấu tab (a tab).
    Tab,
}

impl CsvSeparator {
    fn byte(self) -> u8 {
        match self {
            CsvSeparator::Comma => b',',
            CsvSeparator::Semicolon => b';',
            CsvSeparator::Tab => b'\t',
        }
    }
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum ExportFormat {
    /// CSV cho Excel, mỗi trường một cột (xem --keys và --sep).
    Csv,
    /// Tệp Excel (.xlsx): có nhãn, ngày DD/MM/YYYY, số điện thoại và số CCCD để dạng chữ.
    Xlsx,
    /// Một mảng JSON gồm các đối tượng (a JSON array of objects).
    Json,
}

/// Runs a `member` subcommand.
pub(super) fn run(cmd: MemberCmd, json: bool) -> Result<u8> {
    match cmd {
        MemberCmd::Add {
            fields,
            from_json,
            data,
        } => add(fields, from_json, data, json),
        MemberCmd::Edit {
            id,
            fields,
            clear,
            event,
            data,
        } => edit(id, fields, clear, event, data, json),
        MemberCmd::Show { id, data } => show(id, data, json),
        MemberCmd::List { unit, status, data } => list(unit, status, data, json),
        MemberCmd::Search { text, limit, data } => search(text, limit, data, json),
        MemberCmd::History { id, data } => history(id, data, json),

        MemberCmd::Import {
            csv,
            dry_run,
            batch,
            data,
        } => import::import(&csv, dry_run, batch.max(1), &data, json),
        MemberCmd::Export {
            format,
            keys,
            sep,
            out,
            data,
        } => export::export(format, keys, sep.byte(), out, data),
        MemberCmd::ExportDoc { id, out, data } => export::export_doc(id, out, data, json),
        MemberCmd::Fields => list_fields(json),
    }
}

/// `member add`: from flags and/or a JSON file (through the running node if it holds the store).
fn add(mut fields: FieldArgs, from_json: Option<PathBuf>, data: DataDir, json: bool) -> Result<u8> {
    // A unit may be named by code or by name: resolved by the node, against the city's tree.
    let unit = fields.unit.take();
    let mut values = serde_json::Map::new();
    if let Some(p) = from_json {
        let text = std::fs::read_to_string(&p).with_context(|| p.display().to_string())?;
        let obj: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)
            .with_context(|| {
                let p = p.display();
                msg!(
                    "{p} không phải một đối tượng JSON",
                    "{p} is not a JSON object"
                )
            })?;
        values.extend(obj);
    }
    if let serde_json::Value::Object(m) = fields_json(&fields.collect()?) {
        values.extend(m);
    }
    let req = json!({"cmd": "member.add", "fields": values, "unit": unit});
    let Some(v) = request(&data, req, json)? else {
        return Ok(0);
    };
    let (name, id) = (
        v["full_name"].as_str().unwrap_or(""),
        v["id"].as_str().unwrap_or(""),
    );
    println!(
        "{}",
        msg!(
            "Đã thêm đảng viên {name}, mã {id}.",
            "Added member {name}, id {id}."
        )
    );
    Ok(0)
}

/// `member edit`: set or clear fields and record events (through the running node if it holds the store).
fn edit(
    id: String,
    mut fields: FieldArgs,
    clear: Vec<String>,
    event: Vec<String>,
    data: DataDir,
    json: bool,
) -> Result<u8> {
    let unit = fields.unit.take();
    let mut events = Vec::new();
    for e in &event {
        let e = parse_event(e)?;
        events.push(json!({"kind": e.kind.key(), "date": e.date, "detail": e.detail}));
    }
    for c in &clear {
        Field::from_key(c)?;
    }
    let req = json!({"cmd": "member.edit", "id": id, "fields": fields_json(&fields.collect()?),
        "unit": unit, "clear": clear, "events": events});
    let Some(v) = request(&data, req, json)? else {
        return Ok(0);
    };
    if v["changed"].as_bool() == Some(true) {
        let id = v["member"]["id"].as_str().unwrap_or(&id);
        println!(
            "{}",
            msg!("Đã cập nhật hồ sơ {id}.", "Updated dossier {id}.")
        );
    } else {
        println!(
            "{}",
            msg!(
                "Không có thay đổi: hồ sơ đã có các giá trị này.",
                "No change: the dossier already holds these values."
            )
        );
    }
    Ok(0)
}

/// `member show`: the dossier, with concurrent values and events.
fn show(id: String, data: DataDir, json: bool) -> Result<u8> {
    let Some(v) = request(&data, json!({"cmd": "member.show", "id": id}), json)? else {
        return Ok(0);
    };
    println!(
        "{}: {}",
        i18n::pick("Mã", "Id"),
        v["id"].as_str().unwrap_or("")
    );
    for f in Field::ALL {
        if let Some(val) = v[f.key()].as_str() {
            println!(
                "  {:<24} {}",
                render::label(*f),
                render::clerk_value(*f, val)
            );
        }
    }
    for (k, vals) in v["conflicts"].as_object().into_iter().flatten() {
        let Ok(f) = Field::from_key(k) else { continue };
        let shown: Vec<String> = vals
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str())
            .map(|x| render::display_value(f, x))
            .collect();
        let label = render::label(f);
        let list = shown.join(" | ");
        println!(
            "  ! {}",
            msg!(
                "{label} có giá trị đồng thời khác nhau: {list} (giá trị đầu đang được dùng)",
                "{label} has concurrent values: {list} (the first is in use)"
            )
        );
    }
    let events = v["events"].as_array().cloned().unwrap_or_default();
    if !events.is_empty() {
        println!("  {}", i18n::pick("Sự kiện:", "Events:"));
        for e in &events {
            let kind = e["kind"].as_str().unwrap_or("");
            let label = rollmesh_model::EventKind::parse(kind)
                .map(|k| i18n::pick(k.label_vi(), k.label_en()).to_string())
                .unwrap_or_else(|| kind.to_string());
            if kind == "case_step" {
                let step: serde_json::Value =
                    serde_json::from_str(e["detail"].as_str().unwrap_or("")).unwrap_or_default();
                println!(
                    "    {} {}: {}",
                    i18n::pick("Hồ sơ", "Case"),
                    step["case"].as_str().unwrap_or(""),
                    render::case_step_line(&step)
                );
                continue;
            }
            println!(
                "    {} {} {}",
                e["date"]
                    .as_str()
                    .map(render::date_text)
                    .unwrap_or_else(|| "-".into()),
                label,
                e["detail"].as_str().unwrap_or("")
            );
        }
    }
    Ok(0)
}

/// `member list`: optionally one unit's subtree or one status.
fn list(unit: Option<String>, status: Option<String>, data: DataDir, json: bool) -> Result<u8> {
    let req = json!({"cmd": "member.list", "unit": unit, "status": status, "limit": 0});
    let v = crate::ops::call(&data.data, req)?;
    let rows = v["members"].as_array().cloned().unwrap_or_default();
    if json {
        print_json(&serde_json::Value::Array(rows));
        return Ok(0);
    }
    print_rows(&rows);
    Ok(0)
}

/// `member search`: by name, ignoring case and diacritics.
fn search(text: String, limit: usize, data: DataDir, json: bool) -> Result<u8> {
    let req = json!({"cmd": "member.search", "text": text, "limit": limit});
    let v = crate::ops::call(&data.data, req)?;
    let rows = v["members"].as_array().cloned().unwrap_or_default();
    if json {
        print_json(&serde_json::Value::Array(rows.clone()));
    } else {
        print_rows(&rows);
    }
    let total = v["total"].as_u64().unwrap_or(0) as usize;
    if total > rows.len() {
        let shown = rows.len();
        let total = if v["total_exact"].as_bool() == Some(false) {
            msg!("hơn {total}", "more than {total}")
        } else {
            total.to_string()
        };
        eprintln!(
            "{}",
            msg!(
                "Hiển thị {shown} trong {total} đảng viên khớp; dùng --limit để xem thêm.",
                "Showing {shown} of {total} matching members; use --limit to see more."
            )
        );
    }
    Ok(0)
}

/// `member history`: who changed what from → to, when, and which node signed it.
fn history(id: String, data: DataDir, json: bool) -> Result<u8> {
    let req = json!({"cmd": "member.history", "id": id});
    let v = crate::ops::call(&data.data, req)?;
    let entries = v["entries"].as_array().cloned().unwrap_or_default();
    if json {
        print_json(&serde_json::Value::Array(entries));
        return Ok(0);
    }
    for e in &entries {
        println!("{}", render::history_line(e));
    }
    Ok(0)
}

/// `member fields`: the dossier fields with their keys.
fn list_fields(json: bool) -> Result<u8> {
    if json {
        print_json(&json!(Field::ALL
            .iter()
            .map(|f| json!({"key": f.key(), "vi": f.label_vi(), "en": f.label_en()}))
            .collect::<Vec<_>>()));
    } else {
        for f in Field::ALL {
            println!("{:<22} {:<26} {}", f.key(), f.label_vi(), f.label_en());
        }
    }
    Ok(0)
}

fn print_rows(rows: &[serde_json::Value]) {
    for r in rows {
        println!("{}", render::record_line_json(r));
    }
    let n = rows.len();
    println!("{}", msg!("({n} đảng viên)", "({n} members)"));
}
