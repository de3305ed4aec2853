//! kill -9 during `member import` (a real subprocess): after restart `verify` is clean and every row the
//! import reported as committed is present.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::{arg, command, init, members, ok, ChildGuard};

#[test]
fn kill_minus_nine_loses_nothing_committed() {
    let dir = tempfile::tempdir().expect("tmp");
    let (data, _) = init(dir.path(), "D", "hn.d01.w01.c01");
    let csv = arg(dir.path(), "big.csv");
    let mut s = String::from("dossier_no,full_name,dob\n");
    for i in 0..40_000 {
        s.push_str(&format!("KN{i:06},Nguyễn Thị Số {i},1980-01-01\n"));
    }
    std::fs::write(&csv, s).expect("write");

    let mut cmd = command(&[
        "member", "import", "--csv", &csv, "--data", &data, "--json", "--batch", "100",
    ]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    let mut guard = ChildGuard(Some(cmd.spawn().expect("spawn")));
    let child = guard.0.as_mut().expect("child");
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut committed_lines: Vec<(u64, u64)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    for line in stdout.lines() {
        let line = line.expect("read");
        let v: serde_json::Value = serde_json::from_str(&line).expect("json line");
        if v["event"] == "committed" {
            committed_lines.push((
                v["first_line"].as_u64().expect("first"),
                v["last_line"].as_u64().expect("last"),
            ));
        }
        // Kill part-way, at an arbitrary moment after several durable commits.
        if committed_lines.len() >= 7 || Instant::now() > deadline {
            break;
        }
    }
    child.kill().expect("kill -9"); // SIGKILL on Unix
    let status = child.wait().expect("wait");
    guard.0 = None;
    assert!(
        !status.success(),
        "the import finished before it could be killed"
    );
    assert!(
        committed_lines.len() >= 7,
        "import reported too few commits: {committed_lines:?}"
    );

    let v = ok(&["verify", "--data", &data, "--json"]).json();
    assert_eq!(v["clean"], true, "{v}");
    let present: std::collections::HashSet<String> = members(&data)
        .iter()
        .filter_map(|m| m["dossier_no"].as_str().map(str::to_string))
        .collect();
    for (first, last) in committed_lines {
        for line in first..=last {
            // Line L holds row L - 2.
            let no = format!("KN{:06}", line - 2);
            assert!(
                present.contains(&no),
                "committed row on line {line} ({no}) is missing"
            );
        }
    }
    assert!(present.len() < 40_000, "import was not interrupted");
    // The node keeps working after the crash.
    ok(&["member", "add", "--data", &data, "--name", "Lê Văn Sau"]);
    assert_eq!(
        ok(&["verify", "--data", &data, "--json"]).json()["clean"],
        true
    );
}
