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
mod case;
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
pub use case::CaseCmd;
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
/// Mỗi nút lưu trên máy hồ sơ đảng viên (có chữ ký) của đơn vị mình và các đơn vị trực thuộc. Bắt đầu bằng
/// `rollmesh init --unit hn.d01.w01.c01 --data ./cell`, rồi `rollmesh member add --data ./cell --name "…"`.
#[derive(Parser, Debug)]
#[command(name = "rollmesh", version, propagate_version = true)]
pub struct Cli {
    /// Ngôn ngữ hiển thị: vi (mặc định) hoặc en (output language). Cũng đặt được bằng ROLLMESH_LANG.
    #[arg(
        long,
        global = true,
        value_enum,
        env = "ROLLMESH_LANG",
        default_value = "vi"
    )]
    pub lang: LangArg,
    /// In kết quả dạng JSON cho máy đọc, thay cho văn bản (machine-readable JSON).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct DataDir {
    /// Thư mục dữ liệu của nút (the node's data directory). Cũng đặt được bằng ROLLMESH_DATA.
    #[arg(long, env = "ROLLMESH_DATA", value_name = "DIR")]
    pub data: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Tạo thư mục dữ liệu và khóa của nút cho một đơn vị, rồi in mã nút (set up a node).
    Init {
        /// Đơn vị nút này phục vụ: theo mã (hn.d01.w01.c01) hoặc, khi có --tree, theo tên. Nút quản lý
        /// đơn vị đó và các đơn vị trực thuộc (the unit this node serves).
        #[arg(long)]
        unit: String,
        /// Cây tổ chức (tệp TOML, xem config/org-demo.toml) mà đơn vị phải thuộc về (organisation tree).
        #[arg(long, value_name = "FILE")]
        tree: Option<PathBuf>,
        /// Khóa công khai gốc của tổ chức: 64 ký tự hex, hoặc tệp chứa chúng (root.key.pub).
        /// Khi có khóa gốc, thay đổi được chấp nhận theo chuỗi chứng nhận, thay cho danh sách tin cậy ghi tay (root public key).
        #[arg(long, value_name = "HEX|FILE")]
        root: Option<String>,
        #[command(flatten)]
        data: DataDir,
    },
    /// Khóa gốc của tổ chức (the organisation's root key).
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Chứng nhận: nút nào được ghi dữ liệu nào — xin, cấp, cài, xem, thu hồi (credentials).
    #[command(subcommand)]
    Credential(CredentialCmd),
    /// Tài khoản người dùng của nút: thêm, liệt kê, đổi mật khẩu, khóa (the node's user accounts).
    #[command(subcommand)]
    User(UserCmd),
    /// Nhật ký xem và ghi dữ liệu đảng viên tại nút; chỉ ghi thêm, không lệnh nào sửa được (audit log).
    Audit {
        /// Chỉ các mục có thao tác bắt đầu bằng chuỗi này (member.show, member.add, bundle.import, …).
        #[arg(long)]
        action: Option<String>,
        /// Chỉ các mục về đảng viên có mã này (only entries about this member id).
        #[arg(long)]
        member: Option<String>,
        #[command(flatten)]
        data: DataDir,
    },
    /// Dựng cả một tổ chức một lần, để chạy thử và kiểm thử (a whole organisation, for demos and tests).
    #[command(subcommand)]
    Org(OrgCmd),
    /// In mã của nút này, để đưa cho văn thư các nút cần tin cậy nút này (print this node's id).
    Id {
        #[command(flatten)]
        data: DataDir,
    },
    /// Danh sách mã nút mà nút này chấp nhận thay đổi, khi chưa dùng chứng nhận (trusted node ids).
    #[command(subcommand)]
    Trust(TrustCmd),
    /// Hồ sơ đảng viên (member dossiers).
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
    /// Hồ sơ kết nạp, chuyển sinh hoạt, miễn sinh hoạt, xóa tên, kỷ luật: từng bước do cấp có thẩm
    /// quyền ghi (cases).
    #[command(subcommand)]
    Case(CaseCmd),
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
    /// Gói thay đổi có chữ ký, để chuyển dữ liệu không cần mạng, ví dụ chép USB lên phường (bundles).
    #[command(subcommand)]
    Bundle(BundleCmd),
    /// Các thay đổi bị từ chối, kèm lý do, đang bị cách ly (quarantine).
    #[command(subcommand)]
    Quarantine(QuarantineCmd),
    /// Chạy nút: đồng bộ với các nút khác qua QUIC đến khi bấm Ctrl-C; cấu hình ở node.toml (run the node).
    Run {
        /// Tệp cấu hình nút: node.toml trong thư mục dữ liệu, xem config/node.example.toml (settings file).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Tình trạng đồng bộ với từng nút: đã kết nối, lần đồng bộ cuối, thay đổi gửi/nhận, tồn đọng, lỗi (sync status).
    Status {
        #[command(flatten)]
        data: DataDir,
    },
    /// Chạy thử cả mạng lưới trên máy này (15 nút trên 127.0.0.1): tạo đảng viên mẫu ở các chi bộ, cho thấy dữ liệu
    /// dồn về thành phố, sửa trực tiếp, và chạy đến khi bấm Ctrl-C (--once: dừng khi đã đồng bộ xong) (demo).
    Demo {
        /// Dừng khi mạng lưới đã đồng bộ xong và các chỉnh sửa trực tiếp đã đến nơi (exit after convergence).
        #[arg(long)]
        once: bool,
        /// Số đảng viên mẫu tạo ở mỗi chi bộ (members to seed per cell).
        #[arg(long, default_value_t = 40)]
        members_per_cell: usize,
        /// Lưu dữ liệu chạy thử ở thư mục này thay vì thư mục tạm (keep the demo's data here).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Thống kê số đảng viên theo đơn vị, trạng thái, lĩnh vực; ở thành phố mặc định chia theo quận (headcount).
    Stats {
        /// Đơn vị cần thống kê; mặc định là toàn bộ phạm vi của nút (the subtree to count).
        #[arg(long)]
        unit: Option<String>,
        /// Chia nhóm theo các đơn vị thấp hơn đơn vị được thống kê bấy nhiêu cấp (grouping depth).
        #[arg(long, default_value_t = 1)]
        depth: usize,
        #[command(flatten)]
        data: DataDir,
    },
    /// Kiểm tra lại mọi chữ ký và hồ sơ đã lưu so với các thay đổi (re-check signatures and documents).
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
    use clap::{CommandFactory, FromArgMatches};
    // Help in the clerk's language: clap's own words too, unless English is asked for.
    let mut cmd = Cli::command();
    if !usage::wants_english_args(&args) {
        cmd = usage::vietnamese(cmd);
    }
    let cli = match cmd
        .try_get_matches_from(&args)
        .and_then(|m| Cli::from_arg_matches(&m))
    {
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
        Command::Case(cmd) => case::run(cmd, json),
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
