//! Tests of the CSV reader: encodings, separators, headers, line numbers, duplicates and cells.

use super::*;

fn unit() -> UnitPath {
    UnitPath::parse("hn.d01.w01.c01").expect("unit")
}

use crate::testkit::cp1258;

#[test]
fn good_and_bad_rows_with_line_numbers() {
    let csv = "Họ và tên,dob,sex,phone\n\
               Nguyễn Văn An,1990-05-01,nam,0912345678\n\
               Trần Thị Bình,31/02/1991,nữ,\n\
               Lê Văn Cường,1985-01-01,male\n\
               ,1980-01-01,male,\n\
               \"Phạm Thị\nDung\",1970-07-07,female,\n\
               Hoàng Văn Em,1999-09-09,x,\n";
    let p = parse(csv.as_bytes(), &unit(), &unit()).expect("parse");
    let good: Vec<u64> = p.good.iter().map(|r| r.line).collect();
    let bad: Vec<u64> = p.bad.iter().map(|r| r.line).collect();
    assert_eq!(good, vec![2, 6]);
    assert_eq!(bad, vec![3, 4, 5, 8]);
    assert!(p.bad[0].reason.contains("dob"), "{}", p.bad[0].reason);
    assert_eq!(p.bad[0].values[1], "31/02/1991");
    assert_eq!(p.good[0].fields[&Field::Sex], "male");
    assert_eq!(p.good[0].fields[&Field::Unit], "hn.d01.w01.c01");
}

#[test]
fn crlf_and_quoted_newlines_keep_line_numbers() {
    let csv = "full_name,dob,current_residence\r\n\
               Nguyễn Văn An,1990-05-01,\"Số 1\r\nHàng Bài\"\r\n\
               Trần Thị Bình,1991-13-01,\r\n\
               \r\n\
               \"Lê\r\nVăn\r\nCường\",1985-01-01,x\r\n\
               Phạm Thị Dung,1970-07-07,\"a\nb\"\r\n\
               Hoàng Văn Em,bad,\r\n";
    let p = parse(csv.as_bytes(), &unit(), &unit()).expect("parse");
    let good: Vec<u64> = p.good.iter().map(|r| r.line).collect();
    let bad: Vec<u64> = p.bad.iter().map(|r| r.line).collect();
    assert_eq!(good, vec![2, 6, 9]);
    assert_eq!(bad, vec![4, 11]);
    assert_eq!(
        p.good[0].fields[&Field::CurrentResidence],
        "Số 1 Hàng Bài",
        "a quoted newline is white space in a field"
    );
    // Old Mac files end lines with a lone carriage return.
    let cr = "full_name,dob\rA,1990-01-01\r\rB,bad\rC,1990-01-01\r";
    let p = parse(cr.as_bytes(), &unit(), &unit()).expect("parse");
    let good: Vec<u64> = p.good.iter().map(|r| r.line).collect();
    assert_eq!(good, vec![2, 5]);
    assert_eq!(p.bad[0].line, 4);
}

#[test]
fn windows_1258_semicolons_and_ignored_columns() {
    let text = "STT;Họ tên;Ngày sinh;Giới tính;;Lĩnh vực\r\n\
                1;Nguyễn Thị Hường;01/05/1990;Nữ;;Giáo viên\r\n\
                2;Trần Văn Đức;1985-13-01;Nam;;\r\n";
    let bytes = cp1258(text);
    assert!(std::str::from_utf8(&bytes).is_err(), "not UTF-8 any more");
    assert_eq!(
        detect_encoding(&bytes[..]).expect("detect"),
        Encoding::Windows1258
    );
    let reader = Reader::new(&bytes[..], Encoding::Windows1258, &unit(), &unit()).expect("header");
    assert_eq!(reader.delimiter(), b';');
    let p = parse(&bytes, &unit(), &unit()).expect("parse");
    assert_eq!(p.good.len(), 1, "{:?}", p.bad);
    let name = &p.good[0].fields[&Field::FullName];
    assert_eq!(name, "Nguyễn Thị Hường");
    assert_eq!(name.as_bytes(), "Nguyễn Thị Hường".as_bytes(), "stored NFC");
    assert_eq!(p.good[0].fields[&Field::Sex], "female");
    assert_eq!(p.good[0].fields[&Field::Sector], "teacher");
    assert_eq!(p.bad[0].line, 3);
}

#[test]
fn utf8_bom_and_utf16_are_read() {
    let text = "Họ và Tên\tNgày sinh\nNguyễn Văn An\t01/05/1990\n";
    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend_from_slice(text.as_bytes());
    let mut utf16 = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        utf16.extend_from_slice(&u.to_le_bytes());
    }
    for (bytes, enc) in [(bom, Encoding::Utf8Bom), (utf16, Encoding::Utf16Le)] {
        assert_eq!(detect_encoding(&bytes[..]).expect("detect"), enc);
        let p = parse(&bytes, &unit(), &unit()).expect("parse");
        assert!(p.bad.is_empty(), "{enc:?}: {:?}", p.bad);
        assert_eq!(p.good[0].fields[&Field::DateOfBirth], "1990-05-01");
    }
}

#[test]
fn detection_survives_characters_cut_by_chunks() {
    // Multi-byte characters straddling every 64 KiB boundary stay UTF-8.
    let text = "Nguyễn Văn Ất\n".repeat(20_000);
    assert_eq!(
        detect_encoding(text.as_bytes()).expect("detect"),
        Encoding::Utf8
    );
    let mut broken = text.into_bytes();
    let last = broken.len() - 3;
    broken[last] = 0xC3;
    assert_eq!(
        detect_encoding(&broken[..]).expect("detect"),
        Encoding::Windows1258
    );
}

#[test]
fn header_variants_and_keys() {
    for h in [
        "Họ tên",
        "Họ và tên",
        "Họ và Tên",
        "HO TEN",
        "full_name",
        "name",
    ] {
        assert_eq!(column(h), Some(Column::Field(Field::FullName)), "{h}");
    }
    assert_eq!(
        column("Ngày sinh (dd/mm/yyyy)"),
        Some(Column::Field(Field::DateOfBirth))
    );
    assert_eq!(
        column("Học hàm học vị"),
        Some(Column::Field(Field::AcademicTitle))
    );
    for h in ["STT", "TT", "Số TT", "", "  ", "Lý do", "Reason"] {
        assert_eq!(column(h), Some(Column::Ignore), "{h:?}");
    }
    for h in ["id", "Mã", "ID"] {
        assert_eq!(column(h), Some(Column::Id), "{h}");
    }
    assert_eq!(column("shoe_size"), None);
}

#[test]
fn refuses_unknown_columns_and_out_of_scope_units() {
    assert!(matches!(
        parse("full_name,shoe\nA,1\n".as_bytes(), &unit(), &unit()),
        Err(CsvError::UnknownColumn(_))
    ));
    assert!(matches!(
        parse("Họ tên,full_name\nA,A\n".as_bytes(), &unit(), &unit()),
        Err(CsvError::DuplicateColumn(_))
    ));
    let p = parse(
        "full_name,unit\nA,hn.d01.w01.c01\nB,hn.d02.w01.c01\n".as_bytes(),
        &unit(),
        &unit(),
    )
    .expect("parse");
    assert_eq!(p.good.len(), 1);
    assert_eq!(p.bad[0].line, 3);
}

#[test]
fn duplicates_by_id_fields_then_name_and_dob() {
    let mut fields = BTreeMap::new();
    fields.insert(Field::FullName, "Nguyễn Văn An".to_string());
    fields.insert(Field::DateOfBirth, "1990-05-01".to_string());
    fields.insert(Field::CitizenId, "001090000001".to_string());
    fields.insert(Field::Unit, "hn.d01.w01.c01".to_string());
    let existing = MemberId::new(1, [7; 10]);
    let mut index = DupIndex::new();
    index.add_member(&MemberRecord {
        id: existing,
        fields,
        events: Vec::new(),
        conflicted: Vec::new(),
    });
    let csv = "full_name,dob,citizen_id,dossier_no\n\
               Nguyen Van An,01/05/1990,,\n\
               Nguyễn Văn An,01/05/1990,001090000002,\n\
               Trần Thị Bình,1991-01-01,001090000001,\n\
               Lê Văn Cường,1985-01-01,,LL1\n\
               Lê Văn Cường (2),1985-01-01,,ll 1\n\
               Phạm Thị Dung,1970-07-07,,\n\
               Phạm Thị Dung,1970-07-07,,\n";
    let mut reader = Reader::new(csv.as_bytes(), Encoding::Utf8, &unit(), &unit())
        .expect("header")
        .with_index(index);
    let mut good = Vec::new();
    let mut dups = Vec::new();
    while let Some(r) = reader.next_row() {
        match r {
            Ok(r) => good.push(r.line),
            Err(b) => dups.push((b.line, b.duplicate.expect("a duplicate"))),
        }
    }
    // Line 3 has the same name and birth date but another citizen id: a namesake, not a duplicate.
    assert_eq!(good, vec![3, 5, 7]);
    let m = Origin::Member(existing);
    assert_eq!(
        dups,
        vec![
            (
                2,
                Duplicate {
                    of: m,
                    by: MatchKey::NameAndDob
                }
            ),
            (
                4,
                Duplicate {
                    of: m,
                    by: MatchKey::CitizenId
                }
            ),
            (
                6,
                Duplicate {
                    of: Origin::Line(5),
                    by: MatchKey::DossierNo
                }
            ),
            (
                8,
                Duplicate {
                    of: Origin::Line(7),
                    by: MatchKey::NameAndDob
                }
            ),
        ]
    );
}

#[test]
fn id_column_updates_known_members_only() {
    let known = MemberId::new(1, [1; 10]);
    let other = MemberId::new(2, [2; 10]);
    let mut index = DupIndex::new();
    let mut fields = BTreeMap::new();
    fields.insert(Field::FullName, "Nguyễn Văn An".to_string());
    fields.insert(Field::CitizenId, "001090000001".to_string());
    index.add_member(&MemberRecord {
        id: known,
        fields,
        events: Vec::new(),
        conflicted: Vec::new(),
    });
    let csv = format!(
        "Mã,Họ và tên,Số CCCD,Điện thoại\n\
         {known},Nguyễn Văn An,001090000001,'+84912345678\n\
         {other},Trần Thị Bình,,\n\
         {known},Nguyễn Văn An,,\n\
         xyz,A,,\n"
    );
    let mut reader = Reader::new(csv.as_bytes(), Encoding::Utf8, &unit(), &unit())
        .expect("header")
        .with_index(index);
    let first = reader.next_row().expect("row").expect("good");
    assert_eq!(first.id, Some(known));
    assert_eq!(first.fields[&Field::Phone], "+84912345678");
    assert!(
        !first.fields.contains_key(&Field::Unit),
        "an update keeps the member's unit"
    );
    let unknown = reader.next_row().expect("row").expect_err("unknown id");
    assert_eq!(unknown.line, 3);
    let twice = reader.next_row().expect("row").expect_err("same id twice");
    assert_eq!(twice.duplicate.map(|d| d.of), Some(Origin::Line(2)));
    let garbled = reader.next_row().expect("row").expect_err("bad id");
    assert_eq!(garbled.values[0], "xyz");
    assert!(reader.next_row().is_none());
}

#[test]
fn formula_cells_are_neutralised_and_restored() {
    for s in ["=HYPERLINK(\"x\")", "+84912", "-1", "@SUM(A1)", "\tx"] {
        let n = neutralise(s);
        assert!(n.starts_with('\''), "{s}");
        assert_eq!(strip_neutraliser(&n), s);
    }
    assert_eq!(neutralise("Nguyễn"), "Nguyễn");
    assert_eq!(strip_neutraliser("'abc"), "'abc");
}

#[test]
fn display_cells_read_back_to_the_stored_value() {
    for (f, v) in [
        (Field::DateOfBirth, "1990-05-01"),
        (Field::Sex, "female"),
        (Field::Status, "temporarily_away"),
        (Field::Sector, "civil_servant"),
        (Field::Unit, "hn.d01.w01.c01"),
    ] {
        let shown = display_cell(f, v);
        assert_eq!(f.normalize(&shown).as_deref(), Ok(v), "{shown}");
    }
    assert_eq!(display_cell(Field::DateOfBirth, "1990-05-01"), "01/05/1990");
    assert_eq!(display_cell(Field::Sector, "lecturer"), "Giảng viên");
}

#[test]
fn with_the_citys_tree_a_row_must_name_a_cell_of_it() {
    let tree = std::sync::Arc::new(
        rollmesh_model::OrgTree::from_toml(crate::org::DEMO_TREE).expect("tree"),
    );
    let csv = "Họ và tên,Chi bộ sinh hoạt\n\
               Nguyễn Văn An,hn.d01.w01.c01\n\
               Trần Thị Bình,hn.d01.w01\n\
               Lê Văn Cường,hn.d01.w01.c99\n";
    let hn = UnitPath::parse("hn").expect("unit");
    let mut r = Reader::new(csv.as_bytes(), Encoding::Utf8, &hn, &hn)
        .expect("reader")
        .with_tree(Some(tree));
    let mut good = Vec::new();
    let mut bad = Vec::new();
    while let Some(row) = r.next_row() {
        match row {
            Ok(g) => good.push(g.line),
            Err(b) => bad.push((b.line, b.reason)),
        }
    }
    assert_eq!(good, vec![2]);
    assert_eq!(bad.len(), 2, "{bad:?}");
    assert!(bad[0].1.contains("cấp dưới"), "{bad:?}");
    assert!(bad[1].1.contains("không có trong cây"), "{bad:?}");
}
