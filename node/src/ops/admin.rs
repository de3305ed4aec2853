//! Requests about the node itself: the audit log, the quarantine, credentials, and clerk accounts.

use anyhow::{anyhow, bail, Result};
use rollmesh_engine::accounts::{Accounts, Role};
use rollmesh_engine::{msg, Node};
use rollmesh_proto::{roles, NodeId};
use serde_json::{json, Value};

use super::{flag, int_or, text};
use crate::render;

/// `audit` {action?, member?, limit?}: the newest entries first when limited, and whether the hash chain
/// is intact.
pub(super) fn audit(node: &Node, req: &Value) -> Result<Value> {
    let entries = node.store().audit_list()?;
    let intact = node.store().audit_check()?;
    let action = text(req, "action");
    let member = text(req, "member");
    let limit = match int_or(req, "limit", 0)? {
        0 => usize::MAX,
        n => n,
    };
    let shown: Vec<_> = entries
        .iter()
        .filter(|e| action.is_none_or(|a| e.action.starts_with(a)))
        .filter(|e| member.is_none_or(|m| e.target.starts_with(m)))
        .collect();
    let skip = shown.len().saturating_sub(limit);
    Ok(json!({
        "intact": intact.is_ok(),
        "altered_at": intact.err(),
        "entries": shown.iter().skip(skip).map(|e| json!({"seq": e.seq,
            "at": render::time_text(e.at), "unix_time": e.at, "user": e.user, "node": e.node,
            "action": e.action, "target": e.target, "detail": e.detail})).collect::<Vec<_>>()
    }))
}

/// `quarantine.list` {}.
pub(super) fn quarantine_list(node: &Node) -> Result<Value> {
    let list = node.store().quarantine_list()?;
    Ok(json!(list
        .iter()
        .map(
            |q| json!({"seq": q.seq, "at": render::time_text(q.at), "unix_time": q.at,
            "code": q.code, "reason": render::reject_reason(&q.code), "detail": q.detail,
            "source": q.source, "author": q.author, "doc": q.doc.map(|d| d.to_string())})
        )
        .collect::<Vec<_>>()))
}

/// `quarantine.show` {seq}.
pub(super) fn quarantine_show(node: &Node, req: &Value) -> Result<Value> {
    let seq: u64 = int_or(req, "seq", 0)?;
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
    Ok(
        json!({"seq": q.seq, "at": render::time_text(q.at), "code": q.code, "reason": render::reject_reason(&q.code),
        "detail": q.detail, "source": q.source, "author": q.author, "doc": q.doc.map(|d| d.to_string()),
        "bytes": q.bytes.len()}),
    )
}

/// `credential.show` {}: this node's chain and whether it is valid now.
pub(super) fn credential_show(node: &Node) -> Result<Value> {
    let chain = node.own_chain()?;
    let status = match (node.root(), &chain) {
        (None, _) => Err(msg!("chưa cấu hình khóa gốc", "no root key configured")),
        (_, None) => Err(msg!("chưa cài chứng nhận", "no credential installed")),
        (Some(root), Some(c)) => c
            .validate(&root, chrono::Utc::now().timestamp(), &node.revocations()?)
            .map_err(|e| e.to_string()),
    };
    let links: Vec<_> = chain.iter().flat_map(|c| c.0.iter()).map(|l| json!({
        "serial": l.serial, "issuer": l.issuer.node_id().to_string(), "subject": l.subject.node_id().to_string(),
        "unit": l.unit.to_string(), "roles": roles::names(l.roles),
        "not_before": render::time_text(l.not_before), "not_after": render::time_text(l.not_after)})).collect();
    Ok(json!({"valid": status.is_ok(), "problem": status.as_ref().err(), "links": links}))
}

/// `credential.revoke` {node_id?, serial?}.
pub(super) fn credential_revoke(node: &Node, req: &Value) -> Result<Value> {
    let id: Option<NodeId> = match text(req, "node_id") {
        Some(s) => Some(s.parse()?),
        None => None,
    };
    // A serial that is there but not a number is a mistake, not "every credential".
    let serial = match &req["serial"] {
        Value::Null => None,
        _ => Some(int_or::<u64>(req, "serial", 0)?),
    };
    let r = node.credential_revoke(id, serial)?;
    node.audit(
        "credential.revoke",
        &r.target.node_id().to_string(),
        &r.unit.to_string(),
    )?;
    Ok(
        json!({"revoked": r.target.node_id().to_string(), "unit": r.unit.to_string(),
        "serial": r.serial, "accepted_changes": r.accepted.len()}),
    )
}

/// `credential.request` {rotate?}: a credential request for this node's key (or a new key kept aside
/// until its credential is installed), as text.
pub(super) fn credential_request(node: &Node, req: &Value) -> Result<Value> {
    let r = node.credential_request(flag(req, "rotate"))?;
    Ok(json!({"text": r.to_text()}))
}

/// `credential.issue` {request (text), unit, valid_days?, roles?}: a credential chain for a child unit's
/// request, issued by this node (base64 of the chain file in `data`).
pub(super) fn credential_issue(node: &Node, req: &Value) -> Result<Value> {
    let request = rollmesh_proto::CredentialRequest::from_text(text(req, "request").unwrap_or(""))?;
    let unit = rollmesh_model::UnitPath::parse(text(req, "unit").unwrap_or(""))?;
    let days: u32 = int_or(req, "valid_days", 365)?;
    let role_names = text(req, "roles").unwrap_or("clerk,approver,issuer");
    let bits = roles::parse(role_names).ok_or_else(|| {
        anyhow!(msg!(
            "vai trò không rõ: {role_names}",
            "unknown roles: {role_names}"
        ))
    })?;
    let chain = rollmesh_engine::issue_credential(
        rollmesh_engine::Issuer::Node(node),
        &request,
        unit,
        days,
        bits,
    )?;
    node.audit(
        "credential.issue",
        &request.subject.node_id().to_string(),
        &chain.unit().map(|u| u.to_string()).unwrap_or_default(),
    )?;
    let leaf = chain.leaf().ok_or_else(|| anyhow!("empty chain"))?;
    Ok(
        json!({"subject": leaf.subject.node_id().to_string(), "unit": leaf.unit.to_string(),
        "serial": leaf.serial, "links": chain.0.len(),
        "data": data_encoding::BASE64.encode(&chain.to_file())}),
    )
}

fn account_json(a: &rollmesh_engine::accounts::Account) -> Value {
    json!({"login": a.login, "full_name": a.full_name, "role": a.role.key(),
        "disabled": a.disabled, "created": render::time_text(a.created)})
}

/// `user.list` {}.
pub(super) fn user_list(node: &Node) -> Result<Value> {
    let list = Accounts::of(node.dir()).list()?;
    Ok(json!(list.iter().map(account_json).collect::<Vec<_>>()))
}

/// `user.add` {login, full_name, role, password}.
pub(super) fn user_add(node: &Node, req: &Value) -> Result<Value> {
    let login = text(req, "login").ok_or_else(|| anyhow!("login: missing"))?;
    let role = Role::parse(text(req, "role").unwrap_or("clerk"))?;
    let a = Accounts::of(node.dir()).add(
        login,
        text(req, "full_name").unwrap_or(""),
        role,
        text(req, "password").unwrap_or(""),
    )?;
    node.audit("user.add", &a.login, a.role.key())?;
    Ok(account_json(&a))
}

/// `user.passwd` {login, password}.
pub(super) fn user_passwd(node: &Node, req: &Value) -> Result<Value> {
    let login = text(req, "login").unwrap_or("");
    let a = Accounts::of(node.dir()).set_password(login, text(req, "password").unwrap_or(""))?;
    node.audit("user.passwd", &a.login, "")?;
    Ok(account_json(&a))
}

/// `user.disable` {login, enable?}: disables an account (or enables it again).
pub(super) fn user_disable(node: &Node, req: &Value) -> Result<Value> {
    let login = text(req, "login").unwrap_or("");
    let enable = flag(req, "enable");
    let a = Accounts::of(node.dir()).set_disabled(login, !enable)?;
    node.audit(
        if enable {
            "user.enable"
        } else {
            "user.disable"
        },
        &a.login,
        "",
    )?;
    Ok(account_json(&a))
}

/// `user.role` {login, role}.
pub(super) fn user_role(node: &Node, req: &Value) -> Result<Value> {
    let login = text(req, "login").unwrap_or("");
    let role = Role::parse(text(req, "role").unwrap_or(""))?;
    let a = Accounts::of(node.dir()).set_role(login, role)?;
    node.audit("user.role", &a.login, a.role.key())?;
    Ok(account_json(&a))
}
