//! A deterministic synthetic organisation: 1 city, 30 districts, ~20 wards each, ~20 cells each, ~40
//! members per cell (about 480,000 members), with realistic Vietnamese data. Same seed, same bytes: the
//! generator uses ChaCha8 explicitly and no clock.
//!
//! Family names follow their approximate national shares (Nguyễn ~38 %, Trần ~11 %, Lê ~9.5 %, …); middle
//! and given names depend on sex; dates of birth, admission and confirmation agree with each other and with
//! the status; sectors include lecturers, teachers and students; districts 13–30 are rural (huyện), the
//! others urban (quận); a few percent of members are probationary, exempted or temporarily away.

use std::io::Write;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The shape of the organisation.
#[derive(Clone, Debug)]
pub struct Shape {
    /// Districts under the city.
    pub districts: usize,
    /// Mean wards per district (±25 %).
    pub wards: usize,
    /// Mean cells per ward (±25 %).
    pub cells: usize,
    /// Mean members per cell (±25 %).
    pub members: usize,
}

impl Shape {
    /// The design card's full size (~480k members).
    pub fn full() -> Shape {
        Shape {
            districts: 30,
            wards: 20,
            cells: 20,
            members: 40,
        }
    }

    /// A shape with about `n` members: fewer districts first, then fewer wards.
    pub fn about(n: usize) -> Shape {
        let full = Shape::full();
        let per_district = full.wards * full.cells * full.members;
        if n >= per_district {
            Shape {
                districts: n.div_ceil(per_district).min(99),
                ..full
            }
        } else {
            let per_ward = full.cells * full.members;
            Shape {
                districts: 1,
                wards: n.div_ceil(per_ward).max(1),
                ..full
            }
        }
    }
}

/// One generated cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cell {
    /// Its unit path.
    pub path: String,
    /// Rural or urban.
    pub rural: bool,
    /// How many members it has.
    pub members: usize,
}

const FAMILY: [(&str, u32); 22] = [
    ("Nguyễn", 380),
    ("Trần", 110),
    ("Lê", 95),
    ("Phạm", 70),
    ("Hoàng", 36),
    ("Huỳnh", 15),
    ("Phan", 45),
    ("Vũ", 28),
    ("Võ", 11),
    ("Đặng", 21),
    ("Bùi", 20),
    ("Đỗ", 14),
    ("Hồ", 13),
    ("Ngô", 13),
    ("Dương", 10),
    ("Lý", 5),
    ("Đinh", 8),
    ("Trịnh", 7),
    ("Đào", 6),
    ("Mai", 5),
    ("Lương", 4),
    ("Cao", 4),
];
const MIDDLE_M: [&str; 10] = [
    "Văn", "Đức", "Minh", "Quang", "Hữu", "Ngọc", "Thành", "Công", "Xuân", "Mạnh",
];
const MIDDLE_F: [&str; 9] = [
    "Thị", "Ngọc", "Thu", "Thanh", "Minh", "Hồng", "Kim", "Phương", "Thùy",
];
const GIVEN_M: [&str; 24] = [
    "An", "Bình", "Cường", "Dũng", "Dương", "Hải", "Hiếu", "Hùng", "Huy", "Khánh", "Khoa", "Long",
    "Minh", "Nam", "Phong", "Phúc", "Quân", "Sơn", "Thắng", "Thành", "Trung", "Tuấn", "Việt",
    "Vinh",
];
const GIVEN_F: [&str; 25] = [
    "Anh", "Chi", "Dung", "Giang", "Hà", "Hằng", "Hạnh", "Hoa", "Hương", "Huyền", "Lan", "Liên",
    "Linh", "Loan", "Mai", "My", "Ngọc", "Nhung", "Oanh", "Phương", "Quỳnh", "Thảo", "Trang",
    "Vân", "Yến",
];
const URBAN_SECTORS: [(&str, u32); 10] = [
    ("civil_servant", 24),
    ("teacher", 10),
    ("lecturer", 5),
    ("student", 5),
    ("worker", 9),
    ("business", 9),
    ("armed_forces", 3),
    ("retired", 25),
    ("other", 8),
    ("farmer", 2),
];
const RURAL_SECTORS: [(&str, u32); 10] = [
    ("farmer", 34),
    ("civil_servant", 12),
    ("teacher", 9),
    ("lecturer", 1),
    ("student", 3),
    ("worker", 10),
    ("business", 4),
    ("armed_forces", 2),
    ("retired", 22),
    ("other", 3),
];
const PROVINCES: [&str; 12] = [
    "Hà Nội",
    "Nam Định",
    "Thái Bình",
    "Hà Nam",
    "Ninh Bình",
    "Hải Dương",
    "Hưng Yên",
    "Bắc Ninh",
    "Thanh Hóa",
    "Nghệ An",
    "Phú Thọ",
    "Vĩnh Phúc",
];

fn weighted<'a>(rng: &mut ChaCha8Rng, table: &[(&'a str, u32)]) -> &'a str {
    let total: u32 = table.iter().map(|(_, w)| w).sum();
    let mut x = rng.gen_range(0..total);
    for (v, w) in table {
        if x < *w {
            return v;
        }
        x -= w;
    }
    table[0].0
}

fn around(rng: &mut ChaCha8Rng, mean: usize) -> usize {
    let spread = (mean / 4).max(1);
    rng.gen_range(mean.saturating_sub(spread).max(1)..=mean + spread)
}

/// The cells of the organisation, in path order.
pub fn cells(seed: u64, shape: &Shape) -> Vec<Cell> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::new();
    for d in 1..=shape.districts {
        let rural = d > 12;
        for w in 1..=around(&mut rng, shape.wards) {
            for c in 1..=around(&mut rng, shape.cells) {
                out.push(Cell {
                    path: format!("hn.d{d:02}.w{w:02}.c{c:03}"),
                    rural,
                    members: around(&mut rng, shape.members),
                });
            }
        }
    }
    out
}

/// The CSV header (field keys understood by `rollmesh member import`).
pub const HEADER: &str = "dossier_no,card_no,citizen_id,full_name,sex,dob,birth_place,hometown,current_residence,ethnicity,religion,sector,workplace,edu_general,edu_political,admission_date,official_date,unit,status,phone";

/// Writes the members as CSV; returns how many. Deterministic for a seed and shape.
pub fn write_csv(seed: u64, shape: &Shape, mut out: impl Write) -> std::io::Result<usize> {
    writeln!(out, "{HEADER}")?;
    let mut n = 0;
    for (ci, cell) in cells(seed, shape).iter().enumerate() {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ ((ci as u64 + 1) << 20));
        for k in 0..cell.members {
            n += 1;
            let female = rng.gen_bool(0.38);
            let family = weighted(&mut rng, &FAMILY);
            let (middle, given) = if female {
                (
                    MIDDLE_F[rng.gen_range(0..MIDDLE_F.len())],
                    GIVEN_F[rng.gen_range(0..GIVEN_F.len())],
                )
            } else {
                (
                    MIDDLE_M[rng.gen_range(0..MIDDLE_M.len())],
                    GIVEN_M[rng.gen_range(0..GIVEN_M.len())],
                )
            };
            let sector = weighted(
                &mut rng,
                if cell.rural {
                    &RURAL_SECTORS
                } else {
                    &URBAN_SECTORS
                },
            );
            let age: i32 = match sector {
                "student" => rng.gen_range(20..25),
                "retired" => rng.gen_range(60..90),
                _ => rng.gen_range(23..60),
            };
            let birth_year = 2026 - age;
            let (bm, bd) = (rng.gen_range(1..=12), rng.gen_range(1..=28));
            let roll = rng.gen_range(0..100);
            let status = match (roll, age) {
                (0..=2, _) => "probationary",
                (3..=4, a) if a >= 70 => "exempted",
                (5, _) => "temporarily_away",
                _ => "official",
            };
            // Admission at 18 or later; probationary members were admitted within the last year.
            // Every age here is at least 20, so an admission at 18 or later fits before 2025.
            let admission_year = if status == "probationary" {
                2025
            } else {
                rng.gen_range(birth_year + 18..=2024)
            };
            let (am, ad) = (rng.gen_range(1..=12), rng.gen_range(1..=28));
            let official = if status == "probationary" {
                String::new()
            } else {
                format!("{}-{am:02}-{ad:02}", admission_year + 1)
            };
            let province = PROVINCES[rng.gen_range(0..PROVINCES.len())];
            let ethnicity = weighted(
                &mut rng,
                &[
                    ("Kinh", 960),
                    ("Mường", 20),
                    ("Tày", 10),
                    ("Dao", 5),
                    ("Thái", 5),
                ],
            );
            let religion = weighted(
                &mut rng,
                &[("Không", 900), ("Phật giáo", 70), ("Công giáo", 30)],
            );
            let workplace = match sector {
                "teacher" => "Trường THCS",
                "lecturer" => "Đại học Quốc gia Hà Nội",
                "student" => "Trường Đại học Bách khoa Hà Nội",
                "civil_servant" => "UBND phường",
                "farmer" => "Hợp tác xã nông nghiệp",
                "worker" => "Công ty TNHH",
                "business" => "Công ty cổ phần",
                "armed_forces" => "Bộ Tư lệnh Thủ đô",
                _ => "",
            };
            let political = weighted(
                &mut rng,
                &[("Sơ cấp", 60), ("Trung cấp", 30), ("Cao cấp", 10)],
            );
            writeln!(
                out,
                "LL{n:07},{card},{cid:012},{family} {middle} {given},{sex},{birth_year}-{bm:02}-{bd:02},{province},{province},\"Tổ {tổ}, {unit}\",{ethnicity},{religion},{sector},{workplace},12/12,{political},{admission_year}-{am:02}-{ad:02},{official},{unit},{status},09{phone:08}",
                card = 10_000_000 + n,
                cid = 1_000_000_000u64 + (seed % 1000) * 1_000_000_000 + n as u64,
                sex = if female { "female" } else { "male" },
                tổ = k % 30 + 1,
                unit = cell.path,
                phone = rng.gen_range(0..100_000_000u32),
            )?;
        }
    }
    Ok(n)
}

/// A year of cell ledgers, as each cell's clerk records it: every month one change with the regular
/// meeting (early in the month), its attendance and the month's dues sheet; in the last month of each
/// quarter the thematic meeting with its attendance; in December the year's ratings. Attendance: 95 %
/// present, 3 % absent with an accepted reason, 2 % absent without; dues: 97 % paid (one amount per
/// member for the year, 20,000–100,000 đồng; 85 % at the regular meeting, 12 % on another day of the
/// month), 2 % unpaid with an accepted reason, 1 % unpaid without; ratings 15 % / 60 %
/// / 22 % / 3 % from excellent down. Same seed and cells, same edits.
pub fn year_of_ledgers(
    seed: u64,
    cells: &std::collections::BTreeMap<rollmesh_model::UnitPath, Vec<rollmesh_model::MemberId>>,
    year: i32,
) -> Vec<(rollmesh_model::UnitPath, i32, rollmesh_model::LedgerEdit)> {
    use chrono::NaiveDate;
    use rollmesh_model::ledger::{Attendance, Dues, LedgerEdit, MeetingKey, MeetingKind, Rating};
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x1ed6e5);
    let mut out = Vec::new();
    let day = |m: u32, d: u32| NaiveDate::from_ymd_opt(year, m, d).unwrap_or(NaiveDate::MIN);
    for (cell, members) in cells {
        // Dues are a share of each member's income or pension, so one amount for the year; most pay
        // at the month's regular meeting, the rest on another day of the month.
        let amounts: Vec<u64> = members
            .iter()
            .map(|_| rng.gen_range(2..=10) * 10_000)
            .collect();
        for month in 1..=12u32 {
            let mut e = LedgerEdit::new();
            let mut meetings = vec![(
                MeetingKey::new(day(month, rng.gen_range(3..=12)), MeetingKind::Regular),
                "Sinh hoạt thường kỳ",
            )];
            if month % 3 == 0 {
                meetings.push((
                    MeetingKey::new(day(month, rng.gen_range(15..=25)), MeetingKind::Thematic),
                    "Sinh hoạt chuyên đề: học tập và làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh",
                ));
            }
            for (key, topic) in &meetings {
                e.record_meeting(*key, topic);
                for m in members {
                    let r: u32 = rng.gen_range(0..100);
                    let a = match r {
                        0..=94 => Attendance::Present,
                        95..=97 => Attendance::Absent {
                            reason: Some("Ốm".into()),
                            accepted: true,
                        },
                        _ => Attendance::Absent {
                            reason: None,
                            accepted: false,
                        },
                    };
                    e.set_attendance(*key, *m, a);
                }
            }
            let meeting_day = meetings[0].0.date;
            for (m, amount) in members.iter().zip(&amounts) {
                let r: u32 = rng.gen_range(0..100);
                let d = match r {
                    0..=84 => Dues::Paid {
                        amount: *amount,
                        date: meeting_day,
                    },
                    85..=96 => Dues::Paid {
                        amount: *amount,
                        date: day(month, rng.gen_range(1..=28)),
                    },
                    97..=98 => Dues::Unpaid {
                        reason: Some("Khó khăn, xin hoãn".into()),
                        accepted: true,
                    },
                    _ => Dues::Unpaid {
                        reason: None,
                        accepted: false,
                    },
                };
                e.set_dues(*m, month, d);
            }
            if month == 12 {
                for m in members {
                    let r: u32 = rng.gen_range(0..100);
                    let rating = match r {
                        0..=14 => Rating::Excellent,
                        15..=74 => Rating::Good,
                        75..=96 => Rating::Completed,
                        _ => Rating::NotCompleted,
                    };
                    e.set_rating(*m, rating);
                }
            }
            out.push((cell.clone(), year, e));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn small() -> Shape {
        Shape {
            districts: 2,
            wards: 2,
            cells: 2,
            members: 5,
        }
    }

    #[test]
    fn same_seed_same_bytes() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        write_csv(7, &small(), &mut a).expect("write");
        write_csv(7, &small(), &mut b).expect("write");
        assert_eq!(a, b);
        let mut c = Vec::new();
        write_csv(8, &small(), &mut c).expect("write");
        assert_ne!(a, c);
        // The golden hash pins the generator: any change to its output must be deliberate.
        let hex: String = Sha256::digest(&a)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect();
        assert_eq!(hex, GOLDEN, "the generator's output changed");
    }

    const GOLDEN: &str = "128131b8469b85046979c2eaaaaa043e8ac64894e6c453af85d416f91ea137dd";

    #[test]
    fn full_shape_is_hanoi_sized_and_realistic() {
        let cells = cells(1, &Shape::full());
        let total: usize = cells.iter().map(|c| c.members).sum();
        assert!((440_000..=520_000).contains(&total), "{total}");
        let mut buf = Vec::new();
        let shape = Shape {
            districts: 2,
            wards: 5,
            cells: 5,
            members: 40,
        };
        let n = write_csv(1, &shape, &mut buf).expect("write");
        let text = String::from_utf8(buf).expect("utf8");
        let nguyen = text.lines().filter(|l| l.contains(",Nguyễn ")).count();
        assert!(
            (n * 30 / 100..n * 46 / 100).contains(&nguyen),
            "{nguyen} of {n}"
        );
        for s in ["lecturer", "teacher", "student", "probationary"] {
            assert!(text.contains(s), "{s}");
        }
    }
}
