//! `member import`: a 10,000-row CSV with three malformed rows imports 9,997, reports the three by line
//! number and exits 3; `--dry-run` writes nothing. Files as a clerk's Excel writes them (Windows-1258,
//! semicolons, an `STT` column, CRLF) import; refused rows and duplicates go to a rejected-rows file that
//! imports again once fixed; `member export` imports back as a no-op, its cells safe from formulas.

mod support;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use support::{arg, init, members, ok, run, Output};

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

/// The text of `n` rows as [`write_csv`] writes them: the header, then row i at index i + 1.
fn csv_lines(n: usize, bad: &[usize]) -> Vec<String> {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("x.csv");
    write_csv(&p, n, bad);
    std::fs::read_to_string(&p)
        .expect("read")
        .lines()
        .map(str::to_string)
        .collect()
}

/// Vietnamese text in Windows-1258 as Excel on Windows saves it: letters with their vowel shape
/// precomposed where the code page has them, tone marks as separate combining characters.
fn cp1258(s: &str) -> Vec<u8> {
    use unicode_normalization::UnicodeNormalization;
    let mut table = HashMap::new();
    for b in 0u8..=255 {
        let one = [b];
        let (t, _, _) = encoding_rs::WINDOWS_1258.decode(&one);
        if let Some(c) = t.chars().next() {
            table.entry(c).or_insert(b);
        }
    }
    let byte = |c: char| {
        *table
            .get(&c)
            .unwrap_or_else(|| panic!("{c:?} not in cp1258"))
    };
    let mut out = Vec::new();
    for c in s.chars() {
        if let Some(b) = table.get(&c) {
            out.push(*b);
            continue;
        }
        let parts: Vec<char> = c.to_string().nfd().collect();
        let (tones, shape): (Vec<char>, Vec<char>) = parts[1..]
            .iter()
            .partition(|m| matches!(m, '\u{300}' | '\u{301}' | '\u{303}' | '\u{309}' | '\u{323}'));
        let base: String = std::iter::once(parts[0])
            .chain(shape)
            .collect::<String>()
            .nfc()
            .collect();
        for ch in base.chars().chain(tones) {
            out.push(byte(ch));
        }
    }
    out
}

/// The JSON values a command printed (progress events, then the summary), in order.
fn json_stream(o: &Output) -> Vec<serde_json::Value> {
    serde_json::Deserializer::from_str(&o.stdout)
        .into_iter::<serde_json::Value>()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", o.stdout, o.stderr))
}

fn summary(o: &Output) -> serde_json::Value {
    json_stream(o).pop().expect("a summary")
}

/// A CSV file written for Excel: checks and strips the UTF-8 BOM, returns every record (header first).
fn read_excel_csv(path: &Path, delimiter: u8) -> Vec<Vec<String>> {
    let bytes = std::fs::read(path).expect("read csv");
    let body = bytes
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or_else(|| panic!("{} has no UTF-8 BOM", path.display()));
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(body)
        .records()
        .map(|r| r.expect("record").iter().map(str::to_string).collect())
        .collect()
}

fn write_excel_csv(path: &Path, rows: &[Vec<String>], delimiter: u8) {
    let mut buf = b"\xEF\xBB\xBF".to_vec();
    {
        let mut w = csv::WriterBuilder::new()
            .flexible(true)
            .delimiter(delimiter)
            .from_writer(&mut buf);
        for r in rows {
            w.write_record(r).expect("write");
        }
        w.flush().expect("flush");
    }
    std::fs::write(path, buf).expect("write csv");
}

fn changes(data: &str) -> u64 {
    ok(&["verify", "--data", data, "--json"]).json()["changes"]
        .as_u64()
        .expect("changes")
}

#[test]
fn semicolon_windows_1258_with_stt_imports() {
    let dir = tempfile::tempdir().expect("tmp");
    let (data, _) = init(dir.path(), "D", "hn.d01.w01.c01");
    let csv = arg(dir.path(), "excel.csv");
    let text = "STT;Họ tên;Ngày sinh;Giới tính;Lĩnh vực;Trạng thái;\r\n\
                1;Nguyễn Thị Hường;01/05/1990;Nữ;Giáo viên;Chính thức;\r\n\
                2;Trần Văn Đức;12/11/1985;Nam;Công nhân;Dự bị;\r\n\
                3;Lê Thị Ánh Tuyết;31/12/1979;nữ;Nghỉ hưu;Miễn sinh hoạt;\r\n";
    let bytes = cp1258(text);
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the file must not be UTF-8"
    );
    std::fs::write(&csv, &bytes).expect("write");

    let o = run(&["member", "import", "--csv", &csv, "--data", &data]);
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("Đã nhập 3/3 dòng"), "{}", o.stdout);
    assert!(
        !Path::new(&arg(dir.path(), "excel.rejected.csv")).exists(),
        "no rejected-rows file when nothing is rejected"
    );
    let list = members(&data);
    let by_name: HashMap<&str, &serde_json::Value> = list
        .iter()
        .filter_map(|m| Some((m["full_name"].as_str()?, m)))
        .collect();
    // Stored NFC, byte for byte what a UTF-8 keyboard types.
    let h = by_name.get("Nguyễn Thị Hường").expect("stored NFC");
    assert_eq!(h["dob"], "1990-05-01");
    assert_eq!(h["sex"], "female");
    assert_eq!(h["sector"], "teacher");
    let d = by_name.get("Trần Văn Đức").expect("second member");
    assert_eq!(d["status"], "probationary");
    assert_eq!(
        by_name.get("Lê Thị Ánh Tuyết").expect("third")["status"],
        "exempted"
    );
    let found = ok(&[
        "member",
        "search",
        "--data",
        &data,
        "nguyen thi huong",
        "--json",
    ])
    .json();
    assert_eq!(found.as_array().map(Vec::len), Some(1));
}

#[test]
fn crlf_line_numbers_count_quoted_newlines() {
    let dir = tempfile::tempdir().expect("tmp");
    let (data, _) = init(dir.path(), "D", "hn.d01.w01.c01");
    let csv = arg(dir.path(), "crlf.csv");
    // Line 1 header; 2–3 a good row with a quoted line break; 4 bad; 5 empty; 6–7 good; 8 bad.
    let text = "Họ và tên,Ngày sinh,Nơi ở hiện nay\r\n\
                Nguyễn Văn An,1990-05-01,\"Số 1\r\nHàng Bài\"\r\n\
                Trần Thị Bình,1991-13-01,\r\n\
                \r\n\
                \"Lê Văn\r\nCường\",1985-01-01,\r\n\
                Phạm Thị Dung,không rõ,\r\n";
    std::fs::write(&csv, text).expect("write");
    let o = run(&["member", "import", "--csv", &csv, "--data", &data]);
    assert_eq!(o.code, 3, "{}\n{}", o.stdout, o.stderr);
    let refused: Vec<&str> = o
        .stdout
        .lines()
        .filter(|l| l.contains("bị từ chối:"))
        .collect();
    assert_eq!(refused.len(), 2, "{}", o.stdout);
    assert!(refused[0].contains("dòng 4:"), "{}", o.stdout);
    assert!(refused[1].contains("dòng 8:"), "{}", o.stdout);
    assert!(o.stdout.contains("Đã nhập 2/4 dòng"), "{}", o.stdout);
    assert_eq!(members(&data).len(), 2);
    // The rejected-rows file holds both rows, each with its reason, in the input's layout.
    let rejected = read_excel_csv(&dir.path().join("crlf.rejected.csv"), b',');
    assert_eq!(rejected[0][0], "Lý do");
    assert_eq!(
        rejected[0][1..],
        ["Họ và tên", "Ngày sinh", "Nơi ở hiện nay"]
    );
    assert_eq!(rejected.len(), 3, "{rejected:?}");
    assert_eq!(rejected[1][1..], ["Trần Thị Bình", "1991-13-01", ""]);
    assert!(rejected[1][0].contains("Ngày sinh"), "{:?}", rejected[1]);
    assert_eq!(rejected[2][1], "Phạm Thị Dung");
}

#[test]
fn rejected_rows_file_then_fixed_reimport() {
    let dir = tempfile::tempdir().expect("tmp");
    let (data, _) = init(dir.path(), "D", "hn.d01.w01.c01");
    // A member already on the roll, whom row 500 repeats by dossier number.
    let existing = ok(&[
        "member",
        "add",
        "--data",
        &data,
        "--name",
        "Trần Văn Cũ",
        "--dossier-no",
        "LL000500",
        "--json",
    ])
    .json()["id"]
        .as_str()
        .expect("id")
        .to_string();
    // 10,000 rows: three malformed (rows 17, 4,321, 9,998), row 500 repeats the member above and row
    // 9,000 repeats row 100 (line 102) by dossier number.
    let mut lines = csv_lines(10_000, &[17, 4_321, 9_998]);
    lines[9_001] = lines[9_001].replace("LL009000", "LL000100");
    let csv = dir.path().join("members.csv");
    std::fs::write(&csv, lines.join("\n") + "\n").expect("write");
    let csv = csv.to_string_lossy().into_owned();

    let o = run(&["member", "import", "--csv", &csv, "--data", &data, "--json"]);
    assert_eq!(o.code, 3, "{}", o.stderr);
    let s = summary(&o);
    assert_eq!(s["imported"], 9_995, "{s}");
    assert_eq!(s["duplicates"], 2, "{s}");
    let refused = s["rejected"].as_array().expect("rejected");
    let at: Vec<u64> = refused.iter().filter_map(|r| r["line"].as_u64()).collect();
    assert_eq!(at, vec![19, 502, 4_323, 9_002, 10_000]);
    assert_eq!(refused[1]["duplicate_of"], existing.as_str());
    assert_eq!(refused[3]["duplicate_of_line"], 102);
    let rejected_path = dir.path().join("members.rejected.csv");
    assert_eq!(
        s["rejected_file"].as_str(),
        Some(rejected_path.to_string_lossy().as_ref())
    );
    assert_eq!(members(&data).len(), 9_996);

    // The file: the reason, then the original header and each refused row's cells unchanged.
    let mut rows = read_excel_csv(&rejected_path, b',');
    assert_eq!(rows.len(), 1 + 5);
    assert_eq!(rows[0].join(","), format!("Lý do,{}", lines[0]));
    for (row, line) in rows[1..].iter().zip([19usize, 502, 4_323, 9_002, 10_000]) {
        assert_eq!(row[1..].join(","), lines[line - 1], "line {line}");
    }
    assert!(rows[2][0].contains(&existing), "{:?}", rows[2]);
    assert!(rows[4][0].contains("dòng 102"), "{:?}", rows[4]);

    // The clerk fixes the three malformed rows (not the duplicates) and imports the file again.
    for row in rows.iter_mut().skip(1) {
        match row[1].as_str() {
            "LL000017" => row[3] = "17/03/1990".into(),
            "LL004321" => row[2] = "Lê Thị Sửa".into(),
            "LL009998" => row[4] = "Nữ".into(),
            _ => {}
        }
    }
    write_excel_csv(&rejected_path, &rows, b',');
    let again = rejected_path.to_string_lossy().into_owned();
    let o = run(&["member", "import", "--csv", &again, "--data", &data]);
    assert_eq!(o.code, 3, "{}\n{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("Đã nhập 3/5 dòng"), "{}", o.stdout);
    assert!(o.stdout.contains("2 dòng trùng"), "{}", o.stdout);
    let list = members(&data);
    assert_eq!(list.len(), 9_999);
    let numbers: std::collections::HashSet<&str> = list
        .iter()
        .filter_map(|m| m["dossier_no"].as_str())
        .collect();
    for no in ["LL000017", "LL004321", "LL009998"] {
        assert!(numbers.contains(no), "{no} not imported");
    }
    let still = read_excel_csv(&dir.path().join("members.rejected.rejected.csv"), b',');
    assert_eq!(still.len(), 1 + 2, "the two duplicates stay refused");

    // Re-running the whole original file (as after an interruption) adds nothing twice.
    let o = run(&["member", "import", "--csv", &csv, "--data", &data, "--json"]);
    assert_eq!(o.code, 3);
    let s = summary(&o);
    assert_eq!(s["imported"], 0, "{s}");
    assert_eq!(s["duplicates"], 10_000 - 3, "{s}");
    assert_eq!(members(&data).len(), 9_999);
}

/// A cell of an exported CSV: the record whose `id` column is `id`, at the column named `header`.
fn cell<'a>(rows: &'a [Vec<String>], id: &str, header: &str) -> &'a str {
    let col = rows[0]
        .iter()
        .position(|h| h == header)
        .unwrap_or_else(|| panic!("no column {header}: {:?}", rows[0]));
    let row = rows
        .iter()
        .find(|r| r[0] == id)
        .unwrap_or_else(|| panic!("no row {id}"));
    &row[col]
}

fn add(data: &str, args: &[&str]) -> String {
    let mut all = vec!["member", "add", "--data", data, "--json"];
    all.extend_from_slice(args);
    ok(&all).json()["id"].as_str().expect("id").to_string()
}

#[test]
fn export_then_import_is_a_no_op_update() {
    let dir = tempfile::tempdir().expect("tmp");
    let (data, _) = init(dir.path(), "D", "hn.d01.w01.c01");
    let an = add(
        &data,
        &[
            "--name",
            "Nguyễn Văn An",
            "--dob",
            "1990-05-01",
            "--sex",
            "nam",
            "--phone",
            "0912345678",
            "--sector",
            "teacher",
            "--status",
            "probationary",
            "--citizen-id",
            "001090000001",
            "--admission-date",
            "2020-01-02",
        ],
    );
    let binh = add(
        &data,
        &[
            "--name",
            "Trần Thị Bình",
            "--sex",
            "nữ",
            "--phone",
            "+84987654321",
            "--residence",
            "Số 5, ngõ 12 Huế",
            "--sector",
            "civil_servant",
        ],
    );
    let before = changes(&data);

    let out = dir.path().join("export.csv");
    let out_s = out.to_string_lossy().into_owned();
    ok(&["member", "export", "--data", &data, "--out", &out_s]);
    let rows = read_excel_csv(&out, b',');
    assert_eq!(rows[0][0], "Mã");
    assert_eq!(cell(&rows, &an, "Ngày sinh"), "01/05/1990");
    assert_eq!(cell(&rows, &an, "Ngày vào Đảng"), "02/01/2020");
    assert_eq!(cell(&rows, &an, "Giới tính"), "Nam");
    assert_eq!(cell(&rows, &an, "Lĩnh vực"), "Giáo viên");
    assert_eq!(cell(&rows, &an, "Trạng thái"), "Dự bị");
    assert_eq!(cell(&rows, &binh, "Giới tính"), "Nữ");
    assert_eq!(cell(&rows, &binh, "Lĩnh vực"), "Công chức viên chức");
    assert_eq!(cell(&rows, &binh, "Điện thoại"), "'+84987654321");

    // Importing the export changes nothing and adds no one.
    let o = run(&["member", "import", "--csv", &out_s, "--data", &data]);
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("Đã nhập 0/2 dòng"), "{}", o.stdout);
    assert!(
        o.stdout
            .contains("Đã cập nhật 0 đảng viên; 2 dòng không có gì thay đổi"),
        "{}",
        o.stdout
    );
    assert_eq!(members(&data).len(), 2);
    assert_eq!(changes(&data), before, "a no-op import signed changes");

    // The machine form round-trips the same way.
    let keys = dir.path().join("keys.csv");
    let keys_s = keys.to_string_lossy().into_owned();
    ok(&[
        "member", "export", "--keys", "--data", &data, "--out", &keys_s,
    ]);
    let text = std::fs::read_to_string(&keys).expect("read");
    assert!(
        text.starts_with("id,dossier_no,card_no,citizen_id,full_name"),
        "{text}"
    );
    assert!(text.contains(",1990-05-01,"), "{text}");
    let o = run(&[
        "member", "import", "--csv", &keys_s, "--data", &data, "--json",
    ]);
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    let s = summary(&o);
    assert_eq!(
        (s["imported"].as_u64(), s["unchanged"].as_u64()),
        (Some(0), Some(2))
    );
    assert_eq!(changes(&data), before);

    // An edited export updates the member through a signed edit; an unknown id is refused.
    let mut edited = rows.clone();
    let phone = edited[0]
        .iter()
        .position(|h| h == "Điện thoại")
        .expect("phone");
    for r in edited.iter_mut().filter(|r| r[0] == an) {
        r[phone] = "0911111111".into();
    }
    let mut stranger = edited[1].clone();
    stranger[0] = "a".repeat(26);
    edited.push(stranger);
    write_excel_csv(&out, &edited, b';');
    let o = run(&["member", "import", "--csv", &out_s, "--data", &data]);
    assert_eq!(o.code, 3, "{}\n{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("Đã cập nhật 1 đảng viên"), "{}", o.stdout);
    assert!(
        o.stdout.contains("không có đảng viên mã aaaa"),
        "{}",
        o.stdout
    );
    assert_eq!(changes(&data), before + 1);
    let shown = ok(&["member", "show", &an, "--data", &data, "--json"]).json();
    assert_eq!(shown["phone"], "0911111111");
    assert_eq!(shown["dob"], "1990-05-01");
    assert_eq!(members(&data).len(), 2);
    let rejected = read_excel_csv(&dir.path().join("export.rejected.csv"), b';');
    assert_eq!(rejected.len(), 2, "{rejected:?}");
}

#[test]
fn export_neutralises_formula_cells() {
    let dir = tempfile::tempdir().expect("tmp");
    let (data, _) = init(dir.path(), "D", "hn.d01.w01.c01");
    let id = add(
        &data,
        &[
            "--name",
            "=HYPERLINK(\"http://example.invalid\",\"Xem\")",
            "--workplace",
            "+cmd|' /C calc'!A0",
            "--residence=-2+3",
            "--set",
            "other_names=@SUM(A1:A9)",
        ],
    );
    for keys in [false, true] {
        let out = dir.path().join(format!("formula-{keys}.csv"));
        let out_s = out.to_string_lossy().into_owned();
        let mut args = vec!["member", "export", "--data", &data, "--out", &out_s];
        if keys {
            args.push("--keys");
        }
        ok(&args);
        let bytes = std::fs::read(&out).expect("read");
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
        let rows: Vec<Vec<String>> = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(body)
            .records()
            .map(|r| r.expect("record").iter().map(str::to_string).collect())
            .collect();
        let row = rows.iter().find(|r| r[0] == id).expect("row");
        for c in row {
            assert!(
                !c.starts_with(['=', '+', '-', '@']),
                "a cell Excel would run: {c:?} (keys: {keys})"
            );
        }
        for v in [
            "'=HYPERLINK(\"http://example.invalid\",\"Xem\")",
            "'+cmd|' /C calc'!A0",
            "'-2+3",
            "'@SUM(A1:A9)",
        ] {
            assert!(row.iter().any(|c| c == v), "{v} missing from {row:?}");
        }
        // And the import reads the original values back: nothing to change.
        let before = changes(&data);
        let o = run(&[
            "member", "import", "--csv", &out_s, "--data", &data, "--json",
        ]);
        assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
        assert_eq!(summary(&o)["unchanged"], 1);
        assert_eq!(changes(&data), before);
    }
    let shown = ok(&["member", "show", &id, "--data", &data, "--json"]).json();
    assert_eq!(shown["current_residence"], "-2+3");
}
