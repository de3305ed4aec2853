//! `member import`: a 10,000-row CSV with three malformed rows imports 9,997, reports the three by line
//! number and exits 3; `--dry-run` writes nothing.

mod support;

use std::fmt::Write as _;

use support::{arg, init, members, ok, run};

const FAMILY: [&str; 8] = [
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Vũ", "Đặng",
];
const MIDDLE: [&str; 4] = ["Văn", "Thị", "Minh", "Đức"];
const GIVEN: [&str; 8] = [
    "An", "Bình", "Cường", "Dung", "Hằng", "Khánh", "Lan", "Phúc",
];

/// Writes `n` rows (plus the header on line 1); the rows at the given 0-based indexes are malformed, each
/// in a different way. Row i sits on line i + 2.
pub fn write_csv(path: &std::path::Path, n: usize, bad: &[usize]) {
    let mut s = String::from("dossier_no,full_name,dob,sex,phone,sector\n");
    for i in 0..n {
        let name = format!(
            "{} {} {}",
            FAMILY[i % 8],
            MIDDLE[(i / 8) % 4],
            GIVEN[(i / 32) % 8]
        );
        let row = match bad.iter().position(|b| *b == i) {
            Some(0) => format!("LL{i:06},{name},1990-13-40,nam,0912345678,teacher"),
            Some(1) => format!("LL{i:06},,1990-01-01,nữ,,student"),
            Some(_) => format!("LL{i:06},{name},1990-01-01,không rõ,,worker"),
            None => format!(
                "LL{i:06},{name},{:04}-{:02}-{:02},{},09{:08},{}",
                1950 + i % 50,
                1 + i % 12,
                1 + i % 28,
                if i % 2 == 0 { "nam" } else { "nữ" },
                i,
                ["teacher", "lecturer", "student", "worker"][i % 4]
            ),
        };
        let _ = writeln!(s, "{row}");
    }
    std::fs::write(path, s).expect("write csv");
}

#[test]
fn ten_thousand_rows_three_bad() {
    let dir = tempfile::tempdir().expect("tmp");
    let (data, _) = init(dir.path(), "D", "hn.d01.w01.c01");
    let csv = arg(dir.path(), "members.csv");
    write_csv(std::path::Path::new(&csv), 10_000, &[17, 4_321, 9_998]);

    let dry = run(&[
        "member",
        "import",
        "--csv",
        &csv,
        "--dry-run",
        "--data",
        &data,
        "--json",
    ]);
    assert_eq!(dry.code, 3, "{}", dry.stderr);
    let summary: serde_json::Value = serde_json::from_str(dry.stdout.lines().last().unwrap_or(""))
        .or_else(|_| serde_json::from_str(&dry.stdout))
        .expect("summary json");
    assert_eq!(summary["valid"], 9_997);
    assert_eq!(summary["imported"], 0);
    assert!(members(&data).is_empty(), "--dry-run wrote members");
    let v = ok(&["verify", "--data", &data, "--json"]).json();
    assert_eq!(v["changes"], 0, "--dry-run wrote changes");

    let o = run(&["member", "import", "--csv", &csv, "--data", &data]);
    assert_eq!(o.code, 3, "{}\n{}", o.stdout, o.stderr);
    for line in [19, 4_323, 10_000] {
        assert!(
            o.stdout.contains(&format!("dòng {line}: bị từ chối")),
            "line {line} not reported:\n{}",
            o.stdout
                .lines()
                .rev()
                .take(8)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    assert!(o.stdout.contains("Đã nhập 9997/10000 dòng"), "{}", o.stdout);
    let list = members(&data);
    assert_eq!(list.len(), 9_997);
    let numbers: std::collections::HashSet<&str> = list
        .iter()
        .filter_map(|m| m["dossier_no"].as_str())
        .collect();
    assert!(
        !numbers.contains("LL000017")
            && !numbers.contains("LL004321")
            && !numbers.contains("LL009998")
    );
    assert!(numbers.contains("LL000000") && numbers.contains("LL009999"));
    assert_eq!(
        ok(&["verify", "--data", &data, "--json"]).json()["clean"],
        true
    );
}

#[test]
fn a_bad_header_refuses_the_whole_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let (data, _) = init(dir.path(), "D", "hn.d01.w01.c01");
    let csv = arg(dir.path(), "bad.csv");
    std::fs::write(&csv, "full_name,shoe_size\nNguyễn Văn An,42\n").expect("write");
    let o = run(&["member", "import", "--csv", &csv, "--data", &data]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("shoe_size"), "{}", o.stderr);
    assert!(members(&data).is_empty());
}
