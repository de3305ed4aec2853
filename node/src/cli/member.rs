//! `member …`: adding, editing, showing, listing and searching member dossiers. Field flags, CSV import
//! and export live in the submodules.

mod export;
mod fields;
mod import;
pub(crate) use import::RejectedFile;

pub use fields::FieldArgs;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Subcommand, ValueEnum};
use rollmesh_model::{DossierEdit, Field, Status, UnitPath};
use serde_json::json;

use super::{held_by_daemon, open, DataDir};
use crate::i18n;
use crate::render::{self, print_json};
use fields::{fields_json, parse_event};
use rollmesh_engine::msg;

#[derive(Subcommand, Debug)]
pub enum MemberCmd {
    /// Add a member (flags for the main fields, or --from-json with a JSON object of field keys).
    Add {
        #[command(flatten)]
        fields: FieldArgs,
        /// A JSON file holding one object {"full_name": "…", "dob": "…", …}.
        #[arg(long, value_name = "FILE")]
        from_json: Option<PathBuf>,
        #[command(flatten)]
        data: DataDir,
    },
    /// Change fields of a member, clear fields, or record events.
    Edit {
        /// Member id (or a unique prefix of it).
        id: String,
        #[command(flatten)]
        fields: FieldArgs,
        /// Remove a field (repeatable), by key.
        #[arg(long, value_name = "KEY")]
        clear: Vec<String>,
        /// Record an event KIND:DATE:DETAIL, e.g. rating:2025-12-31:Hoàn thành tốt nhiệm vụ.
        #[arg(long, value_name = "KIND:DATE:DETAIL")]
        event: Vec<String>,
        #[command(flatten)]
        data: DataDir,
    },
    /// Show a member's dossier, with concurrent (conflicting) values if any.
    Show {
        /// Member id (or a unique prefix of it).
        id: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// List members, optionally of one unit's subtree or one status.
    List {
        /// Only members in this unit's subtree.
        #[arg(long)]
        unit: Option<UnitPath>,
        /// Only members with this status.
        #[arg(long)]
        status: Option<String>,
        #[command(flatten)]
        data: DataDir,
    },
    /// Who changed what, when: the member's signed change log.
    History {
        /// Member id (or a unique prefix of it).
        id: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// Find members by name, ignoring case and diacritics ("nguyen van an" finds "Nguyễn Văn An").
    Search {
        /// Words of the name.
        text: String,
        /// Show at most this many members (the total is still counted).
        #[arg(long, default_value_t = 200)]
        limit: usize,
        #[command(flatten)]
        data: DataDir,
    },
    /// Import members from a CSV file whose header names fields (full_name, dob, sex, … or their labels);
    /// a row with an id (a file from `member export`) updates that member.
    Import {
        /// The CSV file (UTF-8, or Windows-1258 as Excel saves it; separated by commas, semicolons or
        /// tabs). Rejected rows are written beside it to <name>.rejected.csv.
        #[arg(long, value_name = "FILE")]
        csv: PathBuf,
        /// Validate and report only; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Rows per durable commit (larger batches rewrite fewer store pages, at more memory).
        #[arg(long, default_value_t = 2000, hide = true)]
        batch: usize,
        #[command(flatten)]
        data: DataDir,
    },
    /// Export members as CSV or JSON (stdout, or --out).
    Export {
        /// csv or json.
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormat,
        /// CSV in the machine form: field keys as the header, values as stored (ISO dates, enum keys),
        /// no BOM. By default the CSV is for Excel: a UTF-8 BOM, labels, DD/MM/YYYY, Vietnamese values.
        #[arg(long)]
        keys: bool,
        /// The CSV separator (semicolon for an Excel whose list separator is `;`).
        #[arg(long, value_enum, default_value = "comma")]
        sep: CsvSeparator,
        /// Output file (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        data: DataDir,
    },
    /// Write a member's raw Automerge document (standard Automerge binary) to a file.
    ExportDoc {
        /// Member id (or a unique prefix of it).
        id: String,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        data: DataDir,
    },
    /// List the dossier fields with their keys (for --set, --clear and CSV headers).
    Fields,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum CsvSeparator {
    /// `,`
    Comma,
    /// `;`
    Semicolon,
    /// A tab.
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
    /// CSV for Excel, one column per field (see --keys and --sep).
    Csv,
    /// A JSON array of objects.
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
    let node = match open(&data) {
        Ok(n) => n,
        Err(e) if held_by_daemon(&e, &data.data) && from_json.is_none() => {
            let req = json!({"cmd": "member.add", "fields": fields_json(&fields.collect()?),
                "unit": unit});
            let v = crate::admin::call(&data.data, &req)?;
            if json {
                print_json(&v);
            } else {
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
            }
            return Ok(0);
        }
        Err(e) => return Err(e),
    };
    let mut values = BTreeMap::new();
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
        for (k, v) in obj {
            let f = Field::from_key(&k)?;
            let s = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            values.insert(f, f.normalize(&s)?);
        }
    }
    values.extend(fields.collect()?);
    if let Some(u) = unit {
        values.insert(Field::Unit, node.resolve_unit(&u)?.to_string());
    }
    if !values.contains_key(&Field::FullName) {
        bail!(msg!(
            "cần họ tên (--name)",
            "a full name is required (--name)"
        ));
    }
    let id = node.add_member(values, Vec::new())?;
    let rec = node.record(&id)?;
    node.audit("member.add", &id.to_string(), rec.name())?;
    if json {
        print_json(&render::record_json(&rec));
    } else {
        let name = rec.name();
        println!(
            "{}",
            msg!(
                "Đã thêm đảng viên {name}, mã {id}.",
                "Added member {name}, id {id}."
            )
        );
    }
    Ok(0)
}

/// `member edit`: set or clear fields and record events (through the running node if it can).
fn edit(
    id: String,
    mut fields: FieldArgs,
    clear: Vec<String>,
    event: Vec<String>,
    data: DataDir,
    json: bool,
) -> Result<u8> {
    let unit = fields.unit.take();
    let node = match open(&data) {
        Ok(n) => n,
        Err(e) if held_by_daemon(&e, &data.data) && clear.is_empty() && event.is_empty() => {
            let req = json!({"cmd": "member.edit", "id": id,
                "fields": fields_json(&fields.collect()?), "unit": unit});
            let v = crate::admin::call(&data.data, &req)?;
            if json {
                print_json(&v);
            } else {
                println!(
                    "{}",
                    msg!("Đã cập nhật hồ sơ {id}.", "Updated dossier {id}.")
                );
            }
            return Ok(0);
        }
        Err(e) => return Err(e),
    };
    let id = node.resolve(&id)?;
    let mut edit = DossierEdit {
        set: fields.collect()?,
        ..DossierEdit::default()
    };
    if let Some(u) = unit {
        edit.set
            .insert(Field::Unit, node.resolve_unit(&u)?.to_string());
    }
    for c in clear {
        edit.clear.insert(Field::from_key(&c)?);
    }
    for e in event {
        edit.events.push(parse_event(&e)?);
    }
    if edit.is_empty() {
        bail!(msg!(
            "không có gì để sửa (dùng --phone, --set khóa=giá_trị, --clear, --event)",
            "nothing to change (use --phone, --set key=value, --clear, --event)"
        ));
    }
    let changed = node.edit_member(id, &edit)?;
    let rec = node.record(&id)?;
    let keys: Vec<&str> = edit
        .set
        .keys()
        .chain(edit.clear.iter())
        .map(|f| f.key())
        .collect();
    node.audit("member.edit", &id.to_string(), &keys.join(","))?;
    if json {
        print_json(&json!({"changed": changed, "member": render::record_json(&rec)}));
    } else if changed {
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
    let node = open(&data)?;
    let id = node.resolve(&id)?;
    let rec = node.record(&id)?;
    node.audit("member.show", &id.to_string(), "")?;
    let dossier = node.store().dossier(&id)?.context("dossier missing")?;
    let conflicts = dossier.conflicts()?;
    let heads: Vec<String> = dossier
        .doc()
        .get_heads()
        .iter()
        .map(|h| rollmesh_proto::identity::hex(&h.0))
        .collect();
    if json {
        let mut v = render::record_json(&rec);
        if let Some(o) = v.as_object_mut() {
            o.insert(
                "conflicts".into(),
                json!(conflicts
                    .iter()
                    .map(|(f, vals)| (f.key().to_string(), vals.clone()))
                    .collect::<BTreeMap<_, _>>()),
            );
            o.insert(
                "events".into(),
                json!(rec
                    .events
                    .iter()
                    .map(|e| json!({"kind": e.kind.key(), "date": e.date, "detail": e.detail}))
                    .collect::<Vec<_>>()),
            );
            o.insert("heads".into(), json!(heads));
        }
        print_json(&v);
    } else {
        println!("{}: {id}", i18n::pick("Mã", "Id"));
        for (f, v) in &rec.fields {
            println!(
                "  {:<24} {}",
                render::label(*f),
                render::display_value(*f, v)
            );
        }
        for (f, vals) in &conflicts {
            let shown: Vec<String> = vals.iter().map(|v| render::display_value(*f, v)).collect();
            let label = render::label(*f);
            let list = shown.join(" | ");
            println!(
                "  ! {}",
                msg!(
                    "{label} có giá trị đồng thời khác nhau: {list} (giá trị đầu đang được dùng)",
                    "{label} has concurrent values: {list} (the first is in use)"
                )
            );
        }
        if !rec.events.is_empty() {
            println!("  {}", i18n::pick("Sự kiện:", "Events:"));
            for e in &rec.events {
                println!(
                    "    {} {} {}",
                    e.date.as_deref().unwrap_or("-"),
                    i18n::pick(e.kind.label_vi(), e.kind.label_en()),
                    e.detail
                );
            }
        }
    }
    Ok(0)
}

/// `member list`: optionally one unit's subtree or one status.
fn list(unit: Option<UnitPath>, status: Option<String>, data: DataDir, json: bool) -> Result<u8> {
    let node = match open(&data) {
        Ok(n) => n,
        Err(e) if held_by_daemon(&e, &data.data) && unit.is_none() && status.is_none() => {
            let v = crate::admin::call(&data.data, &json!({"cmd": "member.list"}))?;
            let list = v["members"].clone();
            if json {
                print_json(&list);
            } else {
                let rows = list.as_array().cloned().unwrap_or_default();
                for r in &rows {
                    println!("{}", render::record_line_json(r));
                }
                let n = rows.len();
                println!(
                    "{}",
                    msg!(
                        "({n} đảng viên, qua nút đang chạy)",
                        "({n} members, via the running node)"
                    )
                );
            }
            return Ok(0);
        }
        Err(e) => return Err(e),
    };
    let status = match status {
        Some(s) => Some(
            Status::parse(&s)
                .with_context(|| msg!("trạng thái không rõ: {s}", "unknown status: {s}"))?,
        ),
        None => None,
    };
    let mut list = node.store().list(unit.as_ref())?;
    if let Some(s) = status {
        list.retain(|r| r.status() == Some(s));
    }
    let target = unit
        .as_ref()
        .map(|u| u.to_string())
        .unwrap_or_else(|| "*".into());
    node.audit("member.list", &target, &format!("{} records", list.len()))?;
    print_records(&list, json);
    Ok(0)
}

/// `member search`: by name, ignoring case and diacritics.
fn search(text: String, limit: usize, data: DataDir, json: bool) -> Result<u8> {
    let node = open(&data)?;
    let (list, total) = node.store().search_page(&text, limit)?;
    node.audit("member.search", &text, &format!("{} records", list.len()))?;
    print_records(&list, json);
    if total > list.len() {
        let shown = list.len();
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

/// `member history`: the member's signed change log.
fn history(id: String, data: DataDir, json: bool) -> Result<u8> {
    let node = open(&data)?;
    let id = node.resolve(&id)?;
    node.audit("member.history", &id.to_string(), "")?;
    let entries: Vec<render::HistoryEntry> = node
        .store()
        .history(&id)?
        .iter()
        .filter_map(|(seq, env)| render::HistoryEntry::from_envelope(*seq, env))
        .collect();
    if json {
        print_json(&json!(entries
            .iter()
            .map(render::HistoryEntry::json)
            .collect::<Vec<_>>()));
    } else {
        for e in &entries {
            println!("{}", e.line());
        }
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

fn print_records(list: &[rollmesh_model::MemberRecord], json: bool) {
    if json {
        print_json(&json!(list
            .iter()
            .map(render::record_json)
            .collect::<Vec<_>>()));
    } else {
        for r in list {
            println!("{}", render::record_line(r));
        }
        let n = list.len();
        println!("{}", msg!("({n} đảng viên)", "({n} members)"));
    }
}
