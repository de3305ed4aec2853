//! A data directory holds member dossiers and the node's secret key: whatever the umask of the shell that
//! created it, nobody but its owner may read, list or change anything in it, and opening an older data
//! directory tightens what it finds.

#![cfg(unix)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{arg, bin, ok, run_command};

const LIMIT: Duration = Duration::from_secs(120);

/// Runs `rollmesh args…` through `sh` with umask 000, within [`LIMIT`]; returns the exit code and output.
fn run_umask_000(args: &[&str]) -> (i32, String) {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(r#"umask 000; exec "$0" "$@""#)
        .arg(bin())
        .args(args)
        .env_remove("ROLLMESH_LANG")
        .env_remove("ROLLMESH_DATA")
        .stdin(Stdio::null());
    let o = run_command(cmd, &format!("rollmesh {args:?}"), LIMIT);
    (
        o.code,
        format!("stdout:\n{}\nstderr:\n{}", o.stdout, o.stderr),
    )
}

/// Every path under `root` (itself included) with its permission bits.
fn modes(root: &Path) -> Vec<(PathBuf, u32)> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(p) = todo.pop() {
        let meta = std::fs::symlink_metadata(&p).expect("metadata");
        out.push((p.clone(), meta.permissions().mode() & 0o7777));
        if meta.is_dir() {
            for e in std::fs::read_dir(&p).expect("read dir") {
                todo.push(e.expect("entry").path());
            }
        }
    }
    out
}

/// Fails naming every path that group or others may read, write or enter.
fn assert_private(root: &Path) {
    let all = modes(root);
    let open: Vec<String> = all
        .iter()
        .filter(|(_, m)| m & 0o077 != 0)
        .map(|(p, m)| format!("{:o} {}", m, p.display()))
        .collect();
    assert!(
        open.is_empty(),
        "group/other permission bits under {}:\n{}",
        root.display(),
        open.join("\n")
    );
    // The store was looked at too, not only the top of the directory.
    assert!(
        all.iter().any(|(p, _)| p.ends_with("store/conf")),
        "{all:?}"
    );
}

#[test]
fn a_data_directory_is_private_whatever_the_umask() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = arg(dir.path(), "nested/cell");
    let (code, text) = run_umask_000(&["init", "--unit", "hn.d01.w01.c01", "--data", &data]);
    assert_eq!(code, 0, "{text}");
    assert_private(Path::new(&data));
    // A command that writes to the store keeps it so.
    let (code, text) =
        run_umask_000(&["member", "add", "--data", &data, "--name", "Nguyễn Văn An"]);
    assert_eq!(code, 0, "{text}");
    assert_private(Path::new(&data));

    // A whole organisation bootstrapped with umask 000: the root key's folder and every node's too.
    let org = arg(dir.path(), "org");
    let (code, text) = run_umask_000(&["org", "bootstrap", "--out", &org]);
    assert_eq!(code, 0, "{text}");
    let open: Vec<String> = modes(Path::new(&org))
        .into_iter()
        .filter(|(_, m)| m & 0o077 != 0)
        .map(|(p, m)| format!("{:o} {}", m, p.display()))
        .collect();
    assert!(open.is_empty(), "{}", open.join("\n"));
}

#[test]
fn opening_a_data_directory_tightens_an_older_one() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = arg(dir.path(), "cell");
    ok(&["init", "--unit", "hn.d01.w01.c01", "--data", &data]);
    // As a version that followed the umask (here 000) left it.
    for (p, _) in modes(Path::new(&data)) {
        let meta = std::fs::symlink_metadata(&p).expect("metadata");
        let mode = if meta.is_dir() { 0o777 } else { 0o666 };
        if p.ends_with("node.key") {
            continue;
        }
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    ok(&["member", "list", "--data", &data]);
    assert_private(Path::new(&data));
}
