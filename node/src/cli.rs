//! The `rollmesh` command line. Every command takes `--data <dir>` (or `ROLLMESH_DATA`), prints
//! Vietnamese by default (`--lang en` for English) and JSON with `--json`, and exits non-zero with a
//! one-line cause on error.
//!
//! Exit codes: 0 done; 1 error; 2 bad usage; 3 some CSV rows rejected; 4 some incoming changes rejected
//! (or the bundle was truncated); 5 `verify` found problems.
//!
//! This module holds the top-level arguments, the dispatch and the helpers every command shares; each
//! command group (its clap types and one function per subcommand) lives in a submodule.

mod attach;
mod bundle;
mod credential;
mod ledger;
mod member;
mod org;
mod orgdocs;
mod quarantine;
mod report;
mod screen;
mod status;
mod trust;
mod usage;
mod user;

pub use attach::AttachCmd;
pub use bundle::BundleCmd;
pub use credential::{CredentialCmd, KeysCmd};
pub use ledger::{DuesCmd, HelpListCmd, MeetingCmd, RatingCmd};
pub use member::{ExportFormat, FieldArgs, MemberCmd};
pub use org::OrgCmd;
pub use orgdocs::OrgDocCmd;
pub use quarantine::QuarantineCmd;
pub use screen::ScreenCmd;
pub use trust::TrustCmd;
pub use user::UserCmd;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::i18n::{self, LangArg};
use crate::render;
use rollmesh_engine::msg;
use rollmesh_engine::Node;

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
        /// The unit this node serves, by code (hn.d01.w01.c01) or, with --tree, by name. Its subtree
        /// is the node's scope.
        #[arg(long)]
        unit: String,
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
    /// Tài khoản người dùng của nút: thêm, liệt kê, đổi mật khẩu, khóa (the node's user accounts).
    #[command(subcommand)]
    User(UserCmd),
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
    /// Sinh hoạt chi bộ: ghi buổi họp và điểm danh (cell meetings and attendance).
    #[command(subcommand)]
    Meeting(MeetingCmd),
    /// Đảng phí: ghi đóng / chưa đóng theo tháng (dues by month).
    #[command(subcommand)]
    Dues(DuesCmd),
    /// Xếp loại chất lượng đảng viên hằng năm (yearly ratings).
    #[command(subcommand)]
    Rating(RatingCmd),
    /// Danh sách giáo dục, giúp đỡ (the educate-and-help list).
    #[command(subcommand)]
    HelpList(HelpListCmd),
    /// Sinh hoạt tạm thời tại chi bộ khác (temporary attachments to a host cell).
    #[command(subcommand)]
    Attach(AttachCmd),
    /// Sổ chi bộ một năm: các buổi họp, điểm danh, đảng phí (a cell's ledger for one year).
    Ledger {
        /// Chi bộ (default: this node's unit).
        #[arg(long)]
        cell: Option<String>,
        /// Năm (default: this year).
        #[arg(long)]
        year: Option<i32>,
        #[command(flatten)]
        data: DataDir,
    },
    /// Bộ quy tắc rà soát chung do thành phố ban hành (the organisation's screening rule set).
    #[command(subcommand)]
    Rules(OrgDocCmd),
    /// Lịch ngày nghỉ lễ dùng để tính ngày làm việc (the holiday calendar).
    #[command(subcommand)]
    Calendar(OrgDocCmd),
    /// Cây tổ chức do thành phố ban hành (the organisation tree the city publishes).
    #[command(subcommand)]
    Tree(OrgDocCmd),
    /// Rà soát đảng viên theo bộ quy tắc chung (screening by the organisation's rules).
    #[command(subcommand)]
    Screen(ScreenCmd),
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
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => return ExitCode::from(usage::report(e, &args)),
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

/// Opens the node whose data directory is `d`.
pub(crate) fn open(d: &DataDir) -> Result<Node> {
    Node::open(&d.data).with_context(|| msg!("không mở được nút", "cannot open the node"))
}

/// Lets a one-shot command end quietly when its reader goes away (`rollmesh screen list | head`), as
/// Unix tools do, instead of a panic and a stack trace: printing to a closed stdout panics with "failed
/// printing to stdout: Broken pipe", which this hook turns into a quiet exit. Not for `run` and `demo`.
fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if text.contains("failed printing to stdout") && text.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

/// Runs a parsed command; returns the exit code.
pub fn run(cli: Cli) -> Result<u8> {
    let json = cli.json;
    if !matches!(cli.command, Command::Run { .. } | Command::Demo { .. }) {
        quiet_on_closed_pipe();
    }
    match cli.command {
        Command::Init {
            unit,
            tree,
            root,
            data,
        } => org::init(unit, tree, root, data, json),
        Command::Id { data } => org::id(data, json),
        Command::Trust(cmd) => trust::run(cmd, json),
        Command::Run { config } => status::run_node(config),
        Command::Status { data } => status::status(data, json),
        Command::Demo {
            once,
            members_per_cell,
            dir,
        } => crate::demo::run(once, members_per_cell, dir),
        Command::Keys(KeysCmd::RootInit { out }) => credential::root_init(out, json),
        Command::User(cmd) => user::run(cmd, json),
        Command::Credential(cmd) => credential::run(cmd, json),
        Command::Audit {
            action,
            member,
            data,
        } => report::audit(action, member, data, json),
        Command::Org(OrgCmd::Bootstrap {
            tree,
            out,
            valid_days,
        }) => org::bootstrap(tree, out, valid_days, json),
        Command::Member(cmd) => member::run(*cmd, json),
        Command::Meeting(cmd) => ledger::meeting(cmd, json),
        Command::Dues(cmd) => ledger::dues(cmd, json),
        Command::Rating(cmd) => ledger::rating(cmd, json),
        Command::HelpList(cmd) => ledger::help_list(cmd, json),
        Command::Attach(cmd) => attach::attach(cmd, json),
        Command::Ledger { cell, year, data } => ledger::show(cell, year, data, json),
        Command::Screen(cmd) => screen::run(cmd, json),
        Command::Rules(cmd) => orgdocs::run("rules", cmd, json),
        Command::Calendar(cmd) => orgdocs::run("calendar", cmd, json),
        Command::Tree(cmd) => orgdocs::run("tree", cmd, json),
        Command::Bundle(cmd) => bundle::run(cmd, json),
        Command::Quarantine(cmd) => quarantine::run(cmd, json),
        Command::Stats { unit, depth, data } => report::stats(unit, depth, data, json),
        Command::Verify { data } => report::verify(data, json),
    }
}

/// Runs a request on the node of `d` (directly, or through the running node's API) and prints the reply
/// as JSON with `--json`; otherwise returns it for the command to render.
pub(crate) fn request(
    d: &DataDir,
    req: serde_json::Value,
    json: bool,
) -> Result<Option<serde_json::Value>> {
    let v = crate::ops::call(&d.data, req)?;
    if json {
        render::print_json(&v);
        return Ok(None);
    }
    Ok(Some(v))
}
