//! The stored plain view of a ledger (`B`), compactly: member ids once in a table and referred to by
//! index, dates as day numbers, codes as enum tags. The plain `Ledger` type repeats every 26-character
//! member id in each meeting's attendance and in the dues; a cell's year would cost about 700 bytes per
//! member that way, against about 150 here.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use rollmesh_model::ledger::{Attendance, Dues, HelpRecord, Ledger, Meeting, MeetingKind, Rating};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub(crate) struct CompactLedger {
    cell: String,
    year: i32,
    members: Vec<String>,
    meetings: Vec<CompactMeeting>,
    dues: Vec<(u32, Vec<(u8, CompactDues)>)>,
    ratings: Vec<(u32, Rating)>,
    help: Vec<CompactHelp>,
}

#[derive(Serialize, Deserialize)]
struct CompactMeeting {
    date: i32,
    kind: MeetingKind,
    topic: String,
    attendance: Vec<(u32, Attendance)>,
}

#[derive(Serialize, Deserialize)]
enum CompactDues {
    Paid {
        amount: u64,
        date: i32,
    },
    Unpaid {
        reason: Option<String>,
        accepted: bool,
    },
}

#[derive(Serialize, Deserialize)]
struct CompactHelp {
    member: u32,
    start: Option<i32>,
    end: Option<i32>,
    notes: Vec<(i32, String)>,
}

fn day(d: NaiveDate) -> i32 {
    d.num_days_from_ce()
}

fn date(n: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(n)
}

fn opt_date(n: Option<i32>) -> Option<Option<NaiveDate>> {
    match n {
        Some(n) => date(n).map(Some),
        None => Some(None),
    }
}

/// The stored bytes of `l`'s plain view: the compact form, DEFLATE-compressed.
pub(crate) fn encode(l: &Ledger) -> Result<Vec<u8>, postcard::Error> {
    use std::io::Write;
    let plain = postcard::to_allocvec(&CompactLedger::from_ledger(l))?;
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    let _ = z.write_all(&plain);
    Ok(z.finish().unwrap_or_default())
}

/// The plain view stored as [`encode`] wrote it; `None` when the bytes are damaged (the caller
/// rebuilds the view from the document). A view inflating past `limit` bytes is damaged too.
pub(crate) fn decode(bytes: &[u8]) -> Option<Ledger> {
    use std::io::Read;
    const LIMIT: u64 = 64 << 20;
    let mut plain = Vec::new();
    flate2::read::DeflateDecoder::new(bytes)
        .take(LIMIT)
        .read_to_end(&mut plain)
        .ok()?;
    postcard::from_bytes::<CompactLedger>(&plain)
        .ok()
        .and_then(CompactLedger::into_ledger)
}

impl CompactLedger {
    pub(crate) fn from_ledger(l: &Ledger) -> CompactLedger {
        let mut members: Vec<String> = Vec::new();
        let mut index: BTreeMap<String, u32> = BTreeMap::new();
        for id in l.member_ids() {
            if !index.contains_key(id) {
                index.insert(id.clone(), members.len() as u32);
                members.push(id.clone());
            }
        }
        let at = |id: &String| index.get(id).copied().unwrap_or(0);
        CompactLedger {
            cell: l.cell.clone(),
            year: l.year,
            meetings: l
                .meetings
                .iter()
                .map(|m| CompactMeeting {
                    date: day(m.date),
                    kind: m.kind,
                    topic: m.topic.clone(),
                    attendance: m
                        .attendance
                        .iter()
                        .map(|(id, a)| (at(id), a.clone()))
                        .collect(),
                })
                .collect(),
            dues: l
                .dues
                .iter()
                .map(|(id, months)| {
                    let months = months
                        .iter()
                        .map(|(m, d)| {
                            let d = match d {
                                Dues::Paid { amount, date } => CompactDues::Paid {
                                    amount: *amount,
                                    date: day(*date),
                                },
                                Dues::Unpaid { reason, accepted } => CompactDues::Unpaid {
                                    reason: reason.clone(),
                                    accepted: *accepted,
                                },
                            };
                            (*m as u8, d)
                        })
                        .collect();
                    (at(id), months)
                })
                .collect(),
            ratings: l.ratings.iter().map(|(id, r)| (at(id), *r)).collect(),
            help: l
                .help
                .iter()
                .map(|(id, h)| CompactHelp {
                    member: at(id),
                    start: h.start.map(day),
                    end: h.end.map(day),
                    notes: h.notes.iter().map(|(d, n)| (day(*d), n.clone())).collect(),
                })
                .collect(),
            members,
        }
    }

    /// The plain view; `None` if an index or a day number is out of range (a damaged value).
    pub(crate) fn into_ledger(self) -> Option<Ledger> {
        let members = self.members;
        let id = |i: u32| members.get(i as usize).cloned();
        let mut meetings = Vec::with_capacity(self.meetings.len());
        for m in self.meetings {
            let mut attendance = BTreeMap::new();
            for (i, a) in m.attendance {
                attendance.insert(id(i)?, a);
            }
            meetings.push(Meeting {
                date: date(m.date)?,
                kind: m.kind,
                topic: m.topic,
                attendance,
            });
        }
        let mut dues = BTreeMap::new();
        for (i, months) in self.dues {
            let mut out = BTreeMap::new();
            for (m, d) in months {
                let d = match d {
                    CompactDues::Paid { amount, date: n } => Dues::Paid {
                        amount,
                        date: date(n)?,
                    },
                    CompactDues::Unpaid { reason, accepted } => Dues::Unpaid { reason, accepted },
                };
                out.insert(u32::from(m), d);
            }
            dues.insert(id(i)?, out);
        }
        let mut ratings = BTreeMap::new();
        for (i, r) in self.ratings {
            ratings.insert(id(i)?, r);
        }
        let mut help = BTreeMap::new();
        for h in self.help {
            let mut rec = HelpRecord {
                start: opt_date(h.start)?,
                end: opt_date(h.end)?,
                notes: BTreeMap::new(),
            };
            for (n, text) in h.notes {
                rec.notes.insert(date(n)?, text);
            }
            help.insert(id(h.member)?, rec);
        }
        Some(Ledger {
            cell: self.cell,
            year: self.year,
            meetings,
            dues,
            ratings,
            help,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    #[test]
    fn the_compact_view_reads_back_as_the_ledger_and_is_smaller() {
        let ids: Vec<String> = (0..40u8)
            .map(|i| {
                rollmesh_model::MemberId::new(1_700_000_000_000 + u64::from(i), [i; 10]).to_string()
            })
            .collect();
        let mut l = Ledger::new("hn.d01.w01.c01", 2025);
        for month in 1..=12u32 {
            let mut attendance = BTreeMap::new();
            for (i, id) in ids.iter().enumerate() {
                let a = if (i as u32 + month).is_multiple_of(17) {
                    Attendance::Absent {
                        reason: Some("Ốm".into()),
                        accepted: true,
                    }
                } else {
                    Attendance::Present
                };
                attendance.insert(id.clone(), a);
                let dues = if (i as u32 + month).is_multiple_of(23) {
                    Dues::Unpaid {
                        reason: None,
                        accepted: false,
                    }
                } else {
                    Dues::Paid {
                        amount: 30_000,
                        date: d(2025, month, 5),
                    }
                };
                l.dues.entry(id.clone()).or_default().insert(month, dues);
            }
            l.meetings.push(Meeting {
                date: d(2025, month, 9),
                kind: MeetingKind::Regular,
                topic: "Sinh hoạt thường kỳ".into(),
                attendance,
            });
        }
        l.ratings.insert(ids[3].clone(), Rating::Good);
        l.help.insert(
            ids[5].clone(),
            HelpRecord {
                start: Some(d(2025, 2, 1)),
                end: None,
                notes: BTreeMap::from([(d(2025, 6, 1), "Tiến bộ".to_string())]),
            },
        );
        let compact = postcard::to_allocvec(&CompactLedger::from_ledger(&l)).expect("encode");
        let back: CompactLedger = postcard::from_bytes(&compact).expect("decode");
        assert_eq!(back.into_ledger(), Some(l.clone()));
        let plain = postcard::to_allocvec(&l).expect("plain");
        assert!(
            compact.len() * 3 < plain.len(),
            "{} bytes compact, {} plain",
            compact.len(),
            plain.len()
        );
    }
}
