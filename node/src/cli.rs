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
use rollmesh_model::{DossierEdit, Event, EventKind, Field, OrgTree, Sector, Status, UnitPath};
use rollmesh_proto::NodeId;
use serde_json::json;

use crate::i18n::{self, LangArg};
use crate::node::Node;
use crate::render::{self, print_json};
use crate::csv_import;
use rollmesh_engine::msg;

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
    pub lang: LangArg,
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
        /// The organisation's root public key: 64 hex characters, or a file holding them (root.key.pub).
        /// With it, changes are accepted by credential chain instead of the hand-kept trust list.
        #[arg(long, value_name = "HEX|FILE")]
        root: Option<String>,
        #[command(flatten)]
        data: DataDir,
    },
    /// The organisation's root key.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Credentials: who may write what (request, issue, install, show, revoke).
    #[command(subcommand)]
    Credential(CredentialCmd),
    /// The local audit log of reads and writes of member data (append-only; no command edits it).
    Audit {
        /// Only entries whose action starts with this (member.show, member.add, bundle.import, …).
        #[arg(long)]
        action: Option<String>,
        /// Only entries about this member id.
        #[arg(long)]
        member: Option<String>,
        #[command(flatten)]
        data: DataDir,
    },
    /// A whole organisation at once, for demos and tests.
    #[command(subcommand)]
    Org(OrgCmd),
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
    /// Run the node: sync with peers over QUIC until Ctrl-C (settings in the data directory's node.toml).
    Run {
        /// The node settings file (node.toml in the data directory; see config/node.example.toml).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Per-peer sync state of a running node: connected, last sync, changes sent/received, backlog, errors.
    Status {
        #[command(flatten)]
        data: DataDir,
    },
    /// Start a whole local mesh (15 nodes on 127.0.0.1), seed members at the cells, show them converging
    /// at the city, make live edits, and keep running until Ctrl-C (--once: exit after convergence).
    Demo {
        /// Exit after the mesh has converged and the live edits have arrived.
        #[arg(long)]
        once: bool,
        /// Members to seed per cell.
        #[arg(long, default_value_t = 40)]
        members_per_cell: usize,
        /// Keep the demo's data here instead of a temporary directory.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Headcount by unit, status and sector (for the city: by district, the default depth 1).
    Stats {
        /// The subtree to count (default: the node's whole scope).
        #[arg(long)]
        unit: Option<String>,
        /// Group by units this many levels below the counted unit.
        #[arg(long, default_value_t = 1)]
        depth: usize,
        #[command(flatten)]
        data: DataDir,
    },
    /// Re-check every stored signature and document against its changes.
    Verify {
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysCmd {
    /// Create the organisation's root key (keep it offline); prints its public key for every node's config.
    RootInit {
        /// The root key file to create (its public key is also written to FILE.pub).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum CredentialCmd {
    /// Print a credential request for this node (give it to the parent unit's clerk).
    Request {
        /// Request for a new key instead, to rotate to it once its credential is installed.
        #[arg(long)]
        rotate: bool,
        /// Write the request to a file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        data: DataDir,
    },
    /// Issue a credential for a child unit's request (by a parent node, or with the root key for the city).
    Issue {
        /// The request file.
        #[arg(long)]
        request: PathBuf,
        /// The unit to certify (must match the request, and lie below the issuer's unit).
        #[arg(long)]
        unit: UnitPath,
        /// Days of validity.
        #[arg(long, default_value_t = 365)]
        valid_days: u32,
        /// Roles: clerk, approver, issuer (comma-separated).
        #[arg(long, default_value = "clerk,approver,issuer")]
        roles: String,
        /// Where to write the credential chain.
        #[arg(long)]
        out: PathBuf,
        /// Issue with the root key file (for the top unit) instead of a node.
        #[arg(long, value_name = "FILE", conflicts_with = "data")]
        root_key: Option<PathBuf>,
        /// The issuing node's data directory.
        #[arg(long, env = "ROLLMESH_DATA", value_name = "DIR")]
        data: Option<PathBuf>,
    },
    /// Install a credential chain issued for this node (or for its pending rotation key).
    Install {
        /// The chain file from `credential issue`.
        file: PathBuf,
        #[command(flatten)]
        data: DataDir,
    },
    /// Show this node's credential chain and whether it is valid now.
    Show {
        #[command(flatten)]
        data: DataDir,
    },
    /// Revoke a node key (--node-id) or one credential (--serial) below this node's unit.
    Revoke {
        /// The node id to revoke.
        #[arg(long, conflicts_with = "serial", required_unless_present = "serial")]
        node_id: Option<String>,
        /// The credential serial to revoke.
        #[arg(long)]
        serial: Option<u64>,
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(Subcommand, Debug)]
pub enum OrgCmd {
    /// Create a root key and a data directory with an installed credential for every unit of a tree.
    Bootstrap {
        /// The organisation tree (default: the embedded four-level demo tree).
        #[arg(long)]
        tree: Option<PathBuf>,
        /// The directory to create: root.key, root.key.pub and one data directory per unit path.
        #[arg(long)]
        out: PathBuf,
        /// Days of validity of every credential.
        #[arg(long, default_value_t = 365)]
        valid_days: u32,
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
        /// Show at most this many members (the total is still counted).
        #[arg(long, default_value_t = 200)]
        limit: usize,
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
    main_from(std::env::args_os())
}

/// [`main`] with explicit arguments (the first is the program name), for tools that embed the CLI.
pub fn main_from<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    i18n::set(cli.lang.into());
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
        Command::Init {
            unit,
            tree,
            root,
            data,
        } => {
            let tree = match tree {
                Some(p) => Some(OrgTree::load(&p)?),
                None => None,
            };
            let root = match root {
                Some(r) => Some(parse_root(&r)?),
                None => None,
            };
            let node = Node::init(&data.data, unit, tree.as_ref(), root)?;
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
        Command::Run { config } => {
            let filter =
                tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                    tracing_subscriber::EnvFilter::new("info,quinn=warn,quinn_proto=warn")
                });
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_writer(std::io::stderr)
                .try_init();
            crate::daemon::run(&config)?;
            Ok(0)
        }
        Command::Status { data } => {
            let v =
                crate::admin::call(&data.data, &json!({"cmd": "status"})).with_context(|| {
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
                        .map(render::time_text)
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
        Command::Demo {
            once,
            members_per_cell,
            dir,
        } => crate::demo::run(once, members_per_cell, dir),
        Command::Keys(KeysCmd::RootInit { out }) => {
            let key = crate::node::root_init(&out)?;
            let pub_path = PathBuf::from(format!("{}.pub", out.display()));
            std::fs::write(&pub_path, format!("{}\n", key.public().to_hex()))
                .with_context(|| pub_path.display().to_string())?;
            if json {
                print_json(
                    &json!({"root_key": key.public().to_hex(), "fingerprint": key.public().node_id().to_string(),
                    "out": out.display().to_string(), "public": pub_path.display().to_string()}),
                );
            } else {
                let (hex, fp, p) = (
                    key.public().to_hex(),
                    key.public().node_id(),
                    pub_path.display(),
                );
                println!("{}", msg!("Đã tạo khóa gốc. Khóa công khai (ghi vào cấu hình mọi nút, `init --root {p}`):",
                    "Root key created. Public key (for every node's configuration, `init --root {p}`):"));
                println!("{hex}");
                println!(
                    "{}",
                    msg!(
                        "Dấu vân tay: {fp}. Hãy cất khóa bí mật ngoại tuyến.",
                        "Fingerprint: {fp}. Keep the secret key offline."
                    )
                );
            }
            Ok(0)
        }
        Command::Credential(cmd) => credential(cmd, json),
        Command::Audit {
            action,
            member,
            data,
        } => {
            let node = open(&data)?;
            let entries = node.store().audit_list()?;
            let intact = node.store().audit_check()?;
            let shown: Vec<_> = entries
                .iter()
                .filter(|e| action.as_deref().is_none_or(|a| e.action.starts_with(a)))
                .filter(|e| member.as_deref().is_none_or(|m| e.target.starts_with(m)))
                .collect();
            if json {
                print_json(
                    &json!({"intact": intact.is_ok(), "entries": shown.iter().map(|e| json!({"seq": e.seq,
                    "at": render::time_text(e.at), "user": e.user, "node": e.node, "action": e.action,
                    "target": e.target, "detail": e.detail})).collect::<Vec<_>>()}),
                );
            } else {
                for e in &shown {
                    println!(
                        "#{:<5} {}  {:<8} {:<16} {:<28} {}",
                        e.seq,
                        render::time_text(e.at),
                        e.user,
                        e.action,
                        e.target,
                        e.detail
                    );
                }
                match intact {
                    Ok(n) => println!(
                        "{}",
                        msg!(
                            "Nhật ký nguyên vẹn ({n} mục).",
                            "The log is intact ({n} entries)."
                        )
                    ),
                    Err(seq) => println!(
                        "{}",
                        msg!(
                            "CẢNH BÁO: nhật ký bị sửa từ mục {seq}.",
                            "WARNING: the log was altered at entry {seq}."
                        )
                    ),
                }
            }
            Ok(if intact.is_ok() {
                0
            } else {
                EXIT_VERIFY_PROBLEMS
            })
        }
        Command::Org(OrgCmd::Bootstrap {
            tree,
            out,
            valid_days,
        }) => {
            let tree = match tree {
                Some(p) => OrgTree::load(&p)?,
                None => OrgTree::from_toml(crate::org::DEMO_TREE)?,
            };
            let (root, units) = crate::org::bootstrap(&tree, &out, valid_days)?;
            if json {
                print_json(
                    &json!({"root_key": root.public().to_hex(), "units": units.iter().map(|u| json!({
                    "unit": u.unit.to_string(), "data": u.data.display().to_string(), "node_id": u.node_id.to_string()})).collect::<Vec<_>>()}),
                );
            } else {
                for u in &units {
                    println!(
                        "{:<20} {}  {}",
                        u.unit.to_string(),
                        u.node_id,
                        u.data.display()
                    );
                }
                let (n, p) = (units.len(), out.display());
                println!(
                    "{}",
                    msg!(
                        "Đã tạo {n} nút với chứng nhận trong {p}.",
                        "Created {n} nodes with credentials in {p}."
                    )
                );
            }
            Ok(0)
        }
        Command::Member(cmd) => member(*cmd, json),
        Command::Bundle(cmd) => bundle(cmd, json),
        Command::Quarantine(cmd) => quarantine(cmd, json),
        Command::Stats { unit, depth, data } => {
            let node = open(&data)?;
            let scope = match unit {
                Some(u) => UnitPath::parse(&u)?,
                None => node.unit().clone(),
            };
            let table = headcount_table(&node, &scope, depth)?;
            node.audit(
                "stats",
                &scope.to_string(),
                &format!("{} rows", table.len()),
            )?;
            if json {
                print_json(&json!(table
                    .iter()
                    .map(|((u, st, se), n)| json!({"unit": u, "status": st, "sector": se, "count": n}))
                    .collect::<Vec<_>>()));
            } else {
                let total: u64 = table.values().sum();
                println!(
                    "{}",
                    msg!(
                        "Số đảng viên trong {scope}: {total}",
                        "Members in {scope}: {total}"
                    )
                );
                for ((u, st, se), n) in &table {
                    let st = Status::parse(st)
                        .map(|s| label(s.label_vi(), s.label_en()))
                        .unwrap_or(st);
                    let se = Sector::parse(se)
                        .map(|s| label(s.label_vi(), s.label_en()))
                        .unwrap_or(se);
                    println!("{u}\t{st}\t{se}\t{n}");
                }
            }
            Ok(0)
        }
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

fn parse_root(s: &str) -> Result<rollmesh_proto::NodePublicKey> {
    if let Some(k) = rollmesh_proto::NodePublicKey::from_hex(s) {
        return Ok(k);
    }
    let text = std::fs::read_to_string(s).with_context(|| {
        msg!(
            "--root cần 64 ký tự hex hoặc tệp root.key.pub: {s}",
            "--root needs 64 hex characters or a root.key.pub file: {s}"
        )
    })?;
    rollmesh_proto::NodePublicKey::from_hex(text.trim()).with_context(|| {
        msg!(
            "{s} không chứa khóa công khai gốc",
            "{s} does not hold a root public key"
        )
    })
}

fn credential(cmd: CredentialCmd, json: bool) -> Result<u8> {
    use rollmesh_proto::{roles, Chain, CredentialRequest};
    match cmd {
        CredentialCmd::Request { rotate, out, data } => {
            let node = open(&data)?;
            let req = node.credential_request(rotate)?;
            let text = req.to_text();
            match out {
                Some(p) => {
                    std::fs::write(&p, &text).with_context(|| p.display().to_string())?;
                    let p = p.display();
                    eprintln!(
                        "{}",
                        msg!(
                            "Đã ghi yêu cầu chứng nhận ra {p}; gửi cho đơn vị cấp trên.",
                            "Wrote the credential request to {p}; send it to the parent unit."
                        )
                    );
                }
                None => print!("{text}"),
            }
            Ok(0)
        }
        CredentialCmd::Issue {
            request,
            unit,
            valid_days,
            roles: role_names,
            out,
            root_key,
            data,
        } => {
            let text =
                std::fs::read_to_string(&request).with_context(|| request.display().to_string())?;
            let req = CredentialRequest::from_text(&text)?;
            let bits = roles::parse(&role_names).with_context(|| {
                msg!(
                    "vai trò không rõ: {role_names}",
                    "unknown roles: {role_names}"
                )
            })?;
            let chain = match (root_key, data) {
                (Some(k), _) => {
                    let key = crate::node::read_root_key(&k)?;
                    crate::node::issue_credential(
                        crate::node::Issuer::Root(&key),
                        &req,
                        unit,
                        valid_days,
                        bits,
                    )?
                }
                (None, Some(d)) => {
                    let node = Node::open(&d)?;
                    let chain = crate::node::issue_credential(
                        crate::node::Issuer::Node(&node),
                        &req,
                        unit,
                        valid_days,
                        bits,
                    )?;
                    node.audit(
                        "credential.issue",
                        &req.subject.node_id().to_string(),
                        &chain.unit().map(|u| u.to_string()).unwrap_or_default(),
                    )?;
                    chain
                }
                (None, None) => bail!(msg!(
                    "cần --data (nút cấp) hoặc --root-key",
                    "needs --data (issuing node) or --root-key"
                )),
            };
            std::fs::write(&out, chain.to_file()).with_context(|| out.display().to_string())?;
            let leaf = chain.leaf().context("empty chain")?;
            if json {
                print_json(
                    &json!({"out": out.display().to_string(), "subject": leaf.subject.node_id().to_string(),
                    "unit": leaf.unit.to_string(), "serial": leaf.serial, "links": chain.0.len()}),
                );
            } else {
                let (id, u, p) = (leaf.subject.node_id(), &leaf.unit, out.display());
                println!(
                    "{}",
                    msg!(
                        "Đã cấp chứng nhận cho nút {id}, đơn vị {u}: {p}",
                        "Issued a credential for node {id}, unit {u}: {p}"
                    )
                );
            }
            Ok(0)
        }
        CredentialCmd::Install { file, data } => {
            let mut node = open(&data)?;
            let bytes = std::fs::read(&file).with_context(|| file.display().to_string())?;
            let chain = Chain::from_file(&bytes)?;
            let how = node.credential_install(&chain)?;
            node.audit(
                "credential.install",
                &node.id().to_string(),
                &format!("{how:?}"),
            )?;
            if json {
                print_json(
                    &json!({"installed": true, "rotated": how == crate::node::Installed::Rotated, "node_id": node.id().to_string()}),
                );
            } else if how == crate::node::Installed::Rotated {
                let id = node.id();
                println!(
                    "{}",
                    msg!(
                        "Đã cài chứng nhận và chuyển sang khóa mới; mã nút mới: {id}",
                        "Credential installed and rotated to the new key; new node id: {id}"
                    )
                );
            } else {
                println!("{}", msg!("Đã cài chứng nhận.", "Credential installed."));
            }
            Ok(0)
        }
        CredentialCmd::Show { data } => {
            let node = open(&data)?;
            let chain = node.own_chain()?;
            let status = match (node.root(), &chain) {
                (None, _) => Err("no root key configured".to_string()),
                (_, None) => Err("no credential installed".to_string()),
                (Some(root), Some(c)) => c
                    .validate(&root, chrono::Utc::now().timestamp(), &node.revocations()?)
                    .map_err(|e| e.to_string()),
            };
            let links: Vec<_> = chain.iter().flat_map(|c| c.0.iter()).map(|l| json!({
                "serial": l.serial, "issuer": l.issuer.node_id().to_string(), "subject": l.subject.node_id().to_string(),
                "unit": l.unit.to_string(), "roles": roles::names(l.roles),
                "not_before": render::time_text(l.not_before), "not_after": render::time_text(l.not_after)})).collect();
            if json {
                print_json(
                    &json!({"valid": status.is_ok(), "problem": status.as_ref().err(), "links": links}),
                );
            } else {
                for l in &links {
                    println!(
                        "  {} → {}  {}  [{}]  {} … {}  #{}",
                        l["issuer"].as_str().unwrap_or(""),
                        l["subject"].as_str().unwrap_or(""),
                        l["unit"].as_str().unwrap_or(""),
                        l["roles"].as_str().unwrap_or(""),
                        l["not_before"].as_str().unwrap_or(""),
                        l["not_after"].as_str().unwrap_or(""),
                        l["serial"]
                    );
                }
                match &status {
                    Ok(()) => {
                        println!("{}", msg!("Chứng nhận hợp lệ.", "The credential is valid."))
                    }
                    Err(e) => println!(
                        "{}",
                        msg!(
                            "Chứng nhận không hợp lệ: {e}",
                            "The credential is not valid: {e}"
                        )
                    ),
                }
            }
            Ok(if status.is_ok() { 0 } else { 1 })
        }
        CredentialCmd::Revoke {
            node_id,
            serial,
            data,
        } => {
            let node = match open(&data) {
                Ok(n) => n,
                Err(e) if held_by_daemon(&e, &data.data) => {
                    let req =
                        json!({"cmd": "credential.revoke", "node_id": node_id, "serial": serial});
                    let v = crate::admin::call(&data.data, &req)?;
                    if json {
                        print_json(&v);
                    } else {
                        let t = v["revoked"].as_str().unwrap_or("");
                        println!("{}", msg!("Đã thu hồi khóa {t}; lệnh thu hồi được gửi tới các nút đang kết nối.", "Revoked key {t}; the revocation goes to every connected node."));
                    }
                    return Ok(0);
                }
                Err(e) => return Err(e),
            };
            let id = match node_id {
                Some(s) => Some(s.parse::<NodeId>()?),
                None => None,
            };
            let r = node.credential_revoke(id, serial)?;
            node.audit(
                "credential.revoke",
                &r.target.node_id().to_string(),
                &r.unit.to_string(),
            )?;
            if json {
                print_json(
                    &json!({"revoked": r.target.node_id().to_string(), "unit": r.unit.to_string(), "serial": r.serial,
                    "accepted_changes": r.accepted.len()}),
                );
            } else {
                let (t, u, n) = (r.target.node_id(), &r.unit, r.accepted.len());
                println!("{}", msg!("Đã thu hồi khóa {t} ({u}); giữ {n} thay đổi đã chấp nhận. Lệnh thu hồi sẽ đi kèm mọi gói từ nay.",
                    "Revoked key {t} ({u}); its {n} accepted changes stay. The revocation travels with every bundle from now on."));
            }
            Ok(0)
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

/// Field values from a JSON object of field keys (used by `member add --from-json` and the admin socket).
pub fn fields_from_json(v: &serde_json::Value) -> Result<BTreeMap<Field, String>> {
    let mut out = BTreeMap::new();
    if let Some(obj) = v.as_object() {
        for (k, val) in obj {
            let f = Field::from_key(k)?;
            let s = val
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| val.to_string());
            out.insert(f, f.normalize(&s)?);
        }
    }
    Ok(out)
}

/// True when the data directory is held by a running node (then commands go through its admin socket).
fn held_by_daemon(e: &anyhow::Error, data: &Path) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<crate::node::NodeError>(),
            Some(crate::node::NodeError::Store(
                rollmesh_store::StoreError::Locked
            ))
        )
    }) && crate::admin::socket_path(data).exists()
}

fn fields_json(values: &BTreeMap<Field, String>) -> serde_json::Value {
    serde_json::Value::Object(
        values
            .iter()
            .map(|(f, v)| (f.key().to_string(), json!(v)))
            .collect(),
    )
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
            let node = match open(&data) {
                Ok(n) => n,
                Err(e) if held_by_daemon(&e, &data.data) && from_json.is_none() => {
                    let req =
                        json!({"cmd": "member.add", "fields": fields_json(&fields.collect()?)});
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
        MemberCmd::Edit {
            id,
            fields,
            clear,
            event,
            data,
        } => {
            let node = match open(&data) {
                Ok(n) => n,
                Err(e)
                    if held_by_daemon(&e, &data.data) && clear.is_empty() && event.is_empty() =>
                {
                    let req = json!({"cmd": "member.edit", "id": id, "fields": fields_json(&fields.collect()?)});
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
        MemberCmd::Show { id, data } => {
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
            let node = match open(&data) {
                Ok(n) => n,
                Err(e) if held_by_daemon(&e, &data.data) && unit.is_none() && status.is_none() => {
                    let v = crate::admin::call(&data.data, &json!({"cmd": "member.list"}))?;
                    let list = v["members"].clone();
                    if json {
                        print_json(&list);
                    } else {
                        let n = list.as_array().map(Vec::len).unwrap_or(0);
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
        MemberCmd::Search { text, limit, data } => {
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
        MemberCmd::History { id, data } => {
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
        MemberCmd::Import {
            csv,
            dry_run,
            batch,
            data,
        } => import(&csv, dry_run, batch.max(1), &data, json),
        MemberCmd::Export { format, out, data } => {
            let node = open(&data)?;
            let list = node.store().list(None)?;
            node.audit(
                "member.export",
                &format!("{format:?}").to_lowercase(),
                &format!("{} records", list.len()),
            )?;
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
            node.audit(
                "member.export-doc",
                &id.to_string(),
                &out.display().to_string(),
            )?;
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

/// Headcount of `scope` by (unit `depth` levels below it, status, sector), from the store's counters.
pub fn headcount_table(
    node: &Node,
    scope: &UnitPath,
    depth: usize,
) -> Result<BTreeMap<(String, String, String), u64>> {
    let keep = scope.depth() + 1 + depth;
    let mut table = BTreeMap::new();
    for h in node.store().headcount(scope)? {
        let unit: Vec<&str> = h.unit.segments().take(keep).collect();
        *table
            .entry((unit.join("."), h.status, h.sector))
            .or_default() += h.count;
    }
    Ok(table)
}

fn label<'a>(vi: &'a str, en: &'a str) -> &'a str {
    if render::english() {
        en
    } else {
        vi
    }
}

fn import(path: &Path, dry_run: bool, batch: usize, data: &DataDir, json: bool) -> Result<u8> {
    let node = open(data)?;
    let file = std::fs::File::open(path).with_context(|| path.display().to_string())?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut reader =
        csv_import::Reader::new(std::io::BufReader::new(file), node.unit(), node.unit())?;
    let mut committed = 0usize;
    let (bad, valid) = if dry_run {
        let (mut bad, mut valid) = (Vec::new(), 0usize);
        while let Some(row) = reader.next_row() {
            match row {
                Ok(_) => valid += 1,
                Err(b) => bad.push(b),
            }
        }
        (bad, valid)
    } else {
        let out = std::io::stdout();
        let bar = indicatif::ProgressBar::new(size);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {percent}% {msg} ETA {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let mut report = |chunk: &[csv_import::Row], read: u64| -> Result<()> {
            committed += chunk.len();
            bar.set_position(read);
            bar.set_message(msg!("{committed} đảng viên", "{committed} members"));
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
            Ok(())
        };
        // Three stages, so the serial parts overlap: one thread reads and validates rows, one builds and
        // signs each chunk's dossiers (on both cores), and this one writes them durably. An error stops
        // the writer, which closes the channels and so stops the other two at their next send.
        let (rows_tx, rows_rx) = std::sync::mpsc::sync_channel::<(Vec<csv_import::Row>, u64)>(2);
        let (built_tx, built_rx) = std::sync::mpsc::sync_channel(1);
        let counted = std::thread::scope(|scope| -> Result<(Vec<csv_import::BadRow>, usize)> {
            let parser = scope.spawn(move || {
                let (mut bad, mut valid, mut chunk) = (Vec::new(), 0usize, Vec::new());
                while let Some(row) = reader.next_row() {
                    match row {
                        Ok(r) => {
                            valid += 1;
                            chunk.push(r);
                        }
                        Err(b) => bad.push(b),
                    }
                    if chunk.len() >= batch
                        && rows_tx
                            .send((std::mem::take(&mut chunk), reader.bytes_read()))
                            .is_err()
                    {
                        return (bad, valid);
                    }
                }
                if !chunk.is_empty() {
                    let _ = rows_tx.send((chunk, reader.bytes_read()));
                }
                (bad, valid)
            });
            let node = &node;
            let builder = scope.spawn(move || {
                use rayon::prelude::*;
                for (chunk, read) in rows_rx {
                    let built = chunk
                        .par_iter()
                        .map(|row| {
                            let (_, vc, doc) = node.build_member(row.fields.clone(), Vec::new())?;
                            Ok((vc, doc))
                        })
                        .collect::<Result<Vec<_>>>();
                    let failed = built.is_err();
                    if built_tx.send((chunk, read, built)).is_err() || failed {
                        break;
                    }
                }
            });
            let written = built_rx.into_iter().try_for_each(|(chunk, read, built)| {
                node.commit_created(built?)?;
                report(&chunk, read)
            });
            let built = builder.join();
            let parsed = parser.join();
            written?;
            built.map_err(|_| anyhow::anyhow!("the import's builder thread failed"))?;
            parsed.map_err(|_| anyhow::anyhow!("the import's reader thread failed"))
        })?;
        bar.finish_and_clear();
        node.audit(
            "member.import",
            &path.display().to_string(),
            &format!("{committed} records"),
        )?;
        counted
    };
    let total = valid + bad.len();
    let rejected = bad.len();
    if json {
        print_json(
            &json!({"event": "summary", "rows": total, "imported": committed, "valid": valid,
            "rejected": bad.iter().map(|b| json!({"line": b.line, "reason": b.reason})).collect::<Vec<_>>(),
            "dry_run": dry_run}),
        );
    } else {
        for b in &bad {
            let (line, reason) = (b.line, &b.reason);
            println!(
                "{}",
                msg!(
                    "  dòng {line}: bị từ chối: {reason}",
                    "  line {line}: rejected: {reason}"
                )
            );
        }
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
            node.audit(
                "bundle.export",
                &out.display().to_string(),
                &format!("{count} changes"),
            )?;
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
            node.audit(
                "bundle.import",
                &file.display().to_string(),
                &format!("{} applied", r.applied.applied.len()),
            )?;
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
                    "outside_scope": r.applied.skipped, "revocations": r.revocations, "chains": r.chains,
                    "refused_credentials": r.refused_credentials,
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
                let (s, rv) = (r.applied.skipped, r.revocations);
                if s > 0 {
                    println!(
                        "{}",
                        msg!(
                            "Bỏ qua {s} thay đổi ngoài phạm vi của nút này.",
                            "Skipped {s} changes outside this node's scope."
                        )
                    );
                }
                if rv > 0 {
                    println!(
                        "{}",
                        msg!(
                            "Đã ghi nhận {rv} lệnh thu hồi khóa.",
                            "Recorded {rv} key revocations."
                        )
                    );
                }
                for c in &r.refused_credentials {
                    println!(
                        "  ! {} {c}",
                        i18n::pick("chứng nhận bị từ chối:", "credential refused:")
                    );
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
