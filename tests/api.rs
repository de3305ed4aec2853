//! The node's HTTP API over a real running node (`rollmesh run`, real HTTP on 127.0.0.1): roles allowed
//! and refused, sessions, CSRF, the slow-down after failed sign-ins, the audit and history naming the
//! person, the OpenAPI document checked by an independent validator, the changes feed across pages and a
//! restart, and the CLI printing the same with the node running as with it stopped.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::*;

/// A bootstrapped organisation in a temp dir; the cell's data directory.
fn cell() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    ok(&["org", "bootstrap", "--out", &arg(dir.path(), "org")]);
    let data = dir.path().join("org").join("hn.d01.w01.c01");
    (dir, data)
}

/// Starts the node and waits for its API address.
fn start(data: &Path) -> (ChildGuard, String) {
    let _ = std::fs::remove_file(data.join("api.addr"));
    let guard = spawn_node(data);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(a) = std::fs::read_to_string(data.join("api.addr")) {
            if !a.trim().is_empty() {
                return (guard, a.trim().to_string());
            }
        }
        assert!(Instant::now() < deadline, "the node's API did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Stops a node and waits until its store is free.
fn stop(mut g: ChildGuard) {
    if let Some(c) = g.0.as_mut() {
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = c.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    drop(g);
}

use std::process::Command;

/// Adds an account through the CLI (password on stdin).
fn add_user(data: &Path, login: &str, name: &str, role: &str, password: &str) {
    let mut cmd = command(&[
        "user",
        "add",
        login,
        "--name",
        name,
        "--role",
        role,
        "--password-stdin",
        "--data",
        &data.to_string_lossy(),
    ]);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{password}").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "user add {login}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A tiny HTTP client over ureq: status and JSON body, never an error for a 4xx.
struct Http {
    base: String,
    agent: ureq::Agent,
}

impl Http {
    fn new(base: &str) -> Http {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Http {
            base: base.to_string(),
            agent,
        }
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let resp = match (method, body) {
            ("GET", _) => {
                let mut r = self.agent.get(&url);
                for (k, v) in headers {
                    r = r.header(*k, *v);
                }
                r.call()
            }
            (m, b) => {
                let mut r = if m == "PATCH" {
                    self.agent.patch(&url)
                } else {
                    self.agent.post(&url)
                };
                for (k, v) in headers {
                    r = r.header(*k, *v);
                }
                r.send_json(b.unwrap_or(json!({})))
            }
        };
        let mut resp = resp.expect("HTTP request");
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Signs in; returns the bearer token (and the cookie's CSRF token).
    fn login(&self, login: &str, password: &str) -> (u16, Value) {
        self.send(
            "POST",
            "/api/login",
            &[],
            Some(json!({"login": login, "password": password})),
        )
    }

    fn token(&self, login: &str, password: &str) -> String {
        let (s, v) = self.login(login, password);
        assert_eq!(s, 200, "login {login}: {v}");
        v["token"].as_str().unwrap().to_string()
    }
}

fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

#[test]
fn each_role_is_allowed_and_refused_where_it_should_be() {
    let (_dir, data) = cell();
    add_user(&data, "xem", "Lê Văn Xem", "viewer", "mat-khau-xem");
    add_user(&data, "hoa", "Trần Thị Hoa", "clerk", "mat-khau-hoa");
    add_user(&data, "quantri", "Phạm Quản Trị", "admin", "mat-khau-qt");
    let (node, base) = start(&data);
    let http = Http::new(&base);
    let viewer = bearer(&http.token("xem", "mat-khau-xem"));
    let clerk = bearer(&http.token("hoa", "mat-khau-hoa"));
    let admin = bearer(&http.token("quantri", "mat-khau-qt"));
    let add = json!({"fields": {"full_name": "Nguyễn Văn An", "dob": "01/05/1990"}});

    // A viewer reads but cannot write.
    let (s, v) = http.send("GET", "/api/members", &[("Authorization", &viewer)], None);
    assert_eq!(s, 200, "{v}");
    let (s, v) = http.send(
        "POST",
        "/api/members",
        &[("Authorization", &viewer)],
        Some(add.clone()),
    );
    assert_eq!(s, 403, "a viewer wrote: {v}");
    assert!(v["error"].as_str().unwrap().contains("vai trò"), "{v}");
    // A clerk writes, but reads neither the audit log nor the accounts.
    let (s, v) = http.send(
        "POST",
        "/api/members",
        &[("Authorization", &clerk)],
        Some(add),
    );
    assert_eq!(s, 200, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let edit = json!({"fields": {"phone": "0912345678"}, "clear": ["dob"]});
    let (s, v) = http.send(
        "PATCH",
        &format!("/api/members/{id}"),
        &[("Authorization", &clerk)],
        Some(edit),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["member"]["phone"], "0912345678");
    assert!(
        v["member"].get("dob").is_none(),
        "the field was not cleared: {v}"
    );
    for path in ["/api/audit", "/api/users", "/api/quarantine"] {
        let (s, _) = http.send("GET", path, &[("Authorization", &clerk)], None);
        assert_eq!(s, 403, "a clerk read {path}");
        let (s, v) = http.send("GET", path, &[("Authorization", &admin)], None);
        assert_eq!(s, 200, "admin {path}: {v}");
    }
    let (s, _) = http.send(
        "POST",
        "/api/users",
        &[("Authorization", &clerk)],
        Some(json!({"login": "ke-gian", "role": "admin", "password": "12345678"})),
    );
    assert_eq!(s, 403, "a clerk made an account");
    // An approver decision is above a clerk.
    let (s, _) = http.send(
        "POST",
        "/api/org/rules",
        &[("Authorization", &clerk)],
        Some(json!({"text": ""})),
    );
    assert_eq!(s, 403);
    // Hidden characters in a name are refused (a soft hyphen, a right-to-left override, a tag).
    for name in [
        "Nguyễn\u{00AD}An",
        "Nguyễn \u{202E}nA",
        "Nguyễn An\u{E0041}",
    ] {
        let (s, v) = http.send(
            "POST",
            "/api/members",
            &[("Authorization", &clerk)],
            Some(json!({"fields": {"full_name": name}})),
        );
        assert_eq!(s, 400, "{name:?} accepted: {v}");
    }
    // Errors name the field, in English on request.
    let (s, v) = http.send(
        "POST",
        "/api/members",
        &[("Authorization", &clerk), ("Accept-Language", "en")],
        Some(json!({"fields": {"full_name": "A", "dob": "31/02/1990"}})),
    );
    assert_eq!(s, 400);
    assert!(v["error"].as_str().unwrap().contains("dob"), "{v}");
    // A disabled account's session stops working at once.
    let (s, _) = http.send(
        "POST",
        "/api/users/hoa/disable",
        &[("Authorization", &admin)],
        Some(json!({})),
    );
    assert_eq!(s, 200);
    let (s, _) = http.send("GET", "/api/members", &[("Authorization", &clerk)], None);
    assert_eq!(s, 401, "a disabled account kept its session");
    stop(node);
}

#[test]
fn a_request_without_a_session_is_refused_and_a_cookie_write_needs_the_csrf_token() {
    let (_dir, data) = cell();
    add_user(&data, "hoa", "Trần Thị Hoa", "clerk", "mat-khau-hoa");
    let (node, base) = start(&data);
    let http = Http::new(&base);
    for path in [
        "/api/members",
        "/api/members/search?text=an",
        "/api/stats",
        "/api/changes",
        "/api/me",
    ] {
        let (s, v) = http.send("GET", path, &[], None);
        assert_eq!(s, 401, "{path} without a session: {v}");
        let (s, _) = http.send("GET", path, &[("Authorization", "Bearer 00")], None);
        assert_eq!(s, 401, "{path} with a made-up token");
    }
    let (s, v) = http.login("hoa", "mat-khau-hoa");
    assert_eq!(s, 200);
    let cookie = format!("rollmesh_session={}", v["token"].as_str().unwrap());
    let csrf = v["csrf"].as_str().unwrap().to_string();
    let body = json!({"fields": {"full_name": "Nguyễn Văn An"}});
    // A browser's cookie alone reads, but does not write: another site's page could send it.
    let (s, _) = http.send("GET", "/api/members", &[("Cookie", &cookie)], None);
    assert_eq!(s, 200);
    let (s, v) = http.send(
        "POST",
        "/api/members",
        &[("Cookie", &cookie)],
        Some(body.clone()),
    );
    assert_eq!(s, 403, "a cookie write without the CSRF token: {v}");
    let (s, _) = http.send(
        "POST",
        "/api/members",
        &[("Cookie", &cookie), ("X-CSRF-Token", "0000")],
        Some(body.clone()),
    );
    assert_eq!(s, 403);
    let (s, v) = http.send(
        "POST",
        "/api/members",
        &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
        Some(body),
    );
    assert_eq!(s, 200, "{v}");
    // Signing out ends the session.
    let (s, _) = http.send(
        "POST",
        "/api/logout",
        &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
        None,
    );
    assert_eq!(s, 200);
    let (s, _) = http.send("GET", "/api/members", &[("Cookie", &cookie)], None);
    assert_eq!(s, 401);
    stop(node);
}

#[test]
fn ten_wrong_passwords_are_slowed_down() {
    let (_dir, data) = cell();
    add_user(&data, "hoa", "Trần Thị Hoa", "clerk", "mat-khau-hoa");
    let (node, base) = start(&data);
    let http = Http::new(&base);
    let mut codes = Vec::new();
    for _ in 0..10 {
        codes.push(http.login("hoa", "doan-mo").0);
    }
    assert_eq!(&codes[..3], &[401, 401, 401], "{codes:?}");
    assert!(
        codes[3..].iter().filter(|c| **c == 429).count() >= 6,
        "no slow-down after failures: {codes:?}"
    );
    // During the wait even the right password is not tried.
    let (s, v) = http.login("hoa", "mat-khau-hoa");
    assert_eq!(s, 429, "{v}");
    assert!(v["error"].as_str().unwrap().contains("giây"), "{v}");
    // Another account is not held up.
    add_user(&data, "lan", "Vũ Thị Lan", "viewer", "mat-khau-lan");
    assert_eq!(http.login("lan", "mat-khau-lan").0, 200);
    // Guesses sent all at once do not slip past the count: one password check per login at a time.
    add_user(&data, "minh", "Đỗ Văn Minh", "viewer", "mat-khau-minh");
    let codes: Vec<u16> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..20)
            .map(|_| s.spawn(|| Http::new(&base).login("minh", "doan-mo").0))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let checked = codes.iter().filter(|c| **c == 401).count();
    assert!(
        checked <= 3,
        "{checked} of 20 simultaneous guesses were checked: {codes:?}"
    );
    // A login no account can have (far too long) is refused without a trace: not audited, not kept.
    let long = "x".repeat(100_000);
    assert_eq!(http.login(&long, "doan-mo").0, 401);
    let o = ok(&["audit", "--json", "--data", &data.to_string_lossy()]);
    assert!(
        !o.stdout.contains("xxxxxxxxxxxxxxxxxxxx"),
        "a huge login was audited"
    );
    stop(node);
}

#[test]
fn the_audit_and_the_history_name_the_person() {
    let (_dir, data) = cell();
    add_user(&data, "hoa", "Trần Thị Hoa", "clerk", "mat-khau-hoa");
    let (node, base) = start(&data);
    let http = Http::new(&base);
    let clerk = bearer(&http.token("hoa", "mat-khau-hoa"));
    let (_, v) = http.send(
        "POST",
        "/api/members",
        &[("Authorization", &clerk)],
        Some(json!({"fields": {"full_name": "Nguyễn Văn An", "phone": "0911111111"}})),
    );
    let id = v["id"].as_str().unwrap().to_string();
    http.send(
        "PATCH",
        &format!("/api/members/{id}"),
        &[("Authorization", &clerk)],
        Some(json!({"fields": {"phone": "0922222222"}})),
    );
    let (s, h) = http.send(
        "GET",
        &format!("/api/members/{id}/history"),
        &[("Authorization", &clerk)],
        None,
    );
    assert_eq!(s, 200);
    let entries = h["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{h}");
    for e in entries {
        assert_eq!(e["person"], "hoa (Trần Thị Hoa)", "{e}");
        assert!(!e["author"].as_str().unwrap().is_empty());
    }
    assert_eq!(
        entries[1]["changes"],
        json!([{"field": "phone", "old": "0911111111", "new": "0922222222"}])
    );
    // The CLI shows the same, in local time, while the node runs.
    let o = ok(&["member", "history", &id, "--data", &data.to_string_lossy()]);
    assert!(o.stdout.contains("hoa (Trần Thị Hoa) @"), "{}", o.stdout);
    assert!(o.stdout.contains("0911111111 → 0922222222"), "{}", o.stdout);
    // Reads of member data are audited too, under the person.
    http.send(
        "GET",
        &format!("/api/members/{id}"),
        &[("Authorization", &clerk)],
        None,
    );
    let o = ok(&["audit", "--json", "--data", &data.to_string_lossy()]);
    let entries = o.json()["entries"].as_array().unwrap().clone();
    for action in ["member.add", "member.edit", "member.history", "member.show"] {
        assert!(
            entries
                .iter()
                .any(|e| e["action"] == action && e["user"] == "hoa (Trần Thị Hoa)"),
            "no {action} by the clerk in the audit: {entries:?}"
        );
    }
    stop(node);
}

#[test]
fn the_openapi_document_validates_and_lists_every_route() {
    let (_dir, data) = cell();
    let (node, base) = start(&data);
    let http = Http::new(&base);
    // The document is public: a client needs it before signing in.
    let (s, doc) = http.send("GET", "/api/openapi.json", &[], None);
    assert_eq!(s, 200);
    let paths = doc["paths"].as_object().expect("paths");
    // A document path's `{param}` segment stands for any value (`/api/sheets/{what}` serves
    // `/api/sheets/dues`).
    let matches = |doc: &str, path: &str| {
        let (d, p): (Vec<&str>, Vec<&str>) = (doc.split('/').collect(), path.split('/').collect());
        d.len() == p.len() && d.iter().zip(&p).all(|(a, b)| a == b || a.starts_with('{'))
    };
    for (_, method, path) in rollmesh::client::ROUTES {
        let item = paths
            .iter()
            .find(|(doc, _)| matches(doc, path))
            .map(|(_, item)| item)
            .unwrap_or_else(|| panic!("{path} is not in the document"));
        assert!(
            item.get(method.to_lowercase()).is_some(),
            "{method} {path} is not in the document"
        );
    }
    let file = data.join("openapi.json");
    std::fs::write(&file, serde_json::to_vec(&doc).unwrap()).unwrap();
    // An independent validator (openapi-spec-validator, installed by .ci/run).
    let out = Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "the OpenAPI document does not validate:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    stop(node);
}

#[test]
fn the_changes_feed_returns_each_change_once_and_resumes_after_a_restart() {
    let (_dir, data) = cell();
    let d = data.to_string_lossy().into_owned();
    for i in 0..7 {
        ok(&[
            "member",
            "add",
            "--data",
            &d,
            "--name",
            &format!("Đảng viên {i}"),
        ]);
    }
    let (node, base) = start(&data);
    let http = Http::new(&base);
    let token = std::fs::read_to_string(data.join("api.token")).unwrap();
    let auth = bearer(token.trim());
    let mut seen: Vec<String> = Vec::new();
    let mut since = 0u64;
    for _ in 0..20 {
        let (s, v) = http.send(
            "GET",
            &format!("/api/changes?since={since}&limit=3"),
            &[("Authorization", &auth)],
            None,
        );
        assert_eq!(s, 200, "{v}");
        for r in v["results"].as_array().unwrap() {
            seen.push(r["id"].as_str().unwrap().to_string());
        }
        since = v["last_seq"].as_u64().unwrap();
        if v["pending"] == false {
            break;
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(seen.len(), 7, "{seen:?}");
    assert_eq!(unique.len(), 7, "a change came twice: {seen:?}");
    stop(node);
    // An edit while the poller is away; after a restart the cursor still holds.
    let id = &seen[2];
    ok(&["member", "edit", id, "--data", &d, "--phone", "0933333333"]);
    let (node, base) = start(&data);
    let http = Http::new(&base);
    let (s, v) = http.send(
        "GET",
        &format!("/api/changes?since={since}"),
        &[("Authorization", &auth)],
        None,
    );
    assert_eq!(s, 200);
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{v}");
    assert_eq!(&results[0]["id"], id);
    assert_eq!(results[0]["member"]["phone"], "0933333333");
    stop(node);
}

/// Member ids (26 characters of base32), change hashes and clock times in command output, replaced by
/// placeholders: a new member's id is random, and a minute may turn between two runs.
fn normalise(text: &str) -> String {
    let mut out = String::new();
    let words: Vec<&str> = text
        .split_inclusive(|c: char| !c.is_ascii_alphanumeric())
        .collect();
    for w in words {
        let core: &str = w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
        let tail = &w[core.len()..];
        let is_id = core.len() == 26
            && core
                .bytes()
                .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b));
        // A change hash depends on the change's time too.
        let is_hash = core.len() == 64 && core.bytes().all(|b| b.is_ascii_hexdigit());
        out.push_str(if is_id {
            "<id>"
        } else if is_hash {
            "<hash>"
        } else {
            core
        });
        out.push_str(tail);
    }
    // Times: DD/MM/YYYY HH:MM and YYYY-MM-DD HH:MM:SS.
    let mut t = String::new();
    let b = out.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let digits = |from: usize, pat: &str| {
            pat.bytes().enumerate().all(|(k, p)| {
                b.get(from + k).is_some_and(|c| {
                    if p == b'9' {
                        c.is_ascii_digit()
                    } else {
                        *c == p
                    }
                })
            })
        };
        if digits(i, "99/99/9999 99:99") {
            t.push_str("<time>");
            i += 16;
        } else if digits(i, "9999-99-99 99:99:99") {
            t.push_str("<time>");
            i += 19;
        } else {
            let ch = out[i..].chars().next().unwrap();
            t.push(ch);
            i += ch.len_utf8();
        }
    }
    t
}

/// The README's walk-through on two copies of one node: one with the node stopped, one while
/// `rollmesh run` holds it. Every command prints the same (ids and clock times aside) and exits the
/// same way.
#[test]
fn the_cli_prints_the_same_with_the_node_running_as_stopped() {
    let (dir, data) = cell();
    let d = data.to_string_lossy().into_owned();
    let add = ok(&[
        "member",
        "add",
        "--data",
        &d,
        "--name",
        "Lê Thị Có",
        "--dob",
        "1980-01-02",
        "--json",
    ]);
    let id = add.json()["id"].as_str().unwrap().to_string();
    // Two identical working folders: the node's data directory and the clerk's files.
    let csv = "Họ tên;Ngày sinh;Giới tính;Số CCCD\r\nTrần Văn Hai;03/04/1985;nam;001085000001\r\n\
               Phạm Thị Ba;31/02/1990;nữ;001090000002\r\nLê Thị Có;02/01/1980;nữ;\r\n";
    for side in ["stopped", "running"] {
        let w = dir.path().join(side);
        std::fs::create_dir(&w).unwrap();
        let out = Command::new("cp")
            .arg("-a")
            .arg(&data)
            .arg(w.join("cell"))
            .status()
            .unwrap();
        assert!(out.success());
        std::fs::write(w.join("members.csv"), csv).unwrap();
    }
    let short = &id[..8];
    let script: Vec<Vec<&str>> = vec![
        vec![
            "member",
            "add",
            "--name",
            "Nguyễn Văn An",
            "--dob",
            "1990-05-01",
            "--sex",
            "nam",
            "--phone",
            "0912345678",
        ],
        vec!["member", "search", "nguyen van an"],
        vec!["stats"],
        vec![
            "member",
            "edit",
            short,
            "--residence",
            "Số 1 Hàng Bài",
            "--event",
            "rating:2025-12-31:Hoàn thành tốt nhiệm vụ",
        ],
        vec!["member", "show", short],
        vec!["member", "history", short],
        vec!["member", "import", "--csv", "members.csv", "--dry-run"],
        vec!["member", "import", "--csv", "members.csv"],
        vec!["member", "list"],
        vec!["member", "export", "--format", "csv", "--out", "export.csv"],
        vec![
            "member",
            "export",
            "--format",
            "xlsx",
            "--out",
            "export.xlsx",
        ],
        vec!["member", "export-doc", short, "--out", "member.automerge"],
        vec!["trust", "add", "3T3FVVM-QDMDEZ4-VCSQ7H3"],
        vec!["trust", "list"],
        vec!["bundle", "export", "--out", "to-laptop.bundle"],
        vec!["bundle", "import", "to-laptop.bundle"],
        vec!["quarantine", "list"],
        vec!["verify"],
        vec!["credential", "show"],
        vec!["credential", "request", "--out", "request.txt"],
        vec!["id"],
        vec!["member", "show", short, "--json"],
        vec!["member", "show", "khong-co"],
        vec!["member", "add", "--name", "Sinh Sau", "--dob", "2990-01-01"],
    ];
    let run_all = |side: &str| -> Vec<(i32, String, String)> {
        let w = dir.path().join(side);
        script
            .iter()
            .map(|c| {
                let mut args: Vec<&str> = c.clone();
                args.extend(["--data", "cell"]);
                let mut cmd = command(&args);
                cmd.current_dir(&w);
                let o = run_command(cmd, &c.join(" "), Duration::from_secs(120));
                (o.code, normalise(&o.stdout), normalise(&o.stderr))
            })
            .collect()
    };
    let stopped = run_all("stopped");
    let (node, _) = start(&dir.path().join("running").join("cell"));
    let running = run_all("running");
    stop(node);
    for (c, (a, b)) in script.iter().zip(stopped.iter().zip(running.iter())) {
        assert_eq!(
            a,
            b,
            "`rollmesh {}` differs with the node running",
            c.join(" ")
        );
    }
    // The script did what it says (on both sides alike): a rejected row went beside the input, files
    // were written, and the impossible birth date was refused.
    let rejected =
        std::fs::read_to_string(dir.path().join("running").join("members.rejected.csv")).unwrap();
    assert!(rejected.contains("Phạm Thị Ba"), "{rejected}");
    for f in [
        "export.csv",
        "export.xlsx",
        "member.automerge",
        "to-laptop.bundle",
    ] {
        assert!(
            dir.path().join("running").join(f).exists(),
            "{f} not written"
        );
    }
    assert_ne!(stopped.last().unwrap().0, 0);
    assert!(
        stopped[7].1.contains("Đã nhập 1/3 dòng"),
        "{}",
        stopped[7].1
    );
}

/// An `.xlsx` written by the running node, read by an independent reader (Python's openpyxl, installed by
/// `.ci/run`): Vietnamese text, leading zeros and dates intact, a formula-like cell neutralised; the
/// workbook imports back through the running node as updates, and a bad row's rejected-rows file is
/// written beside the input.
#[test]
fn an_exported_workbook_reads_back_and_imports_through_the_running_node() {
    let (dir, data) = cell();
    let d = data.to_string_lossy().into_owned();
    let id = ok(&[
        "member",
        "add",
        "--data",
        &d,
        "--name",
        "Nguyễn Thị Ánh Tuyết",
        "--dob",
        "01/05/1990",
        "--phone",
        "0912345678",
        "--set",
        "citizen_id=001090012345",
        "--set",
        "current_residence==HYPERLINK(\"http://x\")",
        "--json",
    ])
    .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (node, _) = start(&data);
    let xlsx = dir.path().join("dang-vien.xlsx");
    ok(&[
        "member",
        "export",
        "--format",
        "xlsx",
        "--out",
        &xlsx.to_string_lossy(),
        "--data",
        &d,
    ]);
    let script = r#"
import json, sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
ws = wb.worksheets[0]
rows = list(ws.iter_rows())
head = [c.value for c in rows[0]]
row = {h: c for h, c in zip(head, rows[1])}
out = {
  "sheet": ws.title,
  "name": row["Họ và tên"].value,
  "citizen_id": row["Số CCCD"].value,
  "citizen_type": row["Số CCCD"].data_type,
  "phone": row["Điện thoại"].value,
  "dob": row["Ngày sinh"].value.strftime("%Y-%m-%d"),
  "dob_format": row["Ngày sinh"].number_format,
  "residence": row["Nơi ở hiện nay"].value,
  "residence_type": row["Nơi ở hiện nay"].data_type,
  "id": row["Mã"].value,
}
print(json.dumps(out, ensure_ascii=False))
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(&xlsx)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "openpyxl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["sheet"], "Đảng viên");
    assert_eq!(v["name"], "Nguyễn Thị Ánh Tuyết");
    assert_eq!(v["citizen_id"], "001090012345");
    assert_eq!(v["citizen_type"], "s");
    assert_eq!(v["phone"], "0912345678");
    assert_eq!(v["dob"], "1990-05-01");
    assert_eq!(v["dob_format"], "dd/mm/yyyy");
    assert_eq!(v["residence"], "'=HYPERLINK(\"http://x\")");
    assert_eq!(v["residence_type"], "s", "a formula cell was written");
    assert_eq!(v["id"], id.as_str());

    // The same workbook imports back through the running node: its id column names the member, who
    // already holds every value.
    let o = run(&[
        "member",
        "import",
        "--csv",
        &xlsx.to_string_lossy(),
        "--data",
        &d,
        "--json",
    ]);
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    let s: Value = serde_json::Deserializer::from_str(&o.stdout)
        .into_iter::<Value>()
        .filter_map(Result::ok)
        .last()
        .expect("a JSON summary");
    assert_eq!(s["imported"], 0, "{s}");
    assert_eq!(s["unchanged"], 1, "{s}");
    let rec = ok(&["member", "show", &id, "--json", "--data", &d]).json();
    assert_eq!(rec["current_residence"], "=HYPERLINK(\"http://x\")");

    // A CSV with a bad row, imported while the node runs: the rejected rows land beside the input.
    let csv = dir.path().join("moi.csv");
    std::fs::write(
        &csv,
        "STT;Họ tên;Ngày sinh\r\n1;Lê Văn Mới;02/03/1991\r\n2;Phạm Thị Sai;31/02/1990\r\n",
    )
    .unwrap();
    let o = run(&[
        "member",
        "import",
        "--csv",
        &csv.to_string_lossy(),
        "--data",
        &d,
    ]);
    assert_eq!(o.code, 3, "{}\n{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("dòng 3"), "{}", o.stdout);
    let rejected = std::fs::read_to_string(dir.path().join("moi.rejected.csv")).unwrap();
    assert!(rejected.contains("Phạm Thị Sai"), "{rejected}");
    assert!(!rejected.contains("Lê Văn Mới"), "{rejected}");
    stop(node);
}

/// Beyond this machine only with TLS: a non-loopback address without a certificate is refused at start;
/// with one, the API answers HTTPS (checked by Python's ssl against the certificate) while the CLI keeps
/// working through the plain loopback listener.
#[test]
fn the_api_listens_beyond_loopback_only_with_tls() {
    let (_dir, data) = cell();
    let toml = data.join("node.toml");
    let base = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(&toml, format!("{base}\n[api]\nlisten = \"0.0.0.0:0\"\n")).unwrap();
    let o = run_with_limit(
        &["run", "--config", &toml.to_string_lossy()],
        Duration::from_secs(30),
    );
    assert_ne!(o.code, 0, "started without TLS on 0.0.0.0");
    assert!(o.stderr.contains("TLS"), "{}", o.stderr);
    assert!(!data.join("api.addr").exists());

    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
        .expect("certificate");
    std::fs::write(data.join("api.crt"), cert.cert.pem()).unwrap();
    std::fs::write(data.join("api.key"), cert.key_pair.serialize_pem()).unwrap();
    std::fs::write(
        &toml,
        format!("{base}\n[api]\nlisten = \"127.0.0.1:0\"\ntls_cert = \"api.crt\"\ntls_key = \"api.key\"\n"),
    )
    .unwrap();
    let (node, plain) = start(&data);
    assert!(plain.starts_with("http://127.0.0.1:"), "{plain}");
    // The HTTPS address is in the node's log.
    let deadline = Instant::now() + Duration::from_secs(20);
    let https = loop {
        let log = std::fs::read_to_string(data.join("node.log")).unwrap_or_default();
        if let Some(i) = log.find("https://127.0.0.1:") {
            let rest = &log[i..];
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '"')
                .unwrap_or(rest.len());
            break rest[..end].trim_end_matches('/').to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no https address in the log:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let port = https.rsplit(':').next().unwrap().to_string();
    let script = r#"
import ssl, sys, http.client
ctx = ssl.create_default_context(cafile=sys.argv[1])
c = http.client.HTTPSConnection("127.0.0.1", int(sys.argv[2]), context=ctx, timeout=20)
c.request("GET", "/api/openapi.json")
r = c.getresponse()
print(r.status)
c = http.client.HTTPSConnection("127.0.0.1", int(sys.argv[2]), context=ctx, timeout=20)
c.request("GET", "/api/members")
print(c.getresponse().status)
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(data.join("api.crt"))
        .arg(&port)
        .output()
        .expect("python3");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .collect::<Vec<_>>(),
        vec!["200", "401"],
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The CLI on this machine still works (plain loopback listener).
    let o = ok(&[
        "member",
        "add",
        "--data",
        &data.to_string_lossy(),
        "--name",
        "Nguyễn Văn An",
    ]);
    assert!(o.stdout.contains("Nguyễn Văn An"));
    stop(node);
}
