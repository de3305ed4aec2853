//! The API's routes. Each handler turns its path, query or body into one request of [`crate::ops`] and
//! runs it as the caller ([`ApiState::run`]); the OpenAPI document is generated from these handlers.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::auth::{bad_body, lang_of, ApiError, ApiState, Caller};

type St = State<Arc<ApiState>>;
type Reply = Result<Json<Value>, ApiError>;
type Body = Result<Json<Value>, JsonRejection>;
type Q = Query<BTreeMap<String, String>>;

/// A request from a query string (GET) plus path parameters.
fn from_query(cmd: &str, q: BTreeMap<String, String>, extra: &[(&str, String)]) -> Value {
    let mut m: Map<String, Value> = q
        .into_iter()
        .filter(|(k, _)| k != "lang")
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    for (k, v) in extra {
        m.insert((*k).to_string(), Value::String(v.clone()));
    }
    m.insert("cmd".into(), Value::String(cmd.to_string()));
    Value::Object(m)
}

/// A request from a JSON body (an object) plus path parameters.
fn from_body(
    cmd: &str,
    caller: &Caller,
    body: Body,
    extra: &[(&str, String)],
) -> Result<Value, ApiError> {
    let mut m = match body {
        Ok(Json(Value::Object(m))) => m,
        Ok(_) => return Err(bad_body(caller.lang, "")),
        Err(e) => return Err(bad_body(caller.lang, &e.body_text())),
    };
    for (k, v) in extra {
        m.insert((*k).to_string(), Value::String(v.clone()));
    }
    m.insert("cmd".into(), Value::String(cmd.to_string()));
    Ok(Value::Object(m))
}

async fn get_op(s: &Arc<ApiState>, c: Caller, cmd: &str, q: Q, extra: &[(&str, String)]) -> Reply {
    s.run(c, from_query(cmd, q.0, extra)).await.map(Json)
}

async fn post_op(
    s: &Arc<ApiState>,
    c: Caller,
    cmd: &str,
    b: Body,
    extra: &[(&str, String)],
) -> Reply {
    let req = from_body(cmd, &c, b, extra)?;
    s.run(c, req).await.map(Json)
}

// ---- sign-in ----

/// Sign-in request.
#[derive(Deserialize, ToSchema)]
pub struct Login {
    /// The account's login.
    login: String,
    /// Its password.
    password: String,
}

/// Signs in: sets the session cookie and returns the session token (usable as a bearer token) and the
/// CSRF token a cookie session's writes must send as `X-CSRF-Token`.
#[utoipa::path(post, path = "/api/login", tag = "session", request_body = Login,
    responses((status = 200, description = "Signed in", body = Object),
        (status = 401, description = "Wrong login or password"),
        (status = 429, description = "Too many failures: wait")))]
async fn login(
    State(s): St,
    headers: HeaderMap,
    body: Result<Json<Login>, JsonRejection>,
) -> Response {
    let lang = lang_of(&headers, None);
    let Ok(Json(l)) = body else {
        return bad_body(lang, "{login, password}").into_response();
    };
    match s.sign_in(l.login, l.password, lang).await {
        Ok((token, csrf, c)) => (
            [(header::SET_COOKIE, s.cookie(&token))],
            Json(
                json!({"token": token, "csrf": csrf, "login": c.login, "person": c.person,
                "role": c.role.key(), "expires_in": s.ttl_secs()}),
            ),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// Ends the session.
#[utoipa::path(post, path = "/api/logout", tag = "session",
    responses((status = 200, description = "Signed out")))]
async fn logout(State(s): St, _c: Caller, headers: HeaderMap) -> Response {
    s.sign_out(&headers);
    let clear = format!(
        "{}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0",
        super::auth::COOKIE
    );
    (
        [(header::SET_COOKIE, clear)],
        Json(json!({"signed_out": true})),
    )
        .into_response()
}

/// Who the caller is.
#[utoipa::path(get, path = "/api/me", tag = "session",
    responses((status = 200, description = "The caller", body = Object), (status = 401)))]
async fn me(c: Caller) -> Json<Value> {
    Json(json!({"login": c.login, "person": c.person, "role": c.role.key()}))
}

// ---- members ----

/// Members of a subtree, a page at a time (`limit` 0 = all).
#[utoipa::path(get, path = "/api/members", tag = "members",
    params(("unit" = Option<String>, Query, description = "Unit code or name (default: the node's)"),
        ("status" = Option<String>, Query, description = "Only this status"),
        ("offset" = Option<u64>, Query), ("limit" = Option<u64>, Query, description = "Default 100")),
    responses((status = 200, description = "{total, offset, members}", body = Object)))]
async fn members_list(State(s): St, c: Caller, mut q: Q) -> Reply {
    q.0.entry("limit".into()).or_insert_with(|| "100".into());
    get_op(&s, c, "member.list", q, &[]).await
}

/// New member: `{fields: {full_name, dob, …}, unit?}`.
#[utoipa::path(post, path = "/api/members", tag = "members", request_body = Object,
    responses((status = 200, description = "The new member", body = Object), (status = 400)))]
async fn members_add(State(s): St, c: Caller, b: Body) -> Reply {
    post_op(&s, c, "member.add", b, &[]).await
}

/// Members as a file: `format` = xlsx (default), csv (for Excel; `keys` for the machine form, `sep`) or
/// json. With `Accept: application/json` the reply is `{name, mime, count, data (base64)}`.
#[utoipa::path(get, path = "/api/members/export", tag = "members",
    params(("format" = Option<String>, Query), ("keys" = Option<bool>, Query),
        ("sep" = Option<String>, Query), ("unit" = Option<String>, Query)),
    responses((status = 200, description = "The file", content_type = "application/octet-stream")))]
async fn members_export(State(s): St, c: Caller, headers: HeaderMap, mut q: Q) -> Response {
    q.0.entry("format".into()).or_insert_with(|| "xlsx".into());
    let v = match get_op(&s, c, "member.export", q, &[]).await {
        Ok(Json(v)) => v,
        Err(e) => return e.into_response(),
    };
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.starts_with("application/json"));
    if wants_json {
        return Json(v).into_response();
    }
    let bytes = data_encoding::BASE64
        .decode(v["data"].as_str().unwrap_or("").as_bytes())
        .unwrap_or_default();
    let name = v["name"].as_str().unwrap_or("export");
    (
        [
            (
                header::CONTENT_TYPE,
                v["mime"]
                    .as_str()
                    .unwrap_or("application/octet-stream")
                    .to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// Imports members from a file: `{name, data (base64 of an .xlsx or CSV), dry_run?}`; the reply counts
/// what was imported and carries the rejected rows as a CSV file (base64), if any.
#[utoipa::path(post, path = "/api/members/import", tag = "members", request_body = Object,
    responses((status = 200, body = Object), (status = 400)))]
async fn members_import(State(s): St, c: Caller, b: Body) -> Reply {
    post_op(&s, c, "member.import", b, &[]).await
}

/// Name search, ignoring case and diacritics.
#[utoipa::path(get, path = "/api/members/search", tag = "members",
    params(("text" = String, Query), ("limit" = Option<u64>, Query)),
    responses((status = 200, description = "{total, members}", body = Object)))]
async fn members_search(State(s): St, c: Caller, q: Q) -> Reply {
    get_op(&s, c, "member.search", q, &[]).await
}

/// A member's dossier with concurrent values, events and document heads.
#[utoipa::path(get, path = "/api/members/{id}", tag = "members",
    params(("id" = String, Path, description = "Member id or a unique prefix")),
    responses((status = 200, body = Object), (status = 404)))]
async fn member_show(State(s): St, c: Caller, Path(id): Path<String>, q: Q) -> Reply {
    get_op(&s, c, "member.show", q, &[("id", id)]).await
}

/// Edits a member: `{fields?, unit?, clear?: [key], events?: [{kind, date, detail}]}`.
#[utoipa::path(patch, path = "/api/members/{id}", tag = "members", request_body = Object,
    params(("id" = String, Path)),
    responses((status = 200, description = "{changed, member}", body = Object), (status = 400), (status = 404)))]
async fn member_edit(State(s): St, c: Caller, Path(id): Path<String>, b: Body) -> Reply {
    post_op(&s, c, "member.edit", b, &[("id", id)]).await
}

/// A member's changes: who (person and node), when, and each field from → to.
#[utoipa::path(get, path = "/api/members/{id}/history", tag = "members",
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 404)))]
async fn member_history(State(s): St, c: Caller, Path(id): Path<String>, q: Q) -> Reply {
    get_op(&s, c, "member.history", q, &[("id", id)]).await
}

/// Member records changed after a position of this node's log (`since`), with the next cursor.
#[utoipa::path(get, path = "/api/changes", tag = "members",
    params(("since" = Option<u64>, Query), ("limit" = Option<u64>, Query)),
    responses((status = 200, description = "{results, last_seq, pending}", body = Object)))]
async fn changes(State(s): St, c: Caller, q: Q) -> Reply {
    get_op(&s, c, "changes", q, &[]).await
}

/// Headcount by unit, status and sector.
#[utoipa::path(get, path = "/api/stats", tag = "reports",
    params(("unit" = Option<String>, Query), ("depth" = Option<u64>, Query)),
    responses((status = 200, body = Object)))]
async fn stats(State(s): St, c: Caller, q: Q) -> Reply {
    get_op(&s, c, "stats", q, &[]).await
}

// ---- the cell's year and screening ----

/// Records a meeting with attendance.
#[utoipa::path(post, path = "/api/meetings", tag = "ledgers", request_body = Object,
    responses((status = 200, body = Object), (status = 400)))]
async fn meetings(State(s): St, c: Caller, b: Body) -> Reply {
    post_op(&s, c, "meeting.record", b, &[]).await
}

/// Records a month's dues of a member.
#[utoipa::path(post, path = "/api/dues", tag = "ledgers", request_body = Object,
    responses((status = 200, body = Object), (status = 400)))]
async fn dues(State(s): St, c: Caller, b: Body) -> Reply {
    post_op(&s, c, "dues.record", b, &[]).await
}

/// Sets a member's yearly rating.
#[utoipa::path(post, path = "/api/ratings", tag = "ledgers", request_body = Object,
    responses((status = 200, body = Object), (status = 400)))]
async fn ratings(State(s): St, c: Caller, b: Body) -> Reply {
    post_op(&s, c, "rating.set", b, &[]).await
}

/// Records an entry of the educate-and-help list.
#[utoipa::path(post, path = "/api/help-list", tag = "ledgers", request_body = Object,
    responses((status = 200, body = Object), (status = 400)))]
async fn help_list(State(s): St, c: Caller, b: Body) -> Reply {
    post_op(&s, c, "help.record", b, &[]).await
}

/// A sheet of dues or ratings from Excel (`what` = dues | ratings; the file base64 in `csv`).
#[utoipa::path(post, path = "/api/sheets/{what}", tag = "ledgers", request_body = Object,
    params(("what" = String, Path, description = "dues or ratings")),
    responses((status = 200, body = Object), (status = 400)))]
async fn sheets(State(s): St, c: Caller, Path(what): Path<String>, b: Body) -> Reply {
    let cmd = match what.as_str() {
        "dues" => "sheet.dues",
        "ratings" => "sheet.ratings",
        _ => return Err(ApiError(StatusCode::NOT_FOUND, "dues | ratings".into())),
    };
    post_op(&s, c, cmd, b, &[]).await
}

/// Temporary attachments (sinh hoạt tạm thời) known here.
#[utoipa::path(get, path = "/api/attachments", tag = "ledgers",
    responses((status = 200, body = Object)))]
async fn attachments(State(s): St, c: Caller, q: Q) -> Reply {
    get_op(&s, c, "attach.list", q, &[]).await
}

/// Grants (or changes) a member's temporary attachment to a host cell.
#[utoipa::path(post, path = "/api/attachments", tag = "ledgers", request_body = Object,
    responses((status = 200, body = Object), (status = 400)))]
async fn attach_grant(State(s): St, c: Caller, b: Body) -> Reply {
    post_op(&s, c, "attach.grant", b, &[]).await
}

/// Opens a case or takes its next step (admission, exemption, strike-off, discipline).
#[utoipa::path(post, path = "/api/cases", tag = "cases", request_body = Object,
    responses((status = 200, body = Object), (status = 400)))]
async fn case_step(State(s): St, c: Caller, b: Body) -> Reply {
    post_op(&s, c, "case.step", b, &[]).await
}

/// The cases in scope; `waiting=true`: those waiting for this unit's step.
#[utoipa::path(get, path = "/api/cases", tag = "cases",
    params(("unit" = Option<String>, Query), ("waiting" = Option<bool>, Query), ("all" = Option<bool>, Query)),
    responses((status = 200, body = Object)))]
async fn case_list(State(s): St, c: Caller, q: Q) -> Reply {
    get_op(&s, c, "case.list", q, &[]).await
}

/// A member's cases, step by step.
#[utoipa::path(get, path = "/api/members/{id}/cases", tag = "cases",
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 404)))]
async fn case_show(State(s): St, c: Caller, Path(id): Path<String>, q: Q) -> Reply {
    get_op(&s, c, "case.show", q, &[("id", id)]).await
}

/// A cell's ledger of one year.
#[utoipa::path(get, path = "/api/ledgers", tag = "ledgers",
    params(("cell" = Option<String>, Query), ("year" = i32, Query)),
    responses((status = 200, body = Object), (status = 400)))]
async fn ledger(State(s): St, c: Caller, q: Q) -> Reply {
    get_op(&s, c, "ledger.show", q, &[]).await
}

/// The organisation's documents: `rules`, `calendar` or `tree`.
#[utoipa::path(get, path = "/api/org/{what}", tag = "organisation",
    params(("what" = String, Path), ("as_of" = Option<String>, Query)),
    responses((status = 200, body = Object)))]
async fn org_show(State(s): St, c: Caller, Path(what): Path<String>, q: Q) -> Reply {
    get_op(&s, c, "org.show", q, &[("what", what)]).await
}

/// Publishes a new version of an organisation document (the city only): `{text}`.
#[utoipa::path(post, path = "/api/org/{what}", tag = "organisation", request_body = Object,
    params(("what" = String, Path)), responses((status = 200, body = Object), (status = 400)))]
async fn org_publish(State(s): St, c: Caller, Path(what): Path<String>, b: Body) -> Reply {
    post_op(&s, c, "org.publish", b, &[("what", what)]).await
}

/// Screening flags, each with its rule, subject and explanation.
#[utoipa::path(get, path = "/api/flags", tag = "screening",
    params(("as_of" = Option<String>, Query), ("unit" = Option<String>, Query),
        ("rule" = Option<String>, Query), ("subject" = Option<String>, Query), ("fresh" = Option<bool>, Query)),
    responses((status = 200, body = Object)))]
async fn flags(State(s): St, c: Caller, q: Q) -> Reply {
    get_op(&s, c, "screen.run", q, &[]).await
}

/// Flags that fall due within `days` unless something is recorded.
#[utoipa::path(get, path = "/api/deadlines", tag = "screening",
    params(("as_of" = Option<String>, Query), ("days" = Option<u64>, Query), ("unit" = Option<String>, Query)),
    responses((status = 200, body = Object)))]
async fn deadlines(State(s): St, c: Caller, q: Q) -> Reply {
    get_op(&s, c, "screen.deadlines", q, &[]).await
}

// ---- the node ----

/// This node's id and unit.
#[utoipa::path(get, path = "/api/node", tag = "node", responses((status = 200, body = Object)))]
async fn node_id(State(s): St, c: Caller, q: Q) -> Reply {
    get_op(&s, c, "id", q, &[]).await
}

/// Sync state per peer.
#[utoipa::path(get, path = "/api/status", tag = "node", responses((status = 200, body = Object)))]
async fn status(State(s): St, _c: Caller) -> Json<Value> {
    Json((s.hooks.status)())
}

/// The audit log (admin).
#[utoipa::path(get, path = "/api/audit", tag = "node",
    params(("action" = Option<String>, Query), ("member" = Option<String>, Query), ("limit" = Option<u64>, Query)),
    responses((status = 200, body = Object), (status = 403)))]
async fn audit(State(s): St, c: Caller, q: Q) -> Reply {
    get_op(&s, c, "audit", q, &[]).await
}

/// Refused changes (admin).
#[utoipa::path(get, path = "/api/quarantine", tag = "node",
    responses((status = 200, body = Object), (status = 403)))]
async fn quarantine(State(s): St, c: Caller, q: Q) -> Reply {
    get_op(&s, c, "quarantine.list", q, &[]).await
}

/// One refused change (admin).
#[utoipa::path(get, path = "/api/quarantine/{seq}", tag = "node", params(("seq" = u64, Path)),
    responses((status = 200, body = Object), (status = 403)))]
async fn quarantine_show(State(s): St, c: Caller, Path(seq): Path<String>, q: Q) -> Reply {
    get_op(&s, c, "quarantine.show", q, &[("seq", seq)]).await
}

/// This node's credential chain and whether it is valid.
#[utoipa::path(get, path = "/api/credential", tag = "node", responses((status = 200, body = Object)))]
async fn credential(State(s): St, c: Caller, q: Q) -> Reply {
    get_op(&s, c, "credential.show", q, &[]).await
}

/// Revokes a node key or one credential below this node (admin): `{node_id?, serial?}`.
#[utoipa::path(post, path = "/api/credential/revoke", tag = "node", request_body = Object,
    responses((status = 200, body = Object), (status = 400), (status = 403)))]
async fn credential_revoke(State(s): St, c: Caller, b: Body) -> Reply {
    post_op(&s, c, "credential.revoke", b, &[]).await
}

/// A credential request for this node's key, or with `{rotate: true}` for a new key (admin).
#[utoipa::path(post, path = "/api/credential/request", tag = "node", request_body = Object,
    responses((status = 200, body = Object), (status = 403)))]
async fn credential_request(State(s): St, c: Caller, b: Body) -> Reply {
    post_op(&s, c, "credential.request", b, &[]).await
}

/// Issues a credential for a child unit's request (admin): `{request, unit, valid_days?, roles?}`.
#[utoipa::path(post, path = "/api/credential/issue", tag = "node", request_body = Object,
    responses((status = 200, body = Object), (status = 400), (status = 403)))]
async fn credential_issue(State(s): St, c: Caller, b: Body) -> Reply {
    post_op(&s, c, "credential.issue", b, &[]).await
}

// ---- accounts ----

/// The node's accounts (admin).
#[utoipa::path(get, path = "/api/users", tag = "accounts", responses((status = 200, body = Object), (status = 403)))]
async fn users(State(s): St, c: Caller, q: Q) -> Reply {
    get_op(&s, c, "user.list", q, &[]).await
}

/// Adds an account (admin): `{login, full_name, role, password}`.
#[utoipa::path(post, path = "/api/users", tag = "accounts", request_body = Object,
    responses((status = 200, body = Object), (status = 400), (status = 403)))]
async fn user_add(State(s): St, c: Caller, b: Body) -> Reply {
    post_op(&s, c, "user.add", b, &[]).await
}

/// Sets an account's password (admin): `{password}`.
#[utoipa::path(post, path = "/api/users/{login}/password", tag = "accounts", request_body = Object,
    params(("login" = String, Path)), responses((status = 200, body = Object), (status = 400), (status = 403)))]
async fn user_passwd(State(s): St, c: Caller, Path(login): Path<String>, b: Body) -> Reply {
    post_op(&s, c, "user.passwd", b, &[("login", login)]).await
}

/// Disables an account, or enables it again with `{enable: true}` (admin).
#[utoipa::path(post, path = "/api/users/{login}/disable", tag = "accounts", request_body = Object,
    params(("login" = String, Path)), responses((status = 200, body = Object), (status = 403)))]
async fn user_disable(State(s): St, c: Caller, Path(login): Path<String>, b: Body) -> Reply {
    post_op(&s, c, "user.disable", b, &[("login", login)]).await
}

/// Changes an account's role (admin): `{role}`.
#[utoipa::path(post, path = "/api/users/{login}/role", tag = "accounts", request_body = Object,
    params(("login" = String, Path)), responses((status = 200, body = Object), (status = 403)))]
async fn user_role(State(s): St, c: Caller, Path(login): Path<String>, b: Body) -> Reply {
    post_op(&s, c, "user.role", b, &[("login", login)]).await
}

/// A member's raw Automerge document (base64 in `data`).
#[utoipa::path(get, path = "/api/members/{id}/document", tag = "members",
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 404)))]
async fn member_document(State(s): St, c: Caller, Path(id): Path<String>, q: Q) -> Reply {
    get_op(&s, c, "member.export-doc", q, &[("id", id)]).await
}

/// A bundle of this node's signed changes after log position `since` (base64 in `data`).
#[utoipa::path(get, path = "/api/bundle", tag = "node", params(("since" = Option<u64>, Query)),
    responses((status = 200, body = Object), (status = 403)))]
async fn bundle_export(State(s): St, c: Caller, q: Q) -> Reply {
    get_op(&s, c, "bundle.export", q, &[]).await
}

/// Verifies and applies a bundle file: `{data (base64), name?}`.
#[utoipa::path(post, path = "/api/bundle", tag = "node", request_body = Object,
    responses((status = 200, body = Object), (status = 400), (status = 403)))]
async fn bundle_import(State(s): St, c: Caller, b: Body) -> Reply {
    post_op(&s, c, "bundle.import", b, &[]).await
}

/// Re-checks every stored signature and document (admin).
#[utoipa::path(get, path = "/api/verify", tag = "node", responses((status = 200, body = Object), (status = 403)))]
async fn verify(State(s): St, c: Caller, q: Q) -> Reply {
    get_op(&s, c, "verify", q, &[]).await
}

/// The hand-kept trust list (admin).
#[utoipa::path(get, path = "/api/trust", tag = "node", responses((status = 200, body = Object), (status = 403)))]
async fn trust_list(State(s): St, c: Caller, q: Q) -> Reply {
    get_op(&s, c, "trust.list", q, &[]).await
}

/// Trusts a node id (admin): `{node_id, note?}`.
#[utoipa::path(post, path = "/api/trust", tag = "node", request_body = Object,
    responses((status = 200, body = Object), (status = 403)))]
async fn trust_add(State(s): St, c: Caller, b: Body) -> Reply {
    post_op(&s, c, "trust.add", b, &[]).await
}

/// Stops trusting a node id (admin).
#[utoipa::path(post, path = "/api/trust/{node_id}/remove", tag = "node", params(("node_id" = String, Path)),
    responses((status = 200, body = Object), (status = 403)))]
async fn trust_remove(State(s): St, c: Caller, Path(id): Path<String>, b: Body) -> Reply {
    post_op(&s, c, "trust.remove", b, &[("node_id", id)]).await
}

/// The page at the address `rollmesh run` prints, until the web console is served there: what this
/// node is and where its API is described.
async fn landing(State(s): St) -> Response {
    let unit = s.node.unit().to_string();
    let id = s.node.id().to_string();
    let page = format!(
        "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\"><title>rollmesh {unit}</title></head>\
         <body><h1>Nút rollmesh {unit}</h1><p>Mã nút: {id}</p>\
         <p>Bảng điều khiển web cho văn thư chưa có trong phiên bản này. Giao diện lập trình (API) đang chạy \
         tại địa chỉ này: mô tả ở <a href=\"/api/openapi.json\">/api/openapi.json</a>; đăng nhập bằng \
         <code>POST /api/login</code>. Dòng lệnh <code>rollmesh</code> dùng API này khi nút đang chạy.</p>\
         </body></html>"
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "node", responses((status = 200, body = Object)))]
async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], openapi_json()).into_response()
}

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        c.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(super::auth::COOKIE))),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "rollmesh node API", description = "The local API of a rollmesh node: members, the cell's year, screening, reports, accounts. Sign in at /api/login, or present the node's api.token as a bearer token."),
    paths(login, logout, me, members_list, members_add, members_export, members_import, members_search, member_show, member_edit,
        member_history, changes, stats, meetings, dues, ratings, help_list, sheets, attachments,
        attach_grant, ledger, org_show, org_publish, flags, deadlines, node_id, status, audit,
        quarantine, quarantine_show, credential, credential_revoke, credential_request, credential_issue, users, user_add, user_passwd,
        user_disable, user_role, member_document, bundle_export, bundle_import, verify, trust_list,
        trust_add, trust_remove, case_step, case_list, case_show, openapi),
    components(schemas(Login)),
    modifiers(&Security),
    security(("bearer" = []), ("session" = []))
)]
struct ApiDoc;

/// The OpenAPI document as JSON.
pub fn openapi_json() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default()
}

/// The router.
pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/api/login", post(login))
        .route("/api/logout", post(logout))
        .route("/api/me", get(me))
        .route("/api/members", get(members_list).post(members_add))
        .route("/api/members/search", get(members_search))
        .route("/api/members/export", get(members_export))
        .route("/api/members/import", post(members_import))
        .route("/api/members/{id}", get(member_show).patch(member_edit))
        .route("/api/members/{id}/history", get(member_history))
        .route("/api/members/{id}/cases", get(case_show))
        .route("/api/cases", get(case_list).post(case_step))
        .route("/api/changes", get(changes))
        .route("/api/stats", get(stats))
        .route("/api/meetings", post(meetings))
        .route("/api/dues", post(dues))
        .route("/api/ratings", post(ratings))
        .route("/api/help-list", post(help_list))
        .route("/api/sheets/{what}", post(sheets))
        .route("/api/attachments", get(attachments).post(attach_grant))
        .route("/api/ledgers", get(ledger))
        .route("/api/org/{what}", get(org_show).post(org_publish))
        .route("/api/flags", get(flags))
        .route("/api/deadlines", get(deadlines))
        .route("/api/node", get(node_id))
        .route("/api/status", get(status))
        .route("/api/audit", get(audit))
        .route("/api/quarantine", get(quarantine))
        .route("/api/quarantine/{seq}", get(quarantine_show))
        .route("/api/credential", get(credential))
        .route("/api/credential/revoke", post(credential_revoke))
        .route("/api/credential/request", post(credential_request))
        .route("/api/credential/issue", post(credential_issue))
        .route("/api/users", get(users).post(user_add))
        .route("/api/users/{login}/password", post(user_passwd))
        .route("/api/users/{login}/disable", post(user_disable))
        .route("/api/users/{login}/role", post(user_role))
        .route("/api/members/{id}/document", get(member_document))
        .route("/api/bundle", get(bundle_export).post(bundle_import))
        .route("/api/verify", get(verify))
        .route("/api/trust", get(trust_list).post(trust_add))
        .route("/api/trust/{node_id}/remove", post(trust_remove))
        .route("/api/openapi.json", get(openapi))
        .route("/", get(landing))
        .layer(axum::extract::DefaultBodyLimit::max(64 << 20))
        .with_state(state)
}
