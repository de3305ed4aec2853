//! Helpers for scenario tests: run the real `rollmesh` binary with a time limit, and make sure every
//! process a test starts is killed even when the test fails.

#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rollmesh"))
}

/// What a finished command printed.
#[derive(Debug)]
pub struct Output {
    /// Exit code (-1 if killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Output {
    /// Parses stdout as JSON, failing the test with both streams shown if it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Kills the child when dropped, so a failing test leaves nothing running.
pub struct ChildGuard(pub Option<Child>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A `rollmesh` command with a clean environment (Vietnamese messages unless the test asks otherwise).
pub fn command(args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.args(args)
        .env_remove("ROLLMESH_LANG")
        .env_remove("ROLLMESH_DATA")
        .stdin(Stdio::null());
    c
}

/// Runs `rollmesh args…` to completion within `limit`.
pub fn run_with_limit(args: &[&str], limit: Duration) -> Output {
    run_command(command(args), &format!("rollmesh {args:?}"), limit)
}

/// Runs a prepared command to completion within `limit` (killing it on failure); `what` names it in
/// the panic message.
pub fn run_command(mut cmd: Command, what: &str, limit: Duration) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut guard = ChildGuard(Some(cmd.spawn().expect("spawn")));
    let child = guard.0.as_mut().expect("child");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if Instant::now() > deadline {
            panic!("{what} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    guard.0 = None;
    Output {
        code: status.code().unwrap_or(-1),
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    }
}

/// Runs `rollmesh args…` with a two-minute limit.
pub fn run(args: &[&str]) -> Output {
    run_with_limit(args, Duration::from_secs(120))
}

/// Runs and requires exit code 0.
pub fn ok(args: &[&str]) -> Output {
    let o = run(args);
    assert_eq!(
        o.code, 0,
        "rollmesh {args:?} failed:\nstdout:\n{}\nstderr:\n{}",
        o.stdout, o.stderr
    );
    o
}

/// A path inside a directory, as a string argument.
pub fn arg(dir: &Path, name: &str) -> String {
    dir.join(name).to_string_lossy().into_owned()
}

/// Initialises a node for `unit` in `dir/name` and returns (data dir, node id).
pub fn init(dir: &Path, name: &str, unit: &str) -> (String, String) {
    let data = arg(dir, name);
    let o = ok(&["init", "--unit", unit, "--data", &data, "--json"]);
    let id = o.json()["node_id"].as_str().expect("node id").to_string();
    (data, id)
}

/// The members a node lists, as JSON objects.
pub fn members(data: &str) -> Vec<serde_json::Value> {
    ok(&["member", "list", "--data", data, "--json"])
        .json()
        .as_array()
        .expect("array")
        .clone()
}

/// Starts `rollmesh run` for the data directory `data` (its node.toml), logging to `data/node.log`.
pub fn spawn_node(data: &Path) -> ChildGuard {
    let log = std::fs::File::create(data.join("node.log")).expect("log file");
    let child = Command::new(bin())
        .args(["run", "--config"])
        .arg(data.join("node.toml"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn rollmesh run");
    ChildGuard(Some(child))
}

/// Serialises tests that start whole meshes: a dozen QUIC processes each is what two cores can run at once
/// without their timing becoming the test.
pub fn mesh_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}
