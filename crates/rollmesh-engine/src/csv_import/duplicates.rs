//! Finding rows that are already members (or earlier rows of the file): by citizen id, dossier number,
//! card number, then name and date of birth.

#[allow(unused_imports)]
use super::*;

/// A 128-bit fingerprint of a normalised key. The index keeps fingerprints instead of the keys (a few
/// dozen bytes less per row, which counts at 470,000 rows); two different keys share one with odds of
/// about 2^-100 over a city's file.
pub(super) fn fingerprint(kind: u8, key: &str) -> u128 {
    use std::hash::{Hash, Hasher};
    let half = |seed: u8| {
        // `DefaultHasher::new` is SipHash with fixed keys: the same in every run.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (seed, kind, key).hash(&mut h);
        h.finish()
    };
    (u128::from(half(0)) << 64) | u128::from(half(1))
}

/// What a row is compared by: the fingerprints of its citizen id, dossier number and card number (opaque
/// numbers compare without case, diacritics or spaces: "ll 0012" is "LL0012"), and of its folded full
/// name with its date of birth.
pub(super) struct Keys {
    ids: [Option<u128>; 3],
    name_dob: Option<u128>,
}

impl Keys {
    pub(super) fn of(fields: &BTreeMap<Field, String>) -> Keys {
        let mut ids = [None; 3];
        for (i, (f, _)) in ID_FIELDS.iter().enumerate() {
            if let Some(v) = fields.get(f) {
                let v = text::fold(v).replace(' ', "");
                if !v.is_empty() {
                    ids[i] = Some(fingerprint(i as u8, &v));
                }
            }
        }
        let name_dob = match (
            fields.get(&Field::FullName),
            fields.get(&Field::DateOfBirth),
        ) {
            (Some(n), Some(d)) => Some(fingerprint(3, &format!("{}\u{0}{d}", text::fold(n)))),
            _ => None,
        };
        Keys { ids, name_dob }
    }

    /// The identifiers as a candidate keeps them (64 bits each, 0 for none).
    pub(super) fn short_ids(&self) -> [u64; 3] {
        self.ids.map(|k| k.map(|k| (k as u64).max(1)).unwrap_or(0))
    }
}

/// Hashes a key that is already a uniformly random fingerprint: its low 64 bits are the hash.
#[derive(Default)]
pub(super) struct Prehashed(u64);

impl std::hash::Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
}

pub(super) type FingerprintMap<V> = HashMap<u128, V, std::hash::BuildHasherDefault<Prehashed>>;

/// An [`Origin`] in 8 bytes: the top bit set for a member (the rest an index into the member list), clear
/// for a line number.
#[derive(Clone, Copy, Debug)]
pub(super) struct Packed(u64);

pub(super) const MEMBER_BIT: u64 = 1 << 63;

/// One person known under a full name and date of birth; candidates of one key form a linked list.
#[derive(Debug)]
pub(super) struct Candidate {
    origin: Packed,
    ids: [u64; 3],
    next: u32,
}

pub(super) const NO_CANDIDATE: u32 = u32::MAX;

/// The members and rows already seen, to recognise a row that repeats one: by citizen id, else dossier
/// number, else card number, else full name and date of birth when no identifier the two both have
/// differs. Seeded with the store's members ([`DupIndex::add_member`]); the reader adds each row it
/// accepts. Also knows which member ids exist, for rows that update a member. About 100 bytes per member
/// or row.
#[derive(Debug, Default)]
pub struct DupIndex {
    by_id: [FingerprintMap<Packed>; 3],
    by_name_dob: FingerprintMap<u32>,
    candidates: Vec<Candidate>,
    member_ids: Vec<MemberId>,
    members: HashMap<MemberId, u32>,
    updated: HashMap<MemberId, u64>,
}

impl DupIndex {
    /// An empty index (no member known).
    pub fn new() -> Self {
        Self::default()
    }

    /// Learns an existing member.
    pub fn add_member(&mut self, rec: &MemberRecord) {
        let Ok(at) = u32::try_from(self.member_ids.len()) else {
            return;
        };
        if self.members.contains_key(&rec.id) {
            return;
        }
        self.members.insert(rec.id, at);
        self.member_ids.push(rec.id);
        self.insert(&Keys::of(&rec.fields), Packed(MEMBER_BIT | u64::from(at)));
    }

    /// How many existing members it knows.
    pub fn members(&self) -> usize {
        self.member_ids.len()
    }

    /// True when a member with this id exists.
    pub fn knows(&self, id: &MemberId) -> bool {
        self.members.contains_key(id)
    }

    pub(super) fn pack(&self, origin: Origin) -> Option<Packed> {
        match origin {
            Origin::Member(id) => self
                .members
                .get(&id)
                .map(|at| Packed(MEMBER_BIT | u64::from(*at))),
            Origin::Line(n) => Some(Packed(n & !MEMBER_BIT)),
        }
    }

    pub(super) fn unpack(&self, p: Packed) -> Origin {
        if p.0 & MEMBER_BIT == 0 {
            return Origin::Line(p.0);
        }
        let at = (p.0 & !MEMBER_BIT) as usize;
        match self.member_ids.get(at) {
            Some(id) => Origin::Member(*id),
            None => Origin::Line(0),
        }
    }

    pub(super) fn insert(&mut self, keys: &Keys, origin: Packed) {
        for (map, k) in self.by_id.iter_mut().zip(&keys.ids) {
            if let Some(k) = k {
                map.entry(*k).or_insert(origin);
            }
        }
        let (Some(k), Ok(at)) = (keys.name_dob, u32::try_from(self.candidates.len())) else {
            return;
        };
        if at == NO_CANDIDATE {
            return;
        }
        let head = self.by_name_dob.entry(k).or_insert(NO_CANDIDATE);
        self.candidates.push(Candidate {
            origin,
            ids: keys.short_ids(),
            next: *head,
        });
        *head = at;
    }

    /// The member or row that `fields` repeat, if any; `this` is the member the row updates (which it
    /// may match without being a duplicate). An update is compared by identifiers only.
    pub fn find(
        &self,
        fields: &BTreeMap<Field, String>,
        this: Option<MemberId>,
    ) -> Option<Duplicate> {
        self.find_keys(&Keys::of(fields), this)
    }

    pub(super) fn find_keys(&self, keys: &Keys, this: Option<MemberId>) -> Option<Duplicate> {
        for ((map, k), (_, by)) in self.by_id.iter().zip(&keys.ids).zip(ID_FIELDS) {
            if let Some(p) = k.as_ref().and_then(|k| map.get(k)) {
                let of = self.unpack(*p);
                if !of.is(this) {
                    return Some(Duplicate { of, by });
                }
            }
        }
        if this.is_some() {
            return None;
        }
        let ids = keys.short_ids();
        let mut at = *self.by_name_dob.get(&keys.name_dob?)?;
        // The list runs newest first; the earliest match is the one to report.
        let mut found = None;
        while let Some(c) = self.candidates.get(at as usize) {
            let contradicts = ids
                .iter()
                .zip(&c.ids)
                .any(|(a, b)| *a != 0 && *b != 0 && a != b);
            if !contradicts {
                found = Some(c.origin);
            }
            at = c.next;
        }
        found.map(|p| Duplicate {
            of: self.unpack(p),
            by: MatchKey::NameAndDob,
        })
    }

    /// Checks a valid row against everything seen and, unless it is a duplicate, remembers it.
    pub(super) fn check_and_add(
        &mut self,
        fields: &BTreeMap<Field, String>,
        id: Option<MemberId>,
        line: u64,
    ) -> Option<Duplicate> {
        if let Some(id) = id {
            if let Some(first) = self.updated.get(&id) {
                return Some(Duplicate {
                    of: Origin::Line(*first),
                    by: MatchKey::Id,
                });
            }
        }
        let keys = Keys::of(fields);
        if let Some(d) = self.find_keys(&keys, id) {
            return Some(d);
        }
        let origin = match id {
            Some(id) => {
                self.updated.insert(id, line);
                self.pack(Origin::Member(id))
            }
            None => self.pack(Origin::Line(line)),
        };
        if let Some(o) = origin {
            self.insert(&keys, o);
        }
        None
    }
}

/// The reason text of a duplicate.
pub fn duplicate_reason(d: &Duplicate) -> String {
    let by = d.by.text();
    match d.of {
        Origin::Member(id) => crate::msg!(
            "trùng với đảng viên đã có, mã {id} ({by})",
            "duplicate of existing member {id} ({by})"
        ),
        Origin::Line(n) => crate::msg!(
            "trùng với dòng {n} của tệp này ({by})",
            "duplicate of line {n} of this file ({by})"
        ),
    }
}

/// The decoded input after its header line has been read for separator detection.
pub(super) type Body<R> = LineTracker<io::Chain<io::Cursor<Vec<u8>>, Decoded<R>>>;
