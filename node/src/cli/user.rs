//! `user add|list|passwd|disable|enable|role`: the people who may use this node (its console and API),
//! each with a role. Works with the node running (through its API) or stopped.

use std::io::BufRead;

use anyhow::{bail, Result};
use clap::Subcommand;
use serde_json::{json, Value};

use super::{request, DataDir};
use crate::i18n;
use rollmesh_engine::msg;

#[derive(Subcommand, Debug)]
pub enum UserCmd {
    /// Thêm tài khoản (add an account). The password is asked for, or read from stdin with
    /// --password-stdin.
    Add {
        /// Tên đăng nhập: a-z, 0-9, '.', '_', '-' (login).
        login: String,
        /// Họ và tên người dùng (the person's full name).
        #[arg(long)]
        name: String,
        /// Vai trò: viewer (xem), clerk (văn thư), approver (phê duyệt), admin (quản trị).
        #[arg(long, default_value = "clerk")]
        role: String,
        /// Đọc mật khẩu từ dòng đầu của stdin (read the password from stdin's first line).
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        data: DataDir,
    },
    /// Danh sách tài khoản (list accounts).
    List {
        #[command(flatten)]
        data: DataDir,
    },
    /// Đặt mật khẩu mới (set a new password).
    Passwd {
        login: String,
        /// Đọc mật khẩu từ stdin (read the password from stdin).
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        data: DataDir,
    },
    /// Khóa tài khoản (disable an account; its past entries keep its name).
    Disable {
        login: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// Mở lại tài khoản đã khóa (enable an account again).
    Enable {
        login: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// Đổi vai trò (change an account's role).
    Role {
        login: String,
        /// viewer, clerk, approver hoặc admin.
        role: String,
        #[command(flatten)]
        data: DataDir,
    },
}

/// The password: stdin's first line, or asked twice at the terminal.
fn password(from_stdin: bool) -> Result<String> {
    if from_stdin || !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    let first = rpassword::prompt_password(i18n::pick("Mật khẩu: ", "Password: "))?;
    let again = rpassword::prompt_password(i18n::pick("Nhập lại mật khẩu: ", "Password again: "))?;
    if first != again {
        bail!(msg!(
            "hai lần nhập mật khẩu không khớp",
            "the two passwords differ"
        ));
    }
    Ok(first)
}

fn account_line(a: &Value) -> String {
    let role = a["role"].as_str().unwrap_or("");
    let role = rollmesh_engine::accounts::Role::parse(role)
        .map(|r| i18n::pick(r.label_vi(), r.key()).to_string())
        .unwrap_or_else(|_| role.to_string());
    let state = if a["disabled"].as_bool() == Some(true) {
        i18n::pick("đã khóa", "disabled")
    } else {
        ""
    };
    format!(
        "{:<16} {:<28} {:<10} {}",
        a["login"].as_str().unwrap_or(""),
        a["full_name"].as_str().unwrap_or(""),
        role,
        state
    )
}

/// Runs a `user` subcommand.
pub(super) fn run(cmd: UserCmd, json: bool) -> Result<u8> {
    let (data, req, done): (DataDir, Value, &str) = match cmd {
        UserCmd::Add {
            login,
            name,
            role,
            password_stdin,
            data,
        } => {
            let pw = password(password_stdin)?;
            let req = json!({"cmd": "user.add", "login": login, "full_name": name, "role": role,
                "password": pw});
            (data, req, "add")
        }
        UserCmd::List { data } => (data, json!({"cmd": "user.list"}), "list"),
        UserCmd::Passwd {
            login,
            password_stdin,
            data,
        } => {
            let pw = password(password_stdin)?;
            (
                data,
                json!({"cmd": "user.passwd", "login": login, "password": pw}),
                "passwd",
            )
        }
        UserCmd::Disable { login, data } => (
            data,
            json!({"cmd": "user.disable", "login": login}),
            "disable",
        ),
        UserCmd::Enable { login, data } => (
            data,
            json!({"cmd": "user.disable", "login": login, "enable": true}),
            "enable",
        ),
        UserCmd::Role { login, role, data } => (
            data,
            json!({"cmd": "user.role", "login": login, "role": role}),
            "role",
        ),
    };
    let Some(v) = request(&data, req, json)? else {
        return Ok(0);
    };
    if done == "list" {
        for a in v.as_array().into_iter().flatten() {
            println!("{}", account_line(a));
        }
        let n = v.as_array().map_or(0, Vec::len);
        println!("{}", msg!("({n} tài khoản)", "({n} accounts)"));
        return Ok(0);
    }
    let login = v["login"].as_str().unwrap_or("");
    let text = match done {
        "add" => msg!("Đã thêm tài khoản {login}.", "Added account {login}."),
        "passwd" => msg!(
            "Đã đặt mật khẩu mới cho {login}.",
            "Set a new password for {login}."
        ),
        "disable" => msg!("Đã khóa tài khoản {login}.", "Disabled account {login}."),
        "enable" => msg!("Đã mở lại tài khoản {login}.", "Enabled account {login}."),
        _ => msg!(
            "Đã đổi vai trò của {login}.",
            "Changed the role of {login}."
        ),
    };
    println!("{text}");
    println!("  {}", account_line(&v));
    Ok(0)
}
