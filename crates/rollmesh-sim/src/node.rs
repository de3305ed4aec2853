//! A simulated node's store: an append-only log of changes, each change belonging to a document that lives
//! in one unit of the organisation tree, and the durable checkpoints of its peers' logs. [`View`] is that
//! store as a session sees it for one peer: everything filtered to the peer's scope.

use std::collections::{BTreeMap, BTreeSet};

use rollmesh_sync::{DocId, Log, LogBatch, LogError, Record, StateHash};

/// True when `scope` covers `unit`: the unit is the scope itself or lies below it (`"c"` covers `"c"` and
/// `"c.w"`, not `"cw"`).
pub fn covers(scope: &str, unit: &str) -> bool {
    match unit.strip_prefix(scope) {
        Some("") => true,
        Some(rest) => rest.starts_with('.'),
        None => false,
    }
}

/// One change to a document, as the simulation knows it. Its identity is `id`, unique in a run.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Change {
    /// The document it changes.
    pub doc: DocId,
    /// The unit the document belongs to.
    pub unit: String,
    /// Its id, unique in the run.
    pub id: u64,
}

/// A change record whose body is not one [`Change::encode`] makes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// The body ends early.
    #[error("change record too short")]
    Short,
    /// The unit is not UTF-8.
    #[error("change record unit is not UTF-8")]
    Unit,
    /// Bytes follow the change.
    #[error("change record has trailing bytes")]
    Trailing,
}

impl Change {
    /// The record body: `doc (16) ‖ unit length (u16 BE) ‖ unit ‖ id (u64 BE)`.
    pub fn encode(&self) -> Vec<u8> {
        let unit = self.unit.as_bytes();
        let len = u16::try_from(unit.len()).unwrap_or(u16::MAX);
        let unit = &unit[..usize::from(len)];
        let mut out = Vec::with_capacity(16 + 2 + unit.len() + 8);
        out.extend_from_slice(&self.doc);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(unit);
        out.extend_from_slice(&self.id.to_be_bytes());
        out
    }

    /// Reads a record body.
    pub fn decode(body: &[u8]) -> Result<Change, DecodeError> {
        let (doc, rest) = body.split_first_chunk::<16>().ok_or(DecodeError::Short)?;
        let (len, rest) = rest.split_first_chunk::<2>().ok_or(DecodeError::Short)?;
        let len = usize::from(u16::from_be_bytes(*len));
        if rest.len() < len {
            return Err(DecodeError::Short);
        }
        let (unit, rest) = rest.split_at(len);
        let unit = std::str::from_utf8(unit).map_err(|_| DecodeError::Unit)?;
        let (id, rest) = rest.split_first_chunk::<8>().ok_or(DecodeError::Short)?;
        if !rest.is_empty() {
            return Err(DecodeError::Trailing);
        }
        Ok(Change {
            doc: *doc,
            unit: unit.to_owned(),
            id: u64::from_be_bytes(*id),
        })
    }

    /// As a change record.
    pub fn record(&self) -> Record {
        Record::change(self.encode())
    }
}

/// A document a node holds.
#[derive(Clone, Debug)]
struct Doc {
    unit: String,
    changes: BTreeSet<u64>,
}

/// What a restore puts back: the log up to a point, and the checkpoints as they were then.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// How many log entries the snapshot holds.
    pub log_len: usize,
    /// The durable checkpoints at the time, by peer.
    pub checkpoints: BTreeMap<usize, (u64, u64)>,
}

/// A simulated node's durable store.
#[derive(Clone, Debug)]
pub struct SimNode {
    /// Its name (what its credential carries).
    pub name: String,
    /// Its scope: the unit it belongs to.
    pub scope: String,
    index: u64,
    log: Vec<Change>,
    docs: BTreeMap<DocId, Doc>,
    held: BTreeSet<u64>,
    checkpoints: BTreeMap<usize, (u64, u64)>,
    rotations: u64,
}

/// A well-mixed 64-bit function (the splitmix64 finaliser).
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The state hash of a document: a 256-bit digest of its id and its set of changes.
pub fn state_hash(doc: &DocId, changes: &BTreeSet<u64>) -> StateHash {
    let mut out = [0u8; 32];
    for (lane, chunk) in out.chunks_exact_mut(8).enumerate() {
        let mut h = mix(0x5eed_0000 + lane as u64);
        for b in doc {
            h = mix(h ^ u64::from(*b));
        }
        for c in changes {
            h = mix(h ^ c.wrapping_mul(0xff51_afd7_ed55_8ccd));
        }
        chunk.copy_from_slice(&h.to_be_bytes());
    }
    out
}

impl SimNode {
    /// An empty store.
    pub fn new(name: impl Into<String>, scope: impl Into<String>, index: u64) -> SimNode {
        SimNode {
            name: name.into(),
            scope: scope.into(),
            index,
            log: Vec::new(),
            docs: BTreeMap::new(),
            held: BTreeSet::new(),
            checkpoints: BTreeMap::new(),
            rotations: 0,
        }
    }

    /// The log's index id.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The log head (number of entries).
    pub fn head(&self) -> u64 {
        self.log.len() as u64
    }

    /// How often a peer made the log take a new index id.
    pub fn rotations(&self) -> u64 {
        self.rotations
    }

    /// The ids of the changes held.
    pub fn held(&self) -> &BTreeSet<u64> {
        &self.held
    }

    /// True when the change is held.
    pub fn holds(&self, id: u64) -> bool {
        self.held.contains(&id)
    }

    /// The documents held, with their units.
    pub fn docs(&self) -> impl Iterator<Item = (&DocId, &str)> {
        self.docs.iter().map(|(d, doc)| (d, doc.unit.as_str()))
    }

    /// Every change held, as `(id, unit)`.
    pub fn changes(&self) -> impl Iterator<Item = (u64, &str)> {
        self.docs
            .values()
            .flat_map(|d| d.changes.iter().map(move |c| (*c, d.unit.as_str())))
    }

    /// The durable checkpoint of a peer's log.
    pub fn checkpoint(&self, peer: usize) -> (u64, u64) {
        self.checkpoints.get(&peer).copied().unwrap_or((0, 0))
    }

    /// Records a checkpoint durably.
    pub fn set_checkpoint(&mut self, peer: usize, checkpoint: (u64, u64)) {
        self.checkpoints.insert(peer, checkpoint);
    }

    /// Appends a change it does not hold. Returns false for a change it holds or one outside its scope.
    pub fn add(&mut self, change: Change) -> bool {
        if !covers(&self.scope, &change.unit) || self.held.contains(&change.id) {
            return false;
        }
        self.held.insert(change.id);
        self.docs
            .entry(change.doc)
            .or_insert_with(|| Doc {
                unit: change.unit.clone(),
                changes: BTreeSet::new(),
            })
            .changes
            .insert(change.id);
        self.log.push(change);
        true
    }

    /// The store as it is now, to restore later.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            log_len: self.log.len(),
            checkpoints: self.checkpoints.clone(),
        }
    }

    /// Replaces the store by an older snapshot under a new index id; returns the ids of the changes lost.
    pub fn restore(&mut self, snapshot: &Snapshot, index: u64) -> Vec<u64> {
        let keep = snapshot.log_len.min(self.log.len());
        let lost: Vec<u64> = self.log[keep..].iter().map(|c| c.id).collect();
        let log: Vec<Change> = self.log.drain(..keep).collect();
        self.log.clear();
        self.docs.clear();
        self.held.clear();
        for c in log {
            self.add(c);
        }
        self.checkpoints = snapshot.checkpoints.clone();
        self.index = index;
        lost
    }
}

/// A node's store as the session sees it for one peer: only what the peer's scope covers.
pub struct View<'a> {
    node: &'a mut SimNode,
    peer_scope: &'a str,
    /// Test of the checker only: the filter lets everything through.
    leaky: bool,
}

impl<'a> View<'a> {
    /// The view of `node` for a peer with scope `peer_scope`; `leaky` disables the filter (to show the
    /// checker catches it).
    pub fn new(node: &'a mut SimNode, peer_scope: &'a str, leaky: bool) -> View<'a> {
        View {
            node,
            peer_scope,
            leaky,
        }
    }

    fn visible(&self, unit: &str) -> bool {
        self.leaky || covers(self.peer_scope, unit)
    }
}

impl Log for View<'_> {
    fn index(&self) -> u64 {
        self.node.index
    }

    fn head(&self) -> u64 {
        self.node.head()
    }

    fn read(&mut self, from: u64, max: usize) -> Result<LogBatch, LogError> {
        let len = self.node.log.len();
        let start = usize::try_from(from).unwrap_or(usize::MAX).min(len);
        let end = start.saturating_add(max).min(len);
        let records = self.node.log[start..end]
            .iter()
            .filter(|c| self.visible(&c.unit))
            .map(Change::record)
            .collect();
        Ok(LogBatch {
            records,
            upto: (end as u64).max(from),
        })
    }

    fn rotate_index(&mut self) -> Result<u64, LogError> {
        self.node.index = mix(self.node.index ^ 0x0107_a7e0);
        self.node.rotations += 1;
        Ok(self.node.index)
    }

    fn states(&mut self) -> Result<Vec<(StateHash, DocId)>, LogError> {
        Ok(self
            .node
            .docs
            .iter()
            .filter(|(_, d)| self.visible(&d.unit))
            .map(|(id, d)| (state_hash(id, &d.changes), *id))
            .collect())
    }

    fn departures(&mut self, _docs: &[DocId], _upto: u64) -> Result<Vec<Record>, LogError> {
        // Documents never change unit in the simulation, so none leaves a peer's scope.
        Ok(Vec::new())
    }

    fn histories(&mut self, docs: &[DocId]) -> Result<Vec<Record>, LogError> {
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        for id in docs {
            if !seen.insert(*id) {
                continue;
            }
            let Some(d) = self.node.docs.get(id) else {
                continue;
            };
            if !self.visible(&d.unit) {
                continue;
            }
            for c in &d.changes {
                out.push(
                    Change {
                        doc: *id,
                        unit: d.unit.clone(),
                        id: *c,
                    }
                    .record(),
                );
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_covers_itself_and_below_only() {
        assert!(covers("c", "c"));
        assert!(covers("c", "c.w"));
        assert!(covers("c.w", "c.w.x"));
        assert!(!covers("c", "cw"));
        assert!(!covers("c.w", "c"));
        assert!(!covers("c.w", "c.v"));
    }

    #[test]
    fn a_change_round_trips() {
        let c = Change {
            doc: [7; 16],
            unit: "h.d.w".into(),
            id: 42,
        };
        assert_eq!(Change::decode(&c.encode()), Ok(c.clone()));
        let mut long = c.encode();
        long.push(0);
        assert_eq!(Change::decode(&long), Err(DecodeError::Trailing));
        assert_eq!(Change::decode(&c.encode()[..20]), Err(DecodeError::Short));
    }

    #[test]
    fn the_view_filters_to_the_peer_scope() {
        let mut n = SimNode::new("ward", "h.w", 1);
        for (i, unit) in ["h.w", "h.w.c1", "h.w.c2"].iter().enumerate() {
            assert!(n.add(Change {
                doc: [i as u8; 16],
                unit: (*unit).into(),
                id: i as u64 + 1,
            }));
        }
        assert!(!n.add(Change {
            doc: [9; 16],
            unit: "h".into(),
            id: 9,
        }));
        let mut v = View::new(&mut n, "h.w.c1", false);
        let b = v.read(0, 10).expect("read");
        assert_eq!(b.upto, 3);
        assert_eq!(b.records.len(), 1);
        assert_eq!(v.states().expect("states").len(), 1);
        let all = [[0u8; 16], [1; 16], [2; 16]];
        assert_eq!(v.histories(&all).expect("histories").len(), 1);
    }

    #[test]
    fn a_restore_truncates_and_reports_what_it_lost() {
        let mut n = SimNode::new("a", "h", 1);
        n.add(Change {
            doc: [1; 16],
            unit: "h".into(),
            id: 1,
        });
        let snap = n.snapshot();
        n.add(Change {
            doc: [1; 16],
            unit: "h".into(),
            id: 2,
        });
        assert_eq!(n.restore(&snap, 99), vec![2]);
        assert_eq!(n.head(), 1);
        assert_eq!(n.index(), 99);
        assert!(!n.holds(2));
    }
}
