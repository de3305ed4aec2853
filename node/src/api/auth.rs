//! Who is calling: the owner's token, a session (cookie plus CSRF header, or bearer), or nobody; sign-in
//! with its slow-down after failures; and running a request as its caller.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rollmesh_engine::accounts::{same_secret, Accounts, Role, SignInError};
use rollmesh_engine::i18n::Lang;
use rollmesh_engine::{Node, NodeError};
use serde_json::{json, Value};

use super::Hooks;

/// The session cookie's name.
pub const COOKIE: &str = "rollmesh_session";
/// The header a cookie session's writes must carry (the session's CSRF token).
pub const CSRF_HEADER: &str = "x-csrf-token";
pub use crate::client::USER_HEADER;
/// Failed sign-ins allowed before each further attempt must wait.
const FREE_FAILURES: u32 = 3;
/// The longest wait after failures.
const MAX_WAIT: Duration = Duration::from_secs(300);

struct Session {
    login: String,
    csrf: String,
    expires: Instant,
}

struct Failures {
    count: u32,
    until: Option<Instant>,
    last: Instant,
    /// A password check for this login is running: another is refused until it ends, so guesses
    /// cannot be sent at once to slip past the count.
    checking: bool,
}

/// Password checks that may run at once; more wait (up to [`HASH_WAIT`]) or are answered 429.
const MAX_HASHING: usize = 2;
/// How long a sign-in waits for a free password check.
const HASH_WAIT: Duration = Duration::from_secs(10);

/// Sessions one account may hold at once.
const MAX_SESSIONS_PER_LOGIN: usize = 20;

/// Logins whose failures are remembered at most (anyone can try any name: the table must not grow
/// without bound). Past it, entries idle for 15 minutes are forgotten first.
const MAX_FAILURE_ENTRIES: usize = 10_000;

/// The API's state: the node, the owner's token, sessions and sign-in failures (in memory: a restart
/// signs everyone out).
pub struct ApiState {
    /// Password checks running at once (each takes ~19 MiB and a core for tens of milliseconds).
    hashing: tokio::sync::Semaphore,
    pub(super) node: Arc<Node>,
    pub(super) data: PathBuf,
    owner_token: String,
    sessions: Mutex<HashMap<String, Session>>,
    failures: Mutex<HashMap<String, Failures>>,
    ttl: Duration,
    pub(super) secure: bool,
    pub(super) hooks: Hooks,
}

/// The caller of a request, once authenticated.
#[derive(Clone, Debug)]
pub struct Caller {
    /// How audit entries and dossier changes name the person.
    pub person: String,
    /// The account's login (`owner` for the token).
    pub login: String,
    /// What the caller may do.
    pub role: Role,
    /// The language replies are in.
    pub lang: Lang,
}

/// An API error: a status and a message in the caller's language.
pub struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": self.1}))).into_response()
    }
}

/// The language a request asks for: `?lang=en` or an `Accept-Language` starting with `en`.
pub fn lang_of(headers: &HeaderMap, query: Option<&str>) -> Lang {
    let q = query.unwrap_or("");
    if q.split('&').any(|p| p == "lang=en") {
        return Lang::En;
    }
    if q.split('&').any(|p| p == "lang=vi") {
        return Lang::Vi;
    }
    match headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
    {
        Some(l) if l.trim_start().starts_with("en") => Lang::En,
        _ => Lang::Vi,
    }
}

fn pick(lang: Lang, vi: &str, en: &str) -> String {
    if lang == Lang::En { en } else { vi }.to_string()
}

/// The token of an `Authorization: Bearer …` header.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

impl ApiState {
    pub(super) fn new(
        node: Arc<Node>,
        data: PathBuf,
        owner_token: String,
        session_minutes: u64,
        secure: bool,
        hooks: Hooks,
    ) -> ApiState {
        ApiState {
            hashing: tokio::sync::Semaphore::new(MAX_HASHING),
            node,
            data,
            owner_token,
            sessions: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            ttl: Duration::from_secs(session_minutes.clamp(1, 7 * 24 * 60) * 60),
            secure,
            hooks,
        }
    }

    /// The caller of a request, or why there is none.
    fn caller(&self, parts: &Parts) -> Result<Caller, ApiError> {
        let lang = lang_of(&parts.headers, parts.uri.query());
        let unauthorized = || {
            ApiError(
                StatusCode::UNAUTHORIZED,
                pick(
                    lang,
                    "cần đăng nhập (phiên hết hạn hoặc chưa đăng nhập)",
                    "sign-in required (no session, or it expired)",
                ),
            )
        };
        if let Some(t) = bearer_token(&parts.headers) {
            if same_secret(t, &self.owner_token) {
                // The owner: whoever can read the 0600 token file owns the data directory anyway.
                let login = parts
                    .headers
                    .get(USER_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .map(|s| s.chars().filter(|c| !c.is_control()).take(64).collect())
                    .unwrap_or_else(|| "owner".to_string());
                return Ok(Caller {
                    person: login,
                    login: "owner".into(),
                    role: Role::Admin,
                    lang,
                });
            }
            return self.session_caller(t, lang).ok_or_else(unauthorized);
        }
        let Some(t) = cookie_token(&parts.headers) else {
            return Err(unauthorized());
        };
        let caller = self.session_caller(&t, lang).ok_or_else(unauthorized)?;
        // A cookie is sent by the browser whatever page asks: writes must prove they come from ours.
        if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
            let csrf = self
                .sessions
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&t)
                .map(|s| s.csrf.clone())
                .unwrap_or_default();
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !same_secret(sent, &csrf) {
                return Err(ApiError(
                    StatusCode::FORBIDDEN,
                    pick(
                        lang,
                        "thiếu hoặc sai mã chống giả mạo (X-CSRF-Token)",
                        "missing or wrong anti-forgery token (X-CSRF-Token)",
                    ),
                ));
            }
        }
        Ok(caller)
    }

    /// The caller of a live session whose account is still enabled (sliding expiry).
    fn session_caller(&self, token: &str, lang: Lang) -> Option<Caller> {
        let login = {
            let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            sessions.retain(|_, s| s.expires > now);
            let s = sessions.get_mut(token)?;
            s.expires = now + self.ttl;
            s.login.clone()
        };
        let account = Accounts::of(&self.data).get(&login).ok().flatten()?;
        if account.disabled {
            self.sessions
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(token);
            return None;
        }
        Some(Caller {
            person: account.person(),
            login: account.login,
            role: account.role,
            lang,
        })
    }

    /// Signs in: a session, or an error. A login no account can have is refused at once (nothing is
    /// hashed, audited or remembered for it). One password check runs at a time per login (another
    /// attempt meanwhile is answered 429), at most [`MAX_HASHING`] at a time in all. After
    /// [`FREE_FAILURES`] failures for a login, each further attempt must wait twice as long as the last
    /// (up to [`MAX_WAIT`]); attempts during the wait are answered 429 without checking the password.
    pub(super) async fn sign_in(
        self: &Arc<Self>,
        login: String,
        password: String,
        lang: Lang,
    ) -> Result<(String, String, Caller), ApiError> {
        let wrong = || {
            ApiError(
                StatusCode::UNAUTHORIZED,
                pick(
                    lang,
                    "sai tên đăng nhập hoặc mật khẩu",
                    "wrong login or password",
                ),
            )
        };
        if !rollmesh_engine::accounts::valid_login(&login) || password.len() > 1024 {
            return Err(wrong());
        }
        let key = login.clone();
        let busy = |secs: u64| {
            ApiError(
                StatusCode::TOO_MANY_REQUESTS,
                pick(
                    lang,
                    &format!(
                        "đăng nhập sai nhiều lần hoặc đang kiểm tra; hãy thử lại sau {secs} giây"
                    ),
                    &format!(
                        "too many failed sign-ins, or one is being checked; try again in {secs} s"
                    ),
                ),
            )
        };
        {
            let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            if let Some(e) = f.get_mut(&key) {
                if let Some(until) = e.until.filter(|u| *u > now) {
                    return Err(busy((until - now).as_secs() + 1));
                }
                if e.checking {
                    return Err(busy(1));
                }
                e.checking = true;
            } else {
                Self::make_room(&mut f, now);
                if f.len() < MAX_FAILURE_ENTRIES {
                    f.insert(
                        key.clone(),
                        Failures {
                            count: 0,
                            until: None,
                            last: now,
                            checking: true,
                        },
                    );
                }
            }
        }
        let outcome = match self.check_password(&login, password).await {
            Ok(o) => o,
            Err(e) => {
                self.done_checking(&key);
                return Err(e);
            }
        };
        let account = match outcome {
            Ok(a) => {
                self.failures
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&key);
                a
            }
            Err(e) => {
                let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
                let now = Instant::now();
                if let Some(entry) = f.get_mut(&key) {
                    entry.checking = false;
                    entry.last = now;
                    entry.count += 1;
                    if entry.count >= FREE_FAILURES {
                        let wait = Duration::from_secs(1 << (entry.count - FREE_FAILURES).min(9));
                        entry.until = Some(now + wait.min(MAX_WAIT));
                    }
                }
                drop(f);
                let _ = self.node.store().audit_append(
                    &login,
                    &self.node.id().to_string(),
                    "login.failed",
                    &login,
                    "",
                );
                return Err(match e {
                    SignInError::Wrong => wrong(),
                    SignInError::Disabled => ApiError(
                        StatusCode::UNAUTHORIZED,
                        pick(lang, "tài khoản đã bị khóa", "the account is disabled"),
                    ),
                });
            }
        };
        let token = rollmesh_engine::accounts::random_token();
        let csrf = rollmesh_engine::accounts::random_token();
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        // At most MAX_SESSIONS_PER_LOGIN sessions per account: signing in again ends the oldest.
        let mut mine: Vec<(Instant, String)> = sessions
            .iter()
            .filter(|(_, s)| s.login == account.login)
            .map(|(t, s)| (s.expires, t.clone()))
            .collect();
        mine.sort();
        while mine.len() >= MAX_SESSIONS_PER_LOGIN {
            let (_, t) = mine.remove(0);
            sessions.remove(&t);
        }
        sessions.insert(
            token.clone(),
            Session {
                login: account.login.clone(),
                csrf: csrf.clone(),
                expires: Instant::now() + self.ttl,
            },
        );
        drop(sessions);
        let _ = self.node.store().audit_append(
            &account.person(),
            &self.node.id().to_string(),
            "login",
            &account.login,
            account.role.key(),
        );
        let caller = Caller {
            person: account.person(),
            login: account.login,
            role: account.role,
            lang,
        };
        Ok((token, csrf, caller))
    }

    /// Runs a password check when one of the [`MAX_HASHING`] slots is free (else 429 after
    /// [`HASH_WAIT`]).
    async fn check_password(
        self: &Arc<Self>,
        login: &str,
        password: String,
    ) -> Result<Result<rollmesh_engine::accounts::Account, SignInError>, ApiError> {
        let permit = tokio::time::timeout(HASH_WAIT, self.hashing.acquire())
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or_else(|| {
                ApiError(
                    StatusCode::TOO_MANY_REQUESTS,
                    "quá nhiều lượt đăng nhập cùng lúc / too many sign-ins at once".into(),
                )
            })?;
        let state = self.clone();
        let l = login.to_string();
        let out =
            tokio::task::spawn_blocking(move || Accounts::of(&state.data).sign_in(&l, &password))
                .await
                .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()));
        drop(permit);
        out
    }

    fn done_checking(&self, key: &str) {
        if let Some(e) = self
            .failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(key)
        {
            e.checking = false;
        }
    }

    /// Keeps the failure table below [`MAX_FAILURE_ENTRIES`]: forgets entries idle for 15 minutes, then
    /// the oldest half of those neither waiting out a slow-down nor being checked. A lock-out is never
    /// forgotten to make room; if every entry is locked, a new login is not remembered until one ends.
    fn make_room(f: &mut HashMap<String, Failures>, now: Instant) {
        if f.len() < MAX_FAILURE_ENTRIES {
            return;
        }
        let locked = |e: &Failures| e.checking || e.until.is_some_and(|u| u > now);
        f.retain(|_, e| locked(e) || now.duration_since(e.last) < Duration::from_secs(900));
        if f.len() >= MAX_FAILURE_ENTRIES {
            let mut ages: Vec<Instant> =
                f.values().filter(|e| !locked(e)).map(|e| e.last).collect();
            ages.sort();
            if let Some(cut) = ages.get(ages.len() / 2).copied() {
                f.retain(|_, e| locked(e) || e.last > cut);
            }
        }
    }

    /// Ends a session.
    pub(super) fn sign_out(&self, parts_headers: &HeaderMap) {
        let bearer = bearer_token(parts_headers).map(str::to_string);
        if let Some(t) = bearer.or_else(|| cookie_token(parts_headers)) {
            self.sessions
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&t);
        }
    }

    /// The session cookie for a token.
    pub(super) fn cookie(&self, token: &str) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
            self.ttl.as_secs()
        )
    }

    /// Session lifetime, in seconds.
    pub(super) fn ttl_secs(&self) -> u64 {
        self.ttl.as_secs()
    }

    /// Runs one request of [`crate::ops`] as `caller`, if its role allows: on a blocking thread, in
    /// the caller's language, audited under the caller's name.
    pub async fn run(self: &Arc<Self>, caller: Caller, req: Value) -> Result<Value, ApiError> {
        let cmd = req["cmd"].as_str().unwrap_or("").to_string();
        let needed = crate::ops::role_for(&cmd);
        if caller.role < needed {
            return Err(ApiError(
                StatusCode::FORBIDDEN,
                pick(
                    caller.lang,
                    &format!(
                        "tài khoản {} ({}) không được làm việc này (cần vai trò {})",
                        caller.login,
                        caller.role.label_vi(),
                        needed.label_vi()
                    ),
                    &format!(
                        "account {} ({}) may not do this (needs role {})",
                        caller.login,
                        caller.role.key(),
                        needed.key()
                    ),
                ),
            ));
        }
        let state = self.clone();
        let lang = caller.lang;
        let out = tokio::task::spawn_blocking(move || {
            rollmesh_engine::i18n::with_lang(lang, || {
                rollmesh_engine::credentials::as_user(&caller.person, || {
                    crate::ops::handle(&state.node, &req, "api").map(|v| (v, req))
                })
            })
        })
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        match out {
            Ok((v, req)) => {
                if crate::ops::writes(&req) || cmd == "credential.revoke" {
                    (self.hooks.on_write)(&req);
                }
                Ok(v)
            }
            Err(e) => {
                // A message echoing a huge input (a header cell, a name) is cut short.
                let mut text = crate::render::explain_lang(&e, lang == Lang::En);
                if text.len() > 2000 {
                    let cut = (0..=2000)
                        .rev()
                        .find(|i| text.is_char_boundary(*i))
                        .unwrap_or(0);
                    text.truncate(cut);
                    text.push('…');
                }
                Err(ApiError(status_of(&e), text))
            }
        }
    }
}

/// The status of a failed request: 404 for an unknown member, 400 for the rest (refused input).
fn status_of(e: &anyhow::Error) -> StatusCode {
    let missing = e.chain().any(|c| {
        matches!(
            c.downcast_ref::<NodeError>(),
            Some(NodeError::NoSuchMember(_))
        )
    });
    if missing {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::BAD_REQUEST
    }
}

impl FromRequestParts<Arc<ApiState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<ApiState>,
    ) -> Result<Self, Self::Rejection> {
        state.caller(parts)
    }
}

/// The message for a body that is not the JSON expected: the parser's own (English) detail only in
/// English.
pub fn bad_body(lang: Lang, detail: &str) -> ApiError {
    ApiError(
        StatusCode::BAD_REQUEST,
        if lang == Lang::En {
            format!("the request body is not the JSON object expected: {detail}")
        } else {
            "nội dung yêu cầu không phải một đối tượng JSON hợp lệ (Content-Type: application/json)"
                .to_string()
        },
    )
}
