//! Keys and credentials: `keys root-init` and `credential request|issue|install|show|revoke`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use rollmesh_model::UnitPath;
use rollmesh_proto::{roles, Chain, CredentialRequest};
use serde_json::json;

use super::{open, DataDir};
use crate::render::print_json;
use rollmesh_engine::msg;

#[derive(Subcommand, Debug)]
pub enum KeysCmd {
    /// Tạo khóa gốc của tổ chức (cất giữ ngoài mạng); in khóa công khai để ghi vào cấu hình mọi nút (create the root key).
    RootInit {
        /// Tệp khóa gốc cần tạo; khóa công khai được ghi thêm vào FILE.pub (the root key file).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum CredentialCmd {
    /// In đơn xin chứng nhận cho nút này, để đưa cho văn thư đơn vị cấp trên (credential request).
    Request {
        /// Xin cho một khóa mới, để chuyển sang khóa đó khi chứng nhận của nó đã được cài (rotate to a new key).
        #[arg(long)]
        rotate: bool,
        /// Ghi đơn xin ra tệp thay vì in ra màn hình (write the request to a file).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        data: DataDir,
    },
    /// Cấp chứng nhận theo đơn xin của đơn vị cấp dưới: nút cấp trên cấp, hoặc dùng khóa gốc cho thành phố (issue).
    Issue {
        /// Tệp đơn xin (the request file).
        #[arg(long)]
        request: PathBuf,
        /// Đơn vị được chứng nhận: phải khớp với đơn xin và trực thuộc đơn vị của bên cấp (the unit to certify).
        #[arg(long)]
        unit: UnitPath,
        /// Số ngày hiệu lực (days of validity).
        #[arg(long, default_value_t = 365)]
        valid_days: u32,
        /// Vai trò: clerk (văn thư), approver (phê duyệt), issuer (cấp chứng nhận), cách nhau bằng dấu phẩy (roles).
        #[arg(long, default_value = "clerk,approver,issuer")]
        roles: String,
        /// Nơi ghi chuỗi chứng nhận (where to write the credential chain).
        #[arg(long)]
        out: PathBuf,
        /// Cấp bằng tệp khóa gốc (cho đơn vị cao nhất) thay vì bằng một nút (issue with the root key).
        #[arg(long, value_name = "FILE", conflicts_with = "data")]
        root_key: Option<PathBuf>,
        /// Thư mục dữ liệu của nút cấp chứng nhận (the issuing node's data directory).
        #[arg(long, env = "ROLLMESH_DATA", value_name = "DIR")]
        data: Option<PathBuf>,
    },
    /// Cài chuỗi chứng nhận đã cấp cho nút này, hoặc cho khóa mới đang chờ chuyển (install a credential).
    Install {
        /// Tệp chuỗi chứng nhận do `credential issue` tạo ra (the chain file).
        file: PathBuf,
        #[command(flatten)]
        data: DataDir,
    },
    /// Xem chuỗi chứng nhận của nút này và hiện còn hiệu lực hay không (show the credential).
    Show {
        #[command(flatten)]
        data: DataDir,
    },
    /// Thu hồi khóa của một nút (--node-id) hoặc một chứng nhận (--serial) thuộc đơn vị của nút này (revoke).
    Revoke {
        /// Mã nút cần thu hồi (the node id to revoke).
        #[arg(long, conflicts_with = "serial", required_unless_present = "serial")]
        node_id: Option<String>,
        /// Số sê-ri của chứng nhận cần thu hồi (the credential serial to revoke).
        #[arg(long)]
        serial: Option<u64>,
        #[command(flatten)]
        data: DataDir,
    },
}

/// Runs a `credential` subcommand.
pub(super) fn run(cmd: CredentialCmd, json: bool) -> Result<u8> {
    match cmd {
        CredentialCmd::Request { rotate, out, data } => request(rotate, out, data),
        CredentialCmd::Issue {
            request,
            unit,
            valid_days,
            roles: role_names,
            out,
            root_key,
            data,
        } => issue(
            request, unit, valid_days, role_names, out, root_key, data, json,
        ),
        CredentialCmd::Install { file, data } => install(file, data, json),
        CredentialCmd::Show { data } => show(data, json),
        CredentialCmd::Revoke {
            node_id,
            serial,
            data,
        } => revoke(node_id, serial, data, json),
    }
}

/// `keys root-init`: creates the organisation's root key and its `.pub` file.
pub(super) fn root_init(out: PathBuf, json: bool) -> Result<u8> {
    let key = rollmesh_engine::root_init(&out)?;
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
        println!(
            "{}",
            msg!(
                "Đã tạo khóa gốc. Khóa công khai (ghi vào cấu hình mọi nút, `init --root {p}`):",
                "Root key created. Public key (for every node's configuration, `init --root {p}`):"
            )
        );
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

pub(super) fn parse_root(s: &str) -> Result<rollmesh_proto::NodePublicKey> {
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

/// `credential request`: a credential request for this node (or for a rotation key).
fn request(rotate: bool, out: Option<PathBuf>, data: DataDir) -> Result<u8> {
    let v = crate::ops::call(
        &data.data,
        json!({"cmd": "credential.request", "rotate": rotate}),
    )?;
    let text = v["text"].as_str().unwrap_or("").to_string();
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

/// `credential issue`: a credential chain for a child unit's request.
#[allow(clippy::too_many_arguments)]
fn issue(
    request: PathBuf,
    unit: UnitPath,
    valid_days: u32,
    role_names: String,
    out: PathBuf,
    root_key: Option<PathBuf>,
    data: Option<PathBuf>,
    json: bool,
) -> Result<u8> {
    let text = std::fs::read_to_string(&request).with_context(|| request.display().to_string())?;
    let req = CredentialRequest::from_text(&text)?;
    let bits = roles::parse(&role_names).with_context(|| {
        msg!(
            "vai trò không rõ: {role_names}",
            "unknown roles: {role_names}"
        )
    })?;
    let chain = match (root_key, data) {
        (Some(k), _) => {
            let key = rollmesh_engine::read_root_key(&k)?;
            rollmesh_engine::issue_credential(
                rollmesh_engine::Issuer::Root(&key),
                &req,
                unit,
                valid_days,
                bits,
            )?
        }
        (None, Some(d)) => {
            // The issuing node may be running: the request goes through it then.
            let v = crate::ops::call(
                &d,
                json!({"cmd": "credential.issue", "request": text, "unit": unit.to_string(),
                    "valid_days": valid_days, "roles": role_names}),
            )?;
            let bytes = data_encoding::BASE64
                .decode(v["data"].as_str().unwrap_or("").as_bytes())
                .context("chain")?;
            Chain::from_file(&bytes)?
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

/// `credential install`: installs a chain issued for this node or its pending rotation key.
fn install(file: PathBuf, data: DataDir, json: bool) -> Result<u8> {
    // Installing may change the node's key: the running node must be stopped (and started again).
    let mut node = match open(&data) {
        Ok(n) => n,
        Err(e) if crate::client::held_by_daemon(&e) => bail!(msg!(
            "hãy dừng nút (`rollmesh run`) trước khi cài chứng nhận rồi khởi động lại: chứng nhận và có thể cả khóa của nút sẽ thay đổi",
            "stop the node (`rollmesh run`) before installing a credential, then start it again: its credential, and maybe its key, change"
        )),
        Err(e) => return Err(e),
    };
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
            &json!({"installed": true, "rotated": how == rollmesh_engine::Installed::Rotated, "node_id": node.id().to_string()}),
        );
    } else if how == rollmesh_engine::Installed::Rotated {
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

/// `credential show`: this node's chain and whether it is valid now.
fn show(data: DataDir, json: bool) -> Result<u8> {
    let v = crate::ops::call(&data.data, json!({"cmd": "credential.show"}))?;
    let valid = v["valid"].as_bool() == Some(true);
    if json {
        print_json(&v);
    } else {
        for l in v["links"].as_array().into_iter().flatten() {
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
        if valid {
            println!("{}", msg!("Chứng nhận hợp lệ.", "The credential is valid."));
        } else {
            let e = v["problem"].as_str().unwrap_or("");
            println!(
                "{}",
                msg!(
                    "Chứng nhận không hợp lệ: {e}",
                    "The credential is not valid: {e}"
                )
            );
        }
    }
    Ok(if valid { 0 } else { 1 })
}

/// `credential revoke`: revokes a node key or one credential (through the running node if it holds the store).
fn revoke(node_id: Option<String>, serial: Option<u64>, data: DataDir, json: bool) -> Result<u8> {
    let req = json!({"cmd": "credential.revoke", "node_id": node_id, "serial": serial});
    let Some(v) = super::request(&data, req, json)? else {
        return Ok(0);
    };
    let (t, u, n) = (
        v["revoked"].as_str().unwrap_or(""),
        v["unit"].as_str().unwrap_or(""),
        &v["accepted_changes"],
    );
    println!("{}", msg!("Đã thu hồi khóa {t} ({u}); giữ {n} thay đổi đã chấp nhận. Lệnh thu hồi sẽ đi kèm mọi gói từ nay.",
        "Revoked key {t} ({u}); its {n} accepted changes stay. The revocation travels with every bundle from now on."));
    Ok(0)
}
