//! Dues and ratings sheets over a real node: what is written, what is refused and why.

use chrono::NaiveDate;
use rollmesh_model::ledger::{Dues, Rating};

use crate::testkit::{cp1258, fields, u, Org, C1, C2, WARD};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

#[test]
fn a_months_dues_sheet_writes_each_cells_ledger_and_refuses_bad_rows_by_line() {
    let org = Org::new();
    let ward = org.open(WARD);
    let an = ward
        .add_member(fields("Nguyễn Văn An", C1), vec![])
        .expect("an");
    let binh = ward
        .add_member(fields("Trần Thị Bình", C2), vec![])
        .expect("binh");
    let chi = ward
        .add_member(fields("Lê Văn Chí", C1), vec![])
        .expect("chi");
    let csv = format!(
        "\u{feff}STT,Mã,Họ và tên,Số tiền,Ngày đóng,Lý do,Chấp nhận\r\n\
         1,{an},Nguyễn Văn An,30.000,05/03/2025,,\r\n\
         2,{binh},Trần Thị Bình,,,Đi công tác,có\r\n\
         3,{chi},Lê Văn Chí,30000,,,\r\n\
         4,{chi},Nguyễn Văn An,30000,,,\r\n\
         5,zzzzzz,Không Ai,30000,,,\r\n\
         6,{an},Nguyễn Văn An,ba mươi nghìn,,,\r\n\
         7,{an},Nguyễn Văn An,40000,,,\r\n\
         ,,,,,,\r\n"
    );
    let r = ward
        .dues_sheet(csv.as_bytes(), 2025, 3, d(2025, 3, 31), None)
        .expect("sheet");
    assert_eq!(r.rows, 3);
    let lines: Vec<u64> = r.bad.iter().map(|b| b.line).collect();
    assert_eq!(lines, vec![5, 6, 7, 8], "{:?}", r.bad);
    assert!(r.bad[3].reason.contains("dòng 2"), "{}", r.bad[3].reason);
    assert!(
        r.bad[0].reason.contains("Lê Văn Chí"),
        "{}",
        r.bad[0].reason
    );
    assert!(r.bad[1].reason.contains("zzzzzz"), "{}", r.bad[1].reason);
    assert!(r.bad[2].reason.contains("số tiền"), "{}", r.bad[2].reason);
    assert_eq!(
        ward.apply_sheet(&r).expect("apply"),
        2,
        "two cells' ledgers"
    );
    let c1 = ward.ledger(&u(C1), 2025).expect("c1").read();
    assert_eq!(
        c1.dues[&an.to_string()][&3],
        Dues::Paid {
            amount: 30_000,
            date: d(2025, 3, 5)
        }
    );
    assert_eq!(
        c1.dues[&chi.to_string()][&3],
        Dues::Paid {
            amount: 30_000,
            date: d(2025, 3, 31)
        },
        "no day given: the default day"
    );
    let c2 = ward.ledger(&u(C2), 2025).expect("c2").read();
    assert_eq!(
        c2.dues[&binh.to_string()][&3],
        Dues::Unpaid {
            reason: Some("Đi công tác".into()),
            accepted: true
        }
    );
    // The same sheet again changes nothing.
    assert_eq!(ward.apply_sheet(&r).expect("again"), 0);
}

#[test]
fn a_ratings_sheet_in_the_vietnamese_code_page_reads_the_clerks_words() {
    let org = Org::new();
    let c1 = org.open(C1);
    let an = c1
        .add_member(fields("Nguyễn Văn An", C1), vec![])
        .expect("an");
    let binh = c1
        .add_member(fields("Trần Thị Bình", C1), vec![])
        .expect("binh");
    let text = format!(
        "Mã;Họ tên;Xếp loại\r\n{an};Nguyễn Văn An;Hoàn thành tốt nhiệm vụ\r\n\
         {binh};Trần Thị Bình;Không hoàn thành nhiệm vụ\r\n{an};Nguyễn Văn An;giỏi\r\n"
    );
    let r = c1.ratings_sheet(&cp1258(&text), 2025).expect("sheet");
    assert_eq!(r.rows, 2);
    assert_eq!(r.bad.len(), 1);
    assert_eq!(r.bad[0].line, 4);
    c1.apply_sheet(&r).expect("apply");
    let l = c1.ledger(&u(C1), 2025).expect("ledger").read();
    assert_eq!(l.ratings[&an.to_string()], Rating::Good);
    assert_eq!(l.ratings[&binh.to_string()], Rating::NotCompleted);
}

#[test]
fn a_sheet_with_an_unknown_column_is_refused_whole() {
    let org = Org::new();
    let c1 = org.open(C1);
    let e = c1
        .dues_sheet(b"Ma,So tien,Mau sac\n", 2025, 1, d(2025, 1, 31), None)
        .expect_err("refused");
    assert!(e.to_string().contains("Mau sac"), "{e}");
}
