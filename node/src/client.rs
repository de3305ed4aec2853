//! The CLI's side of the API: while `rollmesh run` holds a data directory, a command sends its request to
//! that node's API (address in `<data>/api.addr`, the owner's token in `<data>/api.token`) and gets the
//! same reply it would have computed itself.

use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use rollmesh_engine::msg;
use serde_json::Value;

/// The header the owner's CLI names its local login in (the API trusts it only with the owner's token).
pub const USER_HEADER: &str = "x-rollmesh-user";

/// The file where a running node writes its API's address (`http://127.0.0.1:PORT`).
pub const ADDR_FILE: &str = "api.addr";

/// The API address a running node wrote in `data`, if any.
pub fn read_addr(data: &Path) -> Option<String> {
    std::fs::read_to_string(data.join(ADDR_FILE))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The route of each request: (request, method, path). A `{param}` of the path is taken from the
/// request's field of that name; the other fields go in the query string (GET) or the JSON body.
pub const ROUTES: &[(&str, &str, &str)] = &[
    ("member.list", "GET", "/api/members"),
    ("member.add", "POST", "/api/members"),
    ("member.search", "GET", "/api/members/search"),
    ("member.export", "GET", "/api/members/export"),
    ("member.import", "POST", "/api/members/import"),
    ("member.show", "GET", "/api/members/{id}"),
    ("member.edit", "PATCH", "/api/members/{id}"),
    ("member.history", "GET", "/api/members/{id}/history"),
    ("changes", "GET", "/api/changes"),
    ("stats", "GET", "/api/stats"),
    ("meeting.record", "POST", "/api/meetings"),
    ("dues.record", "POST", "/api/dues"),
    ("rating.set", "POST", "/api/ratings"),
    ("help.record", "POST", "/api/help-list"),
    ("sheet.dues", "POST", "/api/sheets/dues"),
    ("sheet.ratings", "POST", "/api/sheets/ratings"),
    ("attach.list", "GET", "/api/attachments"),
    ("attach.grant", "POST", "/api/attachments"),
    ("ledger.show", "GET", "/api/ledgers"),
    ("org.show", "GET", "/api/org/{what}"),
    ("org.publish", "POST", "/api/org/{what}"),
    ("screen.run", "GET", "/api/flags"),
    ("screen.deadlines", "GET", "/api/deadlines"),
    ("id", "GET", "/api/node"),
    ("status", "GET", "/api/status"),
    ("audit", "GET", "/api/audit"),
    ("quarantine.list", "GET", "/api/quarantine"),
    ("quarantine.show", "GET", "/api/quarantine/{seq}"),
    ("credential.show", "GET", "/api/credential"),
    ("credential.revoke", "POST", "/api/credential/revoke"),
    ("credential.request", "POST", "/api/credential/request"),
    ("credential.issue", "POST", "/api/credential/issue"),
    ("user.list", "GET", "/api/users"),
    ("user.add", "POST", "/api/users"),
    ("user.passwd", "POST", "/api/users/{login}/password"),
    ("user.disable", "POST", "/api/users/{login}/disable"),
    ("user.role", "POST", "/api/users/{login}/role"),
    ("member.export-doc", "GET", "/api/members/{id}/document"),
    ("bundle.export", "GET", "/api/bundle"),
    ("bundle.import", "POST", "/api/bundle"),
    ("verify", "GET", "/api/verify"),
    ("trust.list", "GET", "/api/trust"),
    ("trust.add", "POST", "/api/trust"),
    ("trust.remove", "POST", "/api/trust/{node_id}/remove"),
    ("case.step", "POST", "/api/cases"),
    ("case.list", "GET", "/api/cases"),
    ("case.show", "GET", "/api/members/{id}/cases"),
];

/// True when opening the node failed because another process (a running node) holds its store.
pub fn held_by_daemon(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<rollmesh_engine::NodeError>(),
            Some(rollmesh_engine::NodeError::Store(
                rollmesh_store::StoreError::Locked
            ))
        )
    })
}

/// A request value as a query-string or path value.
fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Sends `req` to the node running on `data` and returns its reply (or its error, as the node worded it
/// in this process's language).
pub fn call(data: &Path, req: &Value) -> Result<Value> {
    let cmd = req["cmd"].as_str().unwrap_or("");
    let &(_, method, path) = ROUTES
        .iter()
        .find(|(c, _, _)| *c == cmd)
        .ok_or_else(|| anyhow!("no API route for {cmd:?}"))?;
    let base = read_addr(data).ok_or_else(|| {
        let d = data.display();
        anyhow!(msg!(
            "thư mục dữ liệu {d} đang được một tiến trình khác dùng nhưng không thấy địa chỉ API (api.addr); nút có đang khởi động không?",
            "the data directory {d} is in use by another process but has no API address (api.addr); is the node starting?"
        ))
    })?;
    let token = rollmesh_engine::accounts::read_owner_token(data)?.ok_or_else(|| {
        anyhow!(msg!(
            "không đọc được api.token của nút (chỉ chủ thư mục dữ liệu đọc được)",
            "cannot read the node's api.token (only the data directory's owner can)"
        ))
    })?;
    let mut fields = req.as_object().cloned().unwrap_or_default();
    fields.remove("cmd");
    // The API pages member lists (100 by default); a request made for the node itself means all of them.
    if cmd == "member.list" && !fields.contains_key("limit") {
        fields.insert("limit".into(), Value::from(0));
    }
    let mut url_path = String::new();
    for part in path.split('/') {
        if part.is_empty() {
            continue;
        }
        url_path.push('/');
        match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) => {
                let v = fields
                    .remove(name)
                    .as_ref()
                    .and_then(as_text)
                    .unwrap_or_default();
                url_path.push_str(&encode(&v));
            }
            None => url_path.push_str(part),
        }
    }
    let url = format!("{base}{url_path}");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(3600)))
        .http_status_as_error(false)
        .build()
        .into();
    let lang = if rollmesh_engine::i18n::is_en() {
        "en"
    } else {
        "vi"
    };
    let person = rollmesh_engine::credentials::acting_person();
    let auth = format!("Bearer {token}");
    let sent = match method {
        "GET" => {
            let mut r = agent
                .get(&url)
                .header("Authorization", &auth)
                .header("Accept-Language", lang)
                .header("Accept", "application/json")
                .header(USER_HEADER, &person);
            for (k, v) in &fields {
                if let Some(t) = as_text(v) {
                    r = r.query(k, &t);
                }
            }
            r.call()
        }
        "PATCH" => agent
            .patch(&url)
            .header("Authorization", &auth)
            .header("Accept-Language", lang)
            .header(USER_HEADER, &person)
            .send_json(Value::Object(fields)),
        _ => agent
            .post(&url)
            .header("Authorization", &auth)
            .header("Accept-Language", lang)
            .header(USER_HEADER, &person)
            .send_json(Value::Object(fields)),
    };
    let mut resp = sent.map_err(|e| {
        anyhow!(msg!(
            "không liên lạc được với nút đang chạy ({base}): {e}",
            "cannot reach the running node ({base}): {e}"
        ))
    })?;
    let status = resp.status();
    let text = resp
        .body_mut()
        .with_config()
        .limit(1 << 30)
        .read_to_string()
        .context("API reply")?;
    let v: Value = serde_json::from_str(&text).with_context(|| format!("API reply {status}"))?;
    if !status.is_success() {
        match v.get("error").and_then(Value::as_str) {
            Some(e) => bail!("{e}"),
            None => bail!("API {status}"),
        }
    }
    Ok(v)
}

/// Percent-encodes a path segment.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
