//! Secondary indexes, written in the same batch as the projection they derive from:
//!
//! | prefix | key                                              | value                      |
//! |--------|--------------------------------------------------|----------------------------|
//! | `U`    | unit index key, doc id                           | (empty)                    |
//! | `N`    | folded name word, NUL, doc id                    | the whole folded name      |
//! | `F`    | folded name word                                 | u64: members whose name has it |
//! | `G`    | unit index key, 0xFF, status, NUL, sector        | u64: headcount             |
//! | `J`    | unit index key, 0xFF, status                     | u64: members in the unit's subtree with that status |
//!
//! `N` answers a name search by scanning only the postings of the query's rarest word (`F` tells which);
//! `G` holds the headcount of every (unit, status, sector), so statistics read a few thousand counters
//! instead of every projection; `J` holds each unit's subtree total by status (a member counts at its
//! unit and every ancestor), so a page of a list says how many there are in all by reading a few.

use std::collections::{BTreeSet, HashMap};

use rollmesh_model::{text, Field, MemberId, MemberRecord, UnitPath};

use crate::{key, read_u64, unit_key, StoreError};

/// Counter deltas gathered over one batch and merged into the stored values at its end.
#[derive(Default)]
pub(crate) struct Counters(HashMap<Vec<u8>, i64>);

impl Counters {
    fn add(&mut self, k: Vec<u8>, d: i64) {
        *self.0.entry(k).or_default() += d;
    }

    /// Adds the deltas to the stored counters (the caller holds the write lock); a counter that reaches
    /// zero is removed.
    pub(crate) fn write(self, kv: &sled::Tree, batch: &mut sled::Batch) -> Result<(), StoreError> {
        for (k, d) in self.0 {
            if d == 0 {
                continue;
            }
            let old = read_u64(kv.get(&k)?)? as i64;
            let new = old + d;
            if new <= 0 {
                batch.remove(k);
            } else {
                batch.insert(k, &(new as u64).to_be_bytes());
            }
        }
        Ok(())
    }
}

/// The distinct words of a folded name.
pub(crate) fn words(folded: &str) -> BTreeSet<&str> {
    folded.split(' ').filter(|w| !w.is_empty()).collect()
}

fn headcount_key(rec: &MemberRecord) -> Option<Vec<u8>> {
    let unit = rec.unit()?;
    let mut k = vec![b'G'];
    k.extend_from_slice(&unit.index_key());
    k.push(0xFF);
    k.extend_from_slice(rec.get(Field::Status).unwrap_or("").as_bytes());
    k.push(0);
    k.extend_from_slice(rec.get(Field::Sector).unwrap_or("").as_bytes());
    Some(k)
}

/// The subtree-total counter of `unit` (itself or an ancestor of a member's unit) for one status: `J`,
/// the unit's index key, 0xFF, the status key.
pub(crate) fn total_key(unit: &UnitPath, status: &str) -> Vec<u8> {
    let mut k = vec![b'J'];
    k.extend_from_slice(&unit.index_key());
    k.push(0xFF);
    k.extend_from_slice(status.as_bytes());
    k
}

/// The subtree-total counters a member adds one to: its unit's and every ancestor's, for its status.
fn total_keys(rec: &MemberRecord) -> Vec<Vec<u8>> {
    let Some(unit) = rec.unit() else {
        return Vec::new();
    };
    let status = rec.get(Field::Status).unwrap_or("");
    let mut out = Vec::new();
    let mut u = Some(unit);
    while let Some(x) = u {
        out.push(total_key(&x, status));
        u = x.parent();
    }
    out
}

fn word_key(word: &str, id: &MemberId) -> Vec<u8> {
    key(b'N', &[word.as_bytes(), &[0], id.as_bytes()])
}

/// Writes the index entries of a member's projection.
pub(crate) fn add_member(
    batch: &mut sled::Batch,
    counters: &mut Counters,
    rec: &MemberRecord,
    id: &MemberId,
) {
    edit_member(batch, counters, rec, id, true)
}

/// Removes the index entries of a member's former projection.
pub(crate) fn remove_member(
    batch: &mut sled::Batch,
    counters: &mut Counters,
    rec: &MemberRecord,
    id: &MemberId,
) {
    edit_member(batch, counters, rec, id, false)
}

fn edit_member(
    batch: &mut sled::Batch,
    counters: &mut Counters,
    rec: &MemberRecord,
    id: &MemberId,
    add: bool,
) {
    let d = if add { 1 } else { -1 };
    let (entries, counted) = entries(rec, id);
    for (k, v) in entries {
        if add {
            batch.insert(k, v);
        } else {
            batch.remove(k);
        }
    }
    for k in counted {
        counters.add(k, d);
    }
    counters.add(MEMBERS_KEY.to_vec(), d);
}

/// The number of members stored (a counter like the others, so `status` need not scan).
pub(crate) const MEMBERS_KEY: &[u8] = b"Mmembers";

/// A key and its value.
pub(crate) type KeyValue = (Vec<u8>, Vec<u8>);

/// The index entries (key, value) a projection implies, and the `F`, `G` and `J` counters it adds one to:
/// what [`add_member`] writes, [`remove_member`] removes and `verify` expects.
pub(crate) fn entries(rec: &MemberRecord, id: &MemberId) -> (Vec<KeyValue>, Vec<Vec<u8>>) {
    let mut out = Vec::new();
    let mut counted = Vec::new();
    if let Some(u) = rec.unit() {
        out.push((unit_key(&u, id), Vec::new()));
    }
    let folded = text::fold(rec.name());
    for w in words(&folded) {
        out.push((word_key(w, id), folded.as_bytes().to_vec()));
        counted.push(key(b'F', &[w.as_bytes()]));
    }
    counted.extend(headcount_key(rec));
    counted.extend(total_keys(rec));
    (out, counted)
}

/// One cell of the headcount: members of `unit` with this status and sector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Headcount {
    /// The member's own unit (a cell, or whatever unit holds members directly).
    pub unit: UnitPath,
    /// The status key (`official`, `probationary`, …).
    pub status: String,
    /// The sector key, empty when the dossier has none.
    pub sector: String,
    /// How many members.
    pub count: u64,
}

pub(crate) fn parse_headcount(k: &[u8], v: &[u8]) -> Result<Headcount, StoreError> {
    let bad = || StoreError::Corrupt("headcount key".into());
    let body = k.get(1..).ok_or_else(bad)?;
    let sep = body.iter().position(|b| *b == 0xFF).ok_or_else(bad)?;
    let unit_bytes = &body[..sep];
    let unit_text = std::str::from_utf8(unit_bytes.strip_suffix(&[0]).unwrap_or(unit_bytes))
        .map_err(|_| bad())?
        .replace('\0', ".");
    let unit = UnitPath::parse(&unit_text).map_err(|_| bad())?;
    let rest = &body[sep + 1..];
    let nul = rest.iter().position(|b| *b == 0).ok_or_else(bad)?;
    let status = std::str::from_utf8(&rest[..nul]).map_err(|_| bad())?;
    let sector = std::str::from_utf8(&rest[nul + 1..]).map_err(|_| bad())?;
    Ok(Headcount {
        unit,
        status: status.to_string(),
        sector: sector.to_string(),
        count: read_u64(Some(sled::IVec::from(v)))?,
    })
}

/// The marker of a store whose subtree totals (`J` counters) are maintained.
pub(crate) const TOTALS_KEY: &[u8] = b"Mtotals-v1";

/// Builds the subtree totals of a store written before they existed, from its headcounts (one pass
/// over the `G` counters), and marks the store.
pub(crate) fn build_totals(kv: &sled::Tree) -> Result<(), StoreError> {
    if kv.get(TOTALS_KEY)?.is_some() {
        return Ok(());
    }
    let mut totals: std::collections::BTreeMap<Vec<u8>, u64> = Default::default();
    for item in kv.scan_prefix([b'G']) {
        let (k, v) = item?;
        let h = parse_headcount(&k, &v)?;
        let mut u = Some(h.unit.clone());
        while let Some(x) = u {
            *totals.entry(total_key(&x, &h.status)).or_default() += h.count;
            u = x.parent();
        }
    }
    let mut batch = sled::Batch::default();
    for k in kv.scan_prefix([b'J']).keys() {
        batch.remove(k?);
    }
    for (k, n) in totals {
        batch.insert(k, &n.to_be_bytes());
    }
    batch.insert(TOTALS_KEY, &[1u8]);
    kv.apply_batch(batch)?;
    kv.flush()?;
    Ok(())
}
