//! The `rollmesh` command line. Every command takes `--data <dir>` (or `ROLLMESH_DATA`), prints
//! Vietnamese by default (`--lang en` for English) and JSON with `--json`, and exits non-zero with a
//! one-line cause on error.
//!
//! Exit codes: 0 done; 1 error; 2 bad usage; 3 some CSV rows rejected; 4 some incoming changes rejected
//! (or the bundle was truncated); 5 `verify` found problems.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use rollmesh_model::{DossierEdit, Event, EventKind, Field, OrgTree, Status, UnitPath};
use rollmesh_proto::NodeId;
use serde_json::json;

use crate::i18n::{self, Lang};
use crate::node::Node;
use crate::render::{self, print_json};
use crate::{csv_import, msg};

/// rollmesh — sổ đảng viên đồng bộ dạng lưới (a membership registry that syncs as a mesh).
///
/// Each node keeps the signed member dossiers of its own unit's subtree on disk. Start with
/// `rollmesh init --unit hn.d01.w01.c01 --data ./cell`, then `rollmesh member add --data ./cell --name "…"`.
#[derive(Parser, Debug)]
#[command(name = "rollmesh", version, propagate_version = true)]
pub struct Cli {
    /// Output language for messages: vi (default) or en. Also ROLLMESH_LANG.
    #[arg(
        long,
        global = true,
        value_enum,
        env = "ROLLMESH_LANG",
        default_value = "vi"
    )]
    pub lang: Lang,
    /// Machine-readable JSON on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct DataDir {
    /// The node's data directory. Also ROLLMESH_DATA.
    #[arg(long, env = "ROLLMESH_DATA", value_name = "DIR")]
    pub data: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a node's data directory and key for one unit, and print its node id.
    Init {
        /// The unit this node serves, e.g. hn.d01.w01.c01. Its subtree is the node's scope.
        #[arg(long)]
        unit: UnitPath,
        /// An organisation tree (TOML, see config/org-demo.toml) the unit must belong to.
        #[arg(long, value_name = "FILE")]
        tree: Option<PathBuf>,
        #[command(flatten)]
        data: DataDir,
    },
    /// Print this node's id (give it to the clerks of nodes that should trust this one).
    Id {
        #[command(flatten)]
        data: DataDir,
    },
    /// The node ids whose changes this node accepts (until credentials replace this list).
    #[command(subcommand)]
    Trust(TrustCmd),
    /// Member dossiers.
    #[command(subcommand)]
    Member(Box<MemberCmd>),
    /// Files of signed changes, for moving data without a network (a USB stick to the ward).
    #[command(subcommand)]
    Bundle(BundleCmd),
    /// Changes that were refused, with the reason.
    #[command(subcommand)]
    Quarantine(QuarantineCmd),
    /// Re-check every stored signature and document against its changes.
    Verify {
        #[command(flatten)]
        data: DataDir,
    },
}

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

/// Flags for dossier fields. `--set key=value` reaches any field by its key (see `member fields`).
#[derive(Args, Debug, Clone, Default)]
pub struct FieldArgs {
    /// Họ và tên — full name.
    #[arg(long)]
    pub name: Option<String>,
    /// Ngày sinh — date of birth, YYYY-MM-DD or DD/MM/YYYY.
    #[arg(long)]
    pub dob: Option<String>,
    /// Giới tính — male/female (nam/nữ).
    #[arg(long)]
    pub sex: Option<String>,
    /// Số CCCD — citizen id.
    #[arg(long)]
    pub citizen_id: Option<String>,
    /// Số lý lịch — dossier number.
    #[arg(long)]
    pub dossier_no: Option<String>,
    /// Số thẻ đảng viên — card number.
    #[arg(long)]
    pub card_no: Option<String>,
    /// Điện thoại — phone.
    #[arg(long)]
    pub phone: Option<String>,
    /// Nơi làm việc — workplace.
    #[arg(long)]
    pub workplace: Option<String>,
    /// Nơi ở hiện nay — current residence.
    #[arg(long)]
    pub residence: Option<String>,
    /// Quê quán — hometown.
    #[arg(long)]
    pub hometown: Option<String>,
    /// Lĩnh vực — sector (lecturer, teacher, student, worker, farmer, civil_servant, …).
    #[arg(long)]
    pub sector: Option<String>,
    /// Trạng thái — status (official, probationary, exempted, temporarily_away, …).
    #[arg(long)]
    pub status: Option<String>,
    /// Chi bộ sinh hoạt — the member's unit (default: this node's unit).
    #[arg(long)]
    pub unit: Option<String>,
    /// Ngày vào Đảng — admission date.
    #[arg(long)]
    pub admission_date: Option<String>,
    /// Any field by key: --set ethnicity=Kinh (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

impl FieldArgs {
    fn collect(&self) -> Result<BTreeMap<Field, String>> {
        let mut raw: Vec<(Field, String)> = Vec::new();
        let named = [
            (Field::FullName, &self.name),
            (Field::DateOfBirth, &self.dob),
            (Field::Sex, &self.sex),
            (Field::CitizenId, &self.citizen_id),
            (Field::DossierNo, &self.dossier_no),
            (Field::CardNo, &self.card_no),
            (Field::Phone, &self.phone),
            (Field::Workplace, &self.workplace),
            (Field::CurrentResidence, &self.residence),
            (Field::Hometown, &self.hometown),
            (Field::Sector, &self.sector),
            (Field::Status, &self.status),
            (Field::Unit, &self.unit),
            (Field::AdmissionDate, &self.admission_date),
        ];
        for (f, v) in named {
            if let Some(v) = v {
                raw.push((f, v.clone()));
            }
        }
        for s in &self.set {
            let (k, v) = s.split_once('=').with_context(|| {
                msg!(
                    "--set cần dạng khóa=giá_trị: {s}",
                    "--set needs key=value: {s}"
                )
            })?;
            raw.push((Field::from_key(k)?, v.to_string()));
        }
        let mut out = BTreeMap::new();
        for (f, v) in raw {
            out.insert(f, f.normalize(&v)?);
        }
        Ok(out)
    }
}

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
        #[command(flatten)]
        data: DataDir,
    },
    /// Import members from a CSV file whose header names fields (full_name, dob, sex, …).
    Import {
        /// The CSV file (UTF-8).
        #[arg(long, value_name = "FILE")]
        csv: PathBuf,
        /// Validate and report only; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Rows per durable commit.
        #[arg(long, default_value_t = 500, hide = true)]
        batch: usize,
        #[command(flatten)]
        data: DataDir,
    },
    /// Export members as CSV or JSON (stdout, or --out).
    Export {
        /// csv or json.
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormat,
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
pub enum ExportFormat {
    /// Comma-separated, one column per field key.
    Csv,
    /// A JSON array of objects.
    Json,
}

#[derive(Subcommand, Debug)]
pub enum BundleCmd {
    /// Write the node's signed changes (all, or after --since SEQ) to a bundle file.
    Export {
        /// The bundle file to write.
        #[arg(long)]
        out: PathBuf,
        /// Only changes after this log sequence number (the `last_seq` of a previous export).
        #[arg(long, default_value_t = 0)]
        since: u64,
        #[command(flatten)]
        data: DataDir,
    },
    /// Verify and apply a bundle; refused changes are quarantined and the command exits 4.
    Import {
        /// The bundle file.
        file: PathBuf,
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(Subcommand, Debug)]
pub enum QuarantineCmd {
    /// List refused changes with their reasons.
    List {
        #[command(flatten)]
        data: DataDir,
    },
    /// Show one refused change in full.
    Show {
        /// Its quarantine number.
        seq: u64,
        #[command(flatten)]
        data: DataDir,
    },
}

/// Exit codes beyond 0/1/2.
const EXIT_ROWS_REJECTED: u8 = 3;
const EXIT_CHANGES_REJECTED: u8 = 4;
const EXIT_VERIFY_PROBLEMS: u8 = 5;

/// Parses arguments, runs the command, prints a one-line cause on error.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    i18n::set(cli.lang);
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("{}: {}", i18n::pick("lỗi", "error"), render::explain(&e));
            ExitCode::from(1)
        }
    }
}

fn open(d: &DataDir) -> Result<Node> {
    Node::open(&d.data).with_context(|| msg!("không mở được nút", "cannot open the node"))
}

/// Runs a parsed command; returns the exit code.
pub fn run(cli: Cli) -> Result<u8> {
    let json = cli.json;
    match cli.command {
        Command::Init { unit, tree, data } => {
            let tree = match tree {
                Some(p) => Some(OrgTree::load(&p)?),
                None => None,
            };
            let node = Node::init(&data.data, unit, tree.as_ref())?;
            if json {
                print_json(
                    &json!({"node_id": node.id().to_string(), "unit": node.unit().to_string(),
                    "data": node.dir().display().to_string()}),
                );
            } else {
                let (id, unit, dir) = (node.id(), node.unit(), node.dir().display());
                println!(
                    "{}",
                    msg!(
                        "Đã khởi tạo nút cho đơn vị {unit} tại {dir}",
                        "Initialised a node for unit {unit} in {dir}"
                    )
                );
                println!("{}", msg!("Mã nút: {id}", "Node id: {id}"));
            }
            Ok(0)
        }
        Command::Id { data } => {
            let node = open(&data)?;
            if json {
                print_json(
                    &json!({"node_id": node.id().to_string(), "unit": node.unit().to_string(),
                    "public_key": node.store().meta().public_key().to_hex()}),
                );
            } else {
                println!("{}", node.id());
            }
            Ok(0)
        }
        Command::Trust(cmd) => trust(cmd, json),
        Command::Member(cmd) => member(*cmd, json),
        Command::Bundle(cmd) => bundle(cmd, json),
        Command::Quarantine(cmd) => quarantine(cmd, json),
        Command::Verify { data } => {
            let node = open(&data)?;
            let r = node.store().verify()?;
            if json {
                print_json(
                    &json!({"clean": r.is_clean(), "changes": r.changes, "documents": r.documents,
                    "pending": r.pending, "quarantined": r.quarantined, "problems": r.problems}),
                );
            } else {
                let (c, d, p, q) = (r.changes, r.documents, r.pending, r.quarantined);
                println!("{}", msg!("Đã kiểm tra {c} thay đổi có chữ ký và {d} hồ sơ; {p} thay đổi chờ, {q} bị cách ly.",
                    "Checked {c} signed changes and {d} dossiers; {p} waiting, {q} quarantined."));
                for problem in &r.problems {
                    println!("  ! {problem}");
                }
                if r.is_clean() {
                    println!("{}", msg!("Kho dữ liệu toàn vẹn.", "The store is clean."));
                } else {
                    let n = r.problems.len();
                    println!("{}", msg!("Phát hiện {n} lỗi.", "Found {n} problems."));
                }
            }
            Ok(if r.is_clean() {
                0
            } else {
                EXIT_VERIFY_PROBLEMS
            })
        }
    }
}

fn trust(cmd: TrustCmd, json: bool) -> Result<u8> {
    match cmd {
        TrustCmd::Add {
            node_id,
            note,
            data,
        } => {
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
        TrustCmd::List { data } => {
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
        TrustCmd::Remove { node_id, data } => {
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
    }
}

fn parse_event(s: &str) -> Result<Event> {
    let mut parts = s.splitn(3, ':');
    let kind_text = parts.next().unwrap_or("");
    let kind = EventKind::parse(kind_text).with_context(|| {
        msg!(
            "loại sự kiện không rõ: {kind_text}",
            "unknown event kind: {kind_text}"
        )
    })?;
    let date = match parts.next().map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) => Some(
            Field::AdmissionDate
                .normalize(d)
                .with_context(|| msg!("ngày không hợp lệ: {d}", "bad date: {d}"))?,
        ),
        None => None,
    };
    let detail = rollmesh_model::text::clean(parts.next().unwrap_or(""));
    Ok(Event { kind, date, detail })
}

fn member(cmd: MemberCmd, json: bool) -> Result<u8> {
    match cmd {
        MemberCmd::Add {
            fields,
            from_json,
            data,
        } => {
            let node = open(&data)?;
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
            if !values.contains_key(&Field::FullName) {
                bail!(msg!(
                    "cần họ tên (--name)",
                    "a full name is required (--name)"
                ));
            }
            let id = node.add_member(values, Vec::new())?;
            let rec = node.record(&id)?;
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
        MemberCmd::Edit {
            id,
            fields,
            clear,
            event,
            data,
        } => {
            let node = open(&data)?;
            let id = node.resolve(&id)?;
            let mut edit = DossierEdit {
                set: fields.collect()?,
                ..DossierEdit::default()
            };
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
        MemberCmd::Show { id, data } => {
            let node = open(&data)?;
            let id = node.resolve(&id)?;
            let rec = node.record(&id)?;
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
                    o.insert("events".into(), json!(rec.events.iter().map(|e| json!({"kind": e.kind.key(), "date": e.date, "detail": e.detail})).collect::<Vec<_>>()));
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
                    let shown: Vec<String> =
                        vals.iter().map(|v| render::display_value(*f, v)).collect();
                    let label = render::label(*f);
                    let list = shown.join(" | ");
                    println!("  ! {}", msg!("{label} có giá trị đồng thời khác nhau: {list} (giá trị đầu đang được dùng)",
                        "{label} has concurrent values: {list} (the first is in use)"));
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
        MemberCmd::List { unit, status, data } => {
            let node = open(&data)?;
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
            print_records(&list, json);
            Ok(0)
        }
        MemberCmd::Search { text, data } => {
            let node = open(&data)?;
            let list = node.store().search(&text)?;
            print_records(&list, json);
            Ok(0)
        }
        MemberCmd::History { id, data } => {
            let node = open(&data)?;
            let id = node.resolve(&id)?;
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
        MemberCmd::Import {
            csv,
            dry_run,
            batch,
            data,
        } => import(&csv, dry_run, batch.max(1), &data, json),
        MemberCmd::Export { format, out, data } => {
            let node = open(&data)?;
            let list = node.store().list(None)?;
            let mut buf: Vec<u8> = Vec::new();
            match format {
                ExportFormat::Json => {
                    let arr: Vec<_> = list.iter().map(render::record_json).collect();
                    serde_json::to_writer_pretty(&mut buf, &arr)?;
                    buf.push(b'\n');
                }
                ExportFormat::Csv => {
                    let mut w = csv::Writer::from_writer(&mut buf);
                    let mut header = vec!["id".to_string()];
                    header.extend(Field::ALL.iter().map(|f| f.key().to_string()));
                    w.write_record(&header)?;
                    for r in &list {
                        let mut row = vec![r.id.to_string()];
                        row.extend(
                            Field::ALL
                                .iter()
                                .map(|f| r.get(*f).unwrap_or("").to_string()),
                        );
                        w.write_record(&row)?;
                    }
                    w.flush()?;
                }
            }
            match out {
                Some(p) => {
                    std::fs::write(&p, &buf).with_context(|| p.display().to_string())?;
                    let (n, p) = (list.len(), p.display());
                    eprintln!(
                        "{}",
                        msg!(
                            "Đã xuất {n} đảng viên ra {p}.",
                            "Exported {n} members to {p}."
                        )
                    );
                }
                None => std::io::stdout().write_all(&buf)?,
            }
            Ok(0)
        }
        MemberCmd::ExportDoc { id, out, data } => {
            let node = open(&data)?;
            let id = node.resolve(&id)?;
            let dossier = node.store().dossier(&id)?.context("dossier missing")?;
            let bytes = dossier.doc().save();
            std::fs::write(&out, &bytes).with_context(|| out.display().to_string())?;
            if json {
                print_json(
                    &json!({"id": id.to_string(), "out": out.display().to_string(), "bytes": bytes.len()}),
                );
            } else {
                let (n, p) = (bytes.len(), out.display());
                println!(
                    "{}",
                    msg!(
                        "Đã ghi tài liệu Automerge ({n} byte) ra {p}.",
                        "Wrote the Automerge document ({n} bytes) to {p}."
                    )
                );
            }
            Ok(0)
        }
        MemberCmd::Fields => {
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
    }
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

fn import(path: &Path, dry_run: bool, batch: usize, data: &DataDir, json: bool) -> Result<u8> {
    let node = open(data)?;
    let file = std::fs::File::open(path).with_context(|| path.display().to_string())?;
    let parsed = csv_import::parse(std::io::BufReader::new(file), node.unit(), node.unit())?;
    let total = parsed.good.len() + parsed.bad.len();
    let mut committed = 0usize;
    let out = std::io::stdout();
    if !dry_run {
        let bar = indicatif::ProgressBar::new(parsed.good.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {per_sec} ETA {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        for chunk in parsed.good.chunks(batch) {
            let mut changes = Vec::with_capacity(chunk.len());
            for row in chunk {
                let (_, vc) = node.new_member(row.fields.clone(), Vec::new())?;
                changes.push(vc);
            }
            node.commit_own(changes)?;
            committed += chunk.len();
            bar.inc(chunk.len() as u64);
            let (first, last) = (chunk[0].line, chunk[chunk.len() - 1].line);
            let mut o = out.lock();
            if json {
                writeln!(
                    o,
                    "{}",
                    json!({"event": "committed", "first_line": first, "last_line": last, "rows": chunk.len(), "total_committed": committed})
                )?;
            } else {
                writeln!(
                    o,
                    "{}",
                    msg!(
                        "Đã ghi bền vững các dòng {first}–{last} ({committed} đảng viên đến nay)",
                        "Durably committed lines {first}–{last} ({committed} members so far)"
                    )
                )?;
            }
            o.flush()?;
        }
        bar.finish_and_clear();
    }
    let rejected = parsed.bad.len();
    if json {
        print_json(
            &json!({"event": "summary", "rows": total, "imported": committed, "valid": parsed.good.len(),
            "rejected": parsed.bad.iter().map(|b| json!({"line": b.line, "reason": b.reason})).collect::<Vec<_>>(),
            "dry_run": dry_run}),
        );
    } else {
        for b in &parsed.bad {
            let (line, reason) = (b.line, &b.reason);
            println!(
                "{}",
                msg!(
                    "  dòng {line}: bị từ chối: {reason}",
                    "  line {line}: rejected: {reason}"
                )
            );
        }
        let valid = parsed.good.len();
        if dry_run {
            println!(
                "{}",
                msg!(
                    "Chạy thử: {total} dòng, {valid} hợp lệ, {rejected} bị từ chối; chưa ghi gì.",
                    "Dry run: {total} rows, {valid} valid, {rejected} rejected; nothing written."
                )
            );
        } else {
            println!(
                "{}",
                msg!(
                    "Đã nhập {committed}/{total} dòng; {rejected} dòng bị từ chối.",
                    "Imported {committed} of {total} rows; {rejected} rows rejected."
                )
            );
        }
    }
    Ok(if rejected > 0 { EXIT_ROWS_REJECTED } else { 0 })
}

fn bundle(cmd: BundleCmd, json: bool) -> Result<u8> {
    match cmd {
        BundleCmd::Export { out, since, data } => {
            let node = open(&data)?;
            let (count, last) = node.export_bundle(&out, since)?;
            if json {
                print_json(
                    &json!({"out": out.display().to_string(), "changes": count, "since": since, "last_seq": last}),
                );
            } else {
                let p = out.display();
                println!("{}", msg!("Đã ghi {count} thay đổi có chữ ký ra {p} (đến số thứ tự {last}; lần sau dùng --since {last}).",
                    "Wrote {count} signed changes to {p} (up to sequence {last}; next time use --since {last})."));
            }
            Ok(0)
        }
        BundleCmd::Import { file, data } => {
            let node = open(&data)?;
            let r = node.import_bundle(&file)?;
            let rejected = r.rejected_total();
            if json {
                let reasons: Vec<_> = r
                    .rejected
                    .iter()
                    .chain(r.applied.rejected.iter())
                    .map(|x| json!({"code": x.code.key(), "detail": x.detail}))
                    .collect();
                print_json(
                    &json!({"received": r.received, "applied": r.applied.applied.len(),
                    "duplicates": r.applied.duplicates, "waiting": r.applied.pending,
                    "rejected": reasons, "complete": r.complete}),
                );
            } else {
                let (n, a, d, w) = (
                    r.received,
                    r.applied.applied.len(),
                    r.applied.duplicates,
                    r.applied.pending,
                );
                println!("{}", msg!("Đã đọc {n} thay đổi: áp dụng {a}, đã có {d}, chờ thay đổi trước {w}, bị từ chối {rejected}.",
                    "Read {n} changes: {a} applied, {d} already present, {w} waiting for earlier changes, {rejected} rejected."));
                for x in r.rejected.iter().chain(r.applied.rejected.iter()) {
                    println!("  ! {} ({})", render::reject_reason(x.code.key()), x.detail);
                }
                if rejected > 0 {
                    println!("{}", msg!("Các thay đổi bị từ chối đã được cách ly: xem `rollmesh quarantine list`.",
                        "Rejected changes were quarantined: see `rollmesh quarantine list`."));
                }
                if !r.complete {
                    println!("{}", msg!("Cảnh báo: tệp gói bị cắt cụt hoặc hỏng phần cuối; hãy chép lại tệp.",
                        "Warning: the bundle file is truncated or its trailer is damaged; copy it again."));
                }
            }
            Ok(if rejected > 0 || !r.complete {
                EXIT_CHANGES_REJECTED
            } else {
                0
            })
        }
    }
}

fn quarantine(cmd: QuarantineCmd, json: bool) -> Result<u8> {
    match cmd {
        QuarantineCmd::List { data } => {
            let node = open(&data)?;
            let list = node.store().quarantine_list()?;
            if json {
                print_json(&json!(list.iter().map(|q| json!({"seq": q.seq, "at": render::time_text(q.at), "code": q.code,
                    "detail": q.detail, "source": q.source, "author": q.author, "doc": q.doc.map(|d| d.to_string())})).collect::<Vec<_>>()));
            } else if list.is_empty() {
                println!(
                    "{}",
                    msg!(
                        "Không có thay đổi nào bị cách ly.",
                        "Nothing is quarantined."
                    )
                );
            } else {
                for q in &list {
                    println!(
                        "#{:<4} {}  {}  {}  {}",
                        q.seq,
                        render::time_text(q.at),
                        render::reject_reason(&q.code),
                        q.author.as_deref().unwrap_or("?"),
                        q.source
                    );
                }
            }
            Ok(0)
        }
        QuarantineCmd::Show { seq, data } => {
            let node = open(&data)?;
            let Some(q) = node
                .store()
                .quarantine_list()?
                .into_iter()
                .find(|q| q.seq == seq)
            else {
                bail!(msg!(
                    "không có mục cách ly số {seq}",
                    "no quarantine entry {seq}"
                ));
            };
            let v = json!({"seq": q.seq, "at": render::time_text(q.at), "code": q.code, "reason": render::reject_reason(&q.code),
                "detail": q.detail, "source": q.source, "author": q.author, "doc": q.doc.map(|d| d.to_string()),
                "bytes": q.bytes.len()});
            if json {
                print_json(&v);
            } else if let Some(o) = v.as_object() {
                for (k, val) in o {
                    println!(
                        "  {k:<8} {}",
                        val.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| val.to_string())
                    );
                }
            }
            Ok(0)
        }
    }
}
