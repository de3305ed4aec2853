//! Argument errors in the clerk's language: clap words its own errors in English, so a refused command
//! line is reported here, in Vietnamese unless `--lang en` / `ROLLMESH_LANG=en` asks otherwise, naming
//! the argument and the value clap found wrong. Help and version output are printed as clap writes them.

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// The command line's help in Vietnamese: clap's own words ("Usage", "Commands", "Options", the help
/// and version flags) replaced on every command; the descriptions are the commands' doc comments.
pub(super) fn vietnamese(cmd: clap::Command) -> clap::Command {
    use clap::{Arg, ArgAction};
    cmd.help_template("{about-with-newline}\nCách dùng: {usage}\n\n{all-args}{after-help}")
        .subcommand_help_heading("Lệnh")
        .subcommand_value_name("LỆNH")
        .disable_help_subcommand(true)
        .disable_help_flag(true)
        .disable_version_flag(true)
        .mut_args(|a| {
            if matches!(a.get_help_heading(), None | Some("Options" | "Arguments")) {
                a.help_heading("Tham số")
            } else {
                a
            }
        })
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::Help)
                .help("In hướng dẫn này (print help)")
                .help_heading("Tham số"),
        )
        .arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .help("In số phiên bản (print version)")
                .help_heading("Tham số"),
        )
        .mut_subcommands(vietnamese)
}

/// True when the raw command line or the environment asks for English.
pub(super) fn wants_english_args(args: &[std::ffi::OsString]) -> bool {
    let mut it = args.iter().map(|a| a.to_string_lossy());
    while let Some(a) = it.next() {
        if a == "--lang=en" {
            return true;
        }
        if a == "--lang" {
            return it.next().is_some_and(|v| v == "en");
        }
    }
    std::env::var("ROLLMESH_LANG").is_ok_and(|v| v == "en")
}

fn context(e: &clap::Error, kind: ContextKind) -> Option<String> {
    match e.get(kind)? {
        ContextValue::String(s) => Some(s.clone()),
        ContextValue::Strings(v) => Some(v.join(", ")),
        ContextValue::StyledStr(s) => Some(s.to_string()),
        ContextValue::StyledStrs(v) => Some(
            v.iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        ContextValue::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Prints a parse error (or the help or version clap was asked for) and returns the exit code.
pub(super) fn report(e: clap::Error, args: &[std::ffi::OsString]) -> u8 {
    let code = if e.use_stderr() { 2 } else { 0 };
    if wants_english_args(args) {
        let _ = e.print();
        return code;
    }
    if !e.use_stderr() {
        // Help (or the version): clap's remaining words in the annotations, in Vietnamese.
        let text = e.render().to_string();
        let mut text = text;
        for (en, vi) in [
            ("[OPTIONS]", "[THAM SỐ]"),
            ("[possible values: ", "[giá trị: "),
            ("Possible values:", "Giá trị:"),
            ("[default: ", "[mặc định: "),
            ("[env: ", "[biến môi trường: "),
            ("[aliases: ", "[tên khác: "),
            ("[alias: ", "[tên khác: "),
        ] {
            text = text.replace(en, vi);
        }
        use std::io::Write;
        let _ = std::io::stdout().write_all(text.as_bytes());
        return code;
    }
    let arg = context(&e, ContextKind::InvalidArg).unwrap_or_default();
    let value = context(&e, ContextKind::InvalidValue).unwrap_or_default();
    let valid = context(&e, ContextKind::ValidValue);
    let suggested = context(&e, ContextKind::SuggestedArg)
        .or_else(|| context(&e, ContextKind::SuggestedSubcommand));
    let sub = context(&e, ContextKind::InvalidSubcommand).unwrap_or_default();
    let mut line = match e.kind() {
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            format!("giá trị {value:?} không hợp lệ cho {arg}")
        }
        ErrorKind::UnknownArgument => format!("không có tham số {arg}"),
        ErrorKind::InvalidSubcommand => format!("không có lệnh {sub:?}"),
        ErrorKind::MissingRequiredArgument => format!("thiếu tham số bắt buộc: {arg}"),
        ErrorKind::MissingSubcommand | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            "thiếu lệnh con".to_string()
        }
        ErrorKind::ArgumentConflict => {
            let other = context(&e, ContextKind::PriorArg).unwrap_or_default();
            format!("không dùng {arg} cùng với {other} được")
        }
        ErrorKind::NoEquals => format!("{arg} cần dạng {arg}=giá_trị"),
        ErrorKind::TooManyValues | ErrorKind::WrongNumberOfValues | ErrorKind::TooFewValues => {
            format!("số giá trị cho {arg} không đúng")
        }
        ErrorKind::InvalidUtf8 => "tham số không phải văn bản UTF-8".to_string(),
        _ => "dòng lệnh không đúng".to_string(),
    };
    // A value the argument's own parser refused carries its own (already Vietnamese) reason.
    if e.kind() == ErrorKind::ValueValidation {
        if let Some(src) = std::error::Error::source(&e) {
            line.push_str(&format!(": {src}"));
        }
    }
    if let Some(v) = valid {
        line.push_str(&format!(" (chọn một trong: {v})"));
    }
    if let Some(s) = suggested {
        line.push_str(&format!("; có phải ý bạn là {s}?"));
    }
    eprintln!("lỗi: {line}");
    eprintln!("Xem `rollmesh --help` hoặc `rollmesh <lệnh> --help` để biết cách dùng.");
    code
}
