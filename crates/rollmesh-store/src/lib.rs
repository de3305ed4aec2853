//! The node's durable store over sled, with a deliberately narrow surface. It keeps, in one sled tree
//! under single-byte key prefixes:
//!
//! | prefix | key                         | value                                   |
//! |--------|-----------------------------|-----------------------------------------|
//! | `M`    | `meta`, `seq`, `qseq`        | store metadata, next log / quarantine seq |
//! | `L`    | log seq (u64 BE)            | the change log: change hash, units (u16 BE length, then the units touched, `\n`-separated), the signed envelope verbatim |
//! | `C`    | change hash                 | log seq (u64 BE): which changes are stored, and where |
//! | `H`    | doc id, log seq             | change hash: a document's history       |
//! | `D`    | doc id                      | the compacted Automerge document, only once it has more than [`COMPACT_AT`] changes (smaller ones are rebuilt from `C`) |
//! | `P`    | doc id                      | state hash (SHA-256 of sorted heads, for reconciliation), then the postcard [`MemberRecord`] projection |
//! | `B`    | ledger doc id               | state hash, then the postcard [`LedgerHead`] (see [`ledger`](crate::ledger)) |
//! | `O`    | org-wide doc id             | state hash, then the postcard [`OrgHead`] (the tree, the rule set, the calendar) |
//! | `U`, `N`, `F`, `G`, `J` | see [`index`] | members by unit, name words, word counts, headcounts, subtree totals |
//! | `W`    | doc id, change hash         | envelope waiting for missing dependencies |
//! | `Q`    | quarantine seq              | postcard [`QuarantineEntry`]            |
//! | `T`    | node id                     | postcard [`TrustEntry`]                 |
//! | `K`    | node public key             | that node's credential chain (encoded)  |
//! | `R`    | SHA-256 of the revocation   | a revocation (encoded)                  |
//! | `A`    | audit seq                   | postcard [`AuditEntry`], hash-chained   |
//! | `X`    | peer public key             | sync checkpoint: peer log index id, seq |
//! | `S`    | a name                      | local derived data (the last screening), never replicated |
//!
//! Every call to [`Store::apply`] writes one atomic sled batch and flushes it before returning, so a
//! change reported as applied is durable. Only a bounded LRU of Automerge documents stays in memory.

mod apply;
mod audit;
pub mod index;
mod ledger;
mod own;
mod verify;

use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Mutex;

use automerge::Automerge;
use lru::LruCache;
use rollmesh_model::{text, Dossier, MemberId, MemberRecord, UnitPath};
use rollmesh_proto::{NodeId, NodePublicKey, SignedChange};
use serde::{Deserialize, Serialize};

pub use apply::{state_hash, AcceptAll, ApplyReport, Policy, Prepared, Verdict, COMPACT_AT};
pub use audit::AuditEntry;
pub use index::Headcount;
pub use ledger::{LedgerHead, OrgHead, EVERYWHERE};
pub use verify::VerifyReport;

const META_KEY: &[u8] = b"Mmeta";
const SEQ_KEY: &[u8] = b"Mseq";
const QSEQ_KEY: &[u8] = b"Mqseq";
const STORE_FORMAT: u32 = 1;
const DOC_CACHE: usize = 512;

/// Errors of store operations.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled reported an error (I/O, a full disk, corruption it detected).
    #[error("storage: {0}")]
    Sled(#[from] sled::Error),
    /// Another process holds the data directory.
    #[error("the data directory is in use by another rollmesh process")]
    Locked,
    /// `create` on a directory that already holds a store.
    #[error("a store already exists here")]
    AlreadyExists,
    /// `open` on a directory without a store.
    #[error("no store here (run `rollmesh init` first)")]
    Missing,
    /// Stored bytes do not decode: the store is damaged.
    #[error("store is damaged: {0}")]
    Corrupt(String),
    /// The store directory or its files could not be made private to their owner.
    #[error("making the store private ({path}): {source}")]
    Permissions {
        /// The file or directory.
        path: std::path::PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
}

/// What a store records about itself.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoreMeta {
    /// The unit this node serves; its scope is that unit's subtree.
    pub unit: UnitPath,
    /// The node's public key.
    pub node_key: [u8; 32],
    /// Random id of this store's change log; a restored or re-created store gets a new one, which tells
    /// peers that their sequence checkpoints against it are void.
    pub index_id: u64,
    /// Unix time of creation.
    pub created_at: i64,
    /// Store format version.
    pub format: u32,
}

impl StoreMeta {
    /// The node's public key.
    pub fn public_key(&self) -> NodePublicKey {
        NodePublicKey(self.node_key)
    }
}

/// A stored document's `(id, units, state hash)`: the units whose scopes hold it (a member's unit, a
/// ledger's cell, an attachment book's host and home cell), `None` for an organisation-wide document,
/// which every scope holds.
pub type DocState = (MemberId, Option<Vec<UnitPath>>, [u8; 32]);

/// One entry of the change log.
#[derive(Clone, Debug)]
pub struct LogEntry {
    /// Its sequence number.
    pub seq: u64,
    /// The signed change.
    pub change: SignedChange,
    /// The member's unit before and after the change (one unit when it did not move); a ledger's cell.
    pub units: Vec<UnitPath>,
    /// The change is to an organisation-wide document, which every scope receives.
    pub everywhere: bool,
}

/// A change that was refused, kept with its reason and never applied or forwarded.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct QuarantineEntry {
    /// Quarantine sequence number.
    pub seq: u64,
    /// Unix time it was refused.
    pub at: i64,
    /// The stable reason code (see `RejectCode::key`).
    pub code: String,
    /// The reason in detail.
    pub detail: String,
    /// Where it came from (a bundle file name, a peer).
    pub source: String,
    /// The author's node id, when the envelope was well-formed enough to tell.
    pub author: Option<String>,
    /// The document id, likewise.
    pub doc: Option<MemberId>,
    /// The bytes as received.
    pub bytes: Vec<u8>,
}

/// A node id a clerk has explicitly trusted.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct TrustEntry {
    /// The node id, as displayed.
    pub node_id: String,
    /// Unix time it was added.
    pub added_at: i64,
    /// A free-text note ("Chi bộ 2, máy chị Lan").
    pub note: String,
}

pub(crate) struct WriteState {
    next_audit: u64,
    next_seq: u64,
    next_qseq: u64,
    /// Documents recently written or read, with the number of changes each holds.
    cache: LruCache<MemberId, (Automerge, usize)>,
    /// Counts apply calls, so a document loaded outside the lock is cached only if none happened.
    version: u64,
}

/// An open store. One process at a time: sled locks the directory.
pub struct Store {
    db: sled::Db,
    kv: sled::Tree,
    meta: StoreMeta,
    index_id: std::sync::atomic::AtomicU64,
    state: Mutex<WriteState>,
    in_flight: std::sync::Arc<apply::InFlight>,
}

pub(crate) fn key(prefix: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + parts.iter().map(|p| p.len()).sum::<usize>());
    k.push(prefix);
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

pub(crate) fn unit_key(unit: &UnitPath, id: &MemberId) -> Vec<u8> {
    key(b'U', &[&unit.index_key(), id.as_bytes()])
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub(crate) fn read_u64(v: Option<sled::IVec>) -> Result<u64, StoreError> {
    match v {
        None => Ok(0),
        Some(b) => <[u8; 8]>::try_from(b.as_ref())
            .map(u64::from_be_bytes)
            .map_err(|_| StoreError::Corrupt("counter is not 8 bytes".into())),
    }
}

pub(crate) fn id_from(bytes: &[u8]) -> Result<MemberId, StoreError> {
    <[u8; 16]>::try_from(bytes)
        .map(MemberId)
        .map_err(|_| StoreError::Corrupt("document id is not 16 bytes".into()))
}

/// Creates `dir` (and any missing parent) with mode 0700 whatever the umask, so the store is never
/// readable or writable by others, not even for the moment before [`restrict`] runs.
fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir).map_err(|source| StoreError::Permissions {
        path: dir.to_path_buf(),
        source,
    })
}

/// Makes `dir` and everything under it private to its owner: directories 0700, files 0600 (sled creates
/// its files with the process umask). Symbolic links are left alone and not followed. Runs when a store
/// is created and every time one is opened, so a store made by an older version is tightened too.
fn restrict(dir: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Permissions { path, source }
        };
        let mut todo = vec![dir.to_path_buf()];
        while let Some(p) = todo.pop() {
            let meta = std::fs::symlink_metadata(&p).map_err(err(&p))?;
            let want = if meta.is_dir() {
                0o700
            } else if meta.is_file() {
                0o600
            } else {
                continue;
            };
            if meta.permissions().mode() & 0o7777 != want {
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(want))
                    .map_err(err(&p))?;
            }
            if meta.is_dir() {
                for e in std::fs::read_dir(&p).map_err(err(&p))? {
                    todo.push(e.map_err(err(&p))?.path());
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// How long opening waits for a lock that may only be sled's own, still held for a moment by the
/// background threads of a store of this process that was just dropped (seen under load: ~12 ms).
const LOCK_GRACE: std::time::Duration = std::time::Duration::from_millis(300);

fn open_db(dir: &Path) -> Result<sled::Db, StoreError> {
    let start = std::time::Instant::now();
    loop {
        let opened = sled::Config::new()
            .path(dir)
            .cache_capacity(64 << 20)
            .open()
            .map_err(|e| match e {
                sled::Error::Io(ref io) if io.to_string().contains("lock") => StoreError::Locked,
                other => StoreError::Sled(other),
            });
        match opened {
            // Another process (a running node) holds it for good: say so once the grace is over.
            Err(StoreError::Locked) if start.elapsed() < LOCK_GRACE => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

impl Store {
    /// Creates a new store in `dir` (which must not hold one) for a node serving `unit`.
    pub fn create(
        dir: &Path,
        unit: UnitPath,
        node_key: NodePublicKey,
    ) -> Result<Store, StoreError> {
        if dir.join("conf").exists() || dir.join("db").exists() {
            return Err(StoreError::AlreadyExists);
        }
        create_private_dir(dir)?;
        let db = open_db(dir)?;
        let kv = db.open_tree("rollmesh")?;
        if kv.get(META_KEY)?.is_some() {
            return Err(StoreError::AlreadyExists);
        }
        let meta = StoreMeta {
            unit,
            node_key: node_key.0,
            index_id: rand_u64(),
            created_at: now(),
            format: STORE_FORMAT,
        };
        let bytes = postcard::to_allocvec(&meta).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        kv.insert(META_KEY, bytes)?;
        // A new store keeps its subtree totals from the first member on.
        kv.insert(index::TOTALS_KEY, &[1u8])?;
        db.flush()?;
        restrict(dir)?;
        Self::from_parts(db, kv, meta)
    }

    /// Opens the store in `dir`.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        if !dir.join("conf").exists() && !dir.join("db").exists() {
            return Err(StoreError::Missing);
        }
        let db = open_db(dir)?;
        let kv = db.open_tree("rollmesh")?;
        let meta: StoreMeta = match kv.get(META_KEY)? {
            Some(b) => postcard::from_bytes(&b).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            None => return Err(StoreError::Missing),
        };
        restrict(dir)?;
        index::build_totals(&kv)?;
        Self::from_parts(db, kv, meta)
    }

    fn from_parts(db: sled::Db, kv: sled::Tree, meta: StoreMeta) -> Result<Store, StoreError> {
        let next_seq = read_u64(kv.get(SEQ_KEY)?)?.max(1);
        let next_qseq = read_u64(kv.get(QSEQ_KEY)?)?.max(1);
        let next_audit = match kv.scan_prefix([b'A']).next_back() {
            Some(kv) => read_u64(Some(sled::IVec::from(&kv?.0[1..])))? + 1,
            None => 1,
        };
        let cap = NonZeroUsize::new(DOC_CACHE).unwrap_or(NonZeroUsize::MIN);
        Ok(Store {
            db,
            kv,
            index_id: std::sync::atomic::AtomicU64::new(meta.index_id),
            in_flight: Default::default(),
            meta,
            state: Mutex::new(WriteState {
                next_audit,
                next_seq,
                next_qseq,
                cache: LruCache::new(cap),
                version: 0,
            }),
        })
    }

    /// The store's metadata.
    pub fn meta(&self) -> &StoreMeta {
        &self.meta
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WriteState> {
        // A panic while holding the lock cannot leave the durable state inconsistent (batches are atomic),
        // so a poisoned lock is safe to take over.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The highest change-log sequence number assigned so far (0 when empty).
    pub fn last_seq(&self) -> u64 {
        self.lock().next_seq - 1
    }

    /// A member's projection.
    pub fn record(&self, id: &MemberId) -> Result<Option<MemberRecord>, StoreError> {
        match self.kv.get(key(b'P', &[id.as_bytes()]))? {
            Some(b) => Ok(Some(decode_record(&b)?)),
            None => Ok(None),
        }
    }

    /// A member's live dossier (from the cache, or loaded from its compacted document).
    pub fn dossier(&self, id: &MemberId) -> Result<Option<Dossier>, StoreError> {
        let (cached, version) = {
            let mut st = self.lock();
            (st.cache.get(id).map(|(doc, _)| doc.clone()), st.version)
        };
        let doc = match cached {
            Some(doc) => doc,
            None => {
                // Loaded without the lock, so readers on other threads load in parallel; cached only if
                // no write happened meanwhile (it could be older than what a write cached).
                let (doc, n) = self.load_doc(id)?;
                if n == 0 {
                    return Ok(None);
                }
                let mut st = self.lock();
                if st.version == version {
                    st.cache.put(*id, (doc.clone(), n));
                }
                doc
            }
        };
        Dossier::from_doc(*id, doc)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("document {id}: {e}")))
    }

    /// Loads a document: its compacted form when it has one, otherwise rebuilt from its signed changes.
    /// Returns the document and how many changes it holds (0: no such document).
    pub(crate) fn load_doc(&self, id: &MemberId) -> Result<(Automerge, usize), StoreError> {
        let corrupt = |e: automerge::AutomergeError| {
            StoreError::Corrupt(format!("document {id} does not load: {e}"))
        };
        if let Some(bytes) = self.kv.get(key(b'D', &[id.as_bytes()]))? {
            return Ok((Automerge::load(&bytes).map_err(corrupt)?, COMPACT_AT + 1));
        }
        let mut chunks = Vec::new();
        let mut n = 0;
        for kv in self.kv.scan_prefix(key(b'H', &[id.as_bytes()])) {
            let (_, hash) = kv?;
            chunks.extend_from_slice(self.change(&hash)?.change_bytes());
            n += 1;
        }
        let mut doc = Automerge::new();
        if n > 0 {
            doc.load_incremental(&chunks).map_err(corrupt)?;
        }
        Ok((doc, n))
    }

    /// `f` of every member projection in the subtree of `scope`, decoded and mapped on every core. For
    /// the node's own scope (everything it stores) the projections are read in one sequential scan; for a
    /// part of it, through the unit index. In no particular order.
    pub fn projections<T: Send>(
        &self,
        scope: &UnitPath,
        f: impl Fn(MemberRecord) -> T + Sync,
    ) -> Result<Vec<T>, StoreError> {
        use rayon::prelude::*;
        let raw: Vec<sled::IVec> = if *scope == self.meta.unit {
            self.kv
                .scan_prefix([b'P'])
                .values()
                .collect::<Result<_, _>>()?
        } else {
            let mut out = Vec::new();
            for kv in self.kv.scan_prefix(key(b'U', &[&scope.index_key()])) {
                let (k, _) = kv?;
                if let Some(v) = self
                    .kv
                    .get(key(b'P', &[&k[k.len().saturating_sub(16)..]]))?
                {
                    out.push(v);
                }
            }
            out
        };
        raw.par_iter().map(|v| decode_record(v).map(&f)).collect()
    }

    /// Members in the subtree of `unit` (all members when `None`), in unit then id order.
    pub fn list(&self, unit: Option<&UnitPath>) -> Result<Vec<MemberRecord>, StoreError> {
        let mut out = Vec::new();
        match unit {
            None => {
                for kv in self.kv.scan_prefix([b'P']) {
                    let (_, v) = kv?;
                    out.push(decode_record(&v)?);
                }
                out.sort_by_key(|r| (r.unit(), r.id));
            }
            Some(u) => {
                for kv in self.kv.scan_prefix(key(b'U', &[&u.index_key()])) {
                    let (k, _) = kv?;
                    let id = id_from(&k[k.len().saturating_sub(16)..])?;
                    if let Some(r) = self.record(&id)? {
                        out.push(r);
                    }
                }
            }
        }
        Ok(out)
    }

    /// One page of the members in the subtree of `unit`, in unit then id order: skips `offset` members,
    /// returns at most `limit`, and with `keep` only the members it accepts (the offset then counts
    /// accepted members). Without a filter only the unit index and the page's projections are read, so a
    /// page at the city costs about what a page at a cell does; a filter decodes every candidate up to
    /// the end of the page.
    pub fn list_page(
        &self,
        unit: &UnitPath,
        offset: usize,
        limit: usize,
        keep: Option<&dyn Fn(&MemberRecord) -> bool>,
    ) -> Result<Vec<MemberRecord>, StoreError> {
        let mut out = Vec::new();
        let mut skipped = 0;
        for kv in self.kv.scan_prefix(key(b'U', &[&unit.index_key()])) {
            if out.len() >= limit {
                break;
            }
            let (k, _) = kv?;
            if keep.is_none() && skipped < offset {
                skipped += 1;
                continue;
            }
            let id = id_from(&k[k.len().saturating_sub(16)..])?;
            let Some(r) = self.record(&id)? else {
                continue;
            };
            if keep.is_some_and(|k| !k(&r)) {
                continue;
            }
            if skipped < offset {
                skipped += 1;
                continue;
            }
            out.push(r);
        }
        Ok(out)
    }

    /// Members in the subtree of `unit` (with `status`, only those), from the maintained subtree totals:
    /// a few counters read, whatever the subtree's size.
    pub fn subtree_total(&self, unit: &UnitPath, status: Option<&str>) -> Result<u64, StoreError> {
        if let Some(st) = status {
            return read_u64(self.kv.get(index::total_key(unit, st))?);
        }
        let mut prefix = vec![b'J'];
        prefix.extend_from_slice(&unit.index_key());
        prefix.push(0xFF);
        let mut n = 0;
        for kv in self.kv.scan_prefix(prefix) {
            n += read_u64(Some(kv?.1))?;
        }
        Ok(n)
    }

    /// Number of members stored.
    pub fn member_count(&self) -> usize {
        read_u64(self.kv.get(index::MEMBERS_KEY).ok().flatten()).unwrap_or(0) as usize
    }

    /// Number of quarantined changes.
    pub fn quarantine_count(&self) -> usize {
        self.kv.scan_prefix([b'Q']).count()
    }

    /// Diacritic- and case-insensitive name search: every word of the query must begin a word of the name.
    pub fn search(&self, query: &str) -> Result<Vec<MemberRecord>, StoreError> {
        Ok(self.search_page(query, usize::MAX)?.0)
    }

    /// Like [`Store::search`], returning at most `limit` members and the number that match in all. Only
    /// the name-index postings of the query's rarest word are read.
    pub fn search_page(
        &self,
        query: &str,
        limit: usize,
    ) -> Result<(Vec<MemberRecord>, usize), StoreError> {
        let (page, total, _) = self.search_counted(query, limit, usize::MAX)?;
        Ok((page, total))
    }

    /// Like [`Store::search_page`], counting matches only up to `count`: the scan stops once that many
    /// are found, and the third value says whether the count is exact (a common name at the city
    /// matches tens of thousands; a clerk needs the first page and "more than N").
    pub fn search_counted(
        &self,
        query: &str,
        limit: usize,
        count: usize,
    ) -> Result<(Vec<MemberRecord>, usize, bool), StoreError> {
        let q = text::fold(query);
        let words: Vec<&str> = index::words(&q).into_iter().collect();
        let mut rarest: Option<(u64, &str)> = None;
        for w in &words {
            let mut n = 0;
            for kv in self.kv.scan_prefix(key(b'F', &[w.as_bytes()])) {
                n += read_u64(Some(kv?.1))?;
            }
            if rarest.is_none_or(|(m, _)| n < m) {
                rarest = Some((n, w));
            }
        }
        let Some((_, scan)) = rarest else {
            return Ok((Vec::new(), 0, true));
        };
        let mut exact = true;
        let mut hits: Vec<MemberId> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for kv in self.kv.scan_prefix(key(b'N', &[scan.as_bytes()])) {
            if hits.len() >= count {
                exact = false;
                break;
            }
            let (k, name) = kv?;
            let id = id_from(&k[k.len().saturating_sub(16)..])?;
            let name =
                std::str::from_utf8(&name).map_err(|_| StoreError::Corrupt("name index".into()))?;
            if words
                .iter()
                .all(|w| name.split(' ').any(|n| n.starts_with(w)))
                && seen.insert(id)
            {
                hits.push(id);
            }
        }
        let mut out = Vec::new();
        for id in hits.iter().take(limit) {
            if let Some(r) = self.record(id)? {
                out.push(r);
            }
        }
        Ok((out, hits.len(), exact))
    }

    /// Headcount by unit, status and sector over the subtree of `scope`, read from the maintained
    /// counters (no projection is decoded).
    pub fn headcount(&self, scope: &UnitPath) -> Result<Vec<Headcount>, StoreError> {
        self.kv
            .scan_prefix(key(b'G', &[&scope.index_key()]))
            .map(|kv| {
                let (k, v) = kv?;
                index::parse_headcount(&k, &v)
            })
            .collect()
    }

    /// Member ids whose text form starts with `prefix` (for short ids typed by a clerk).
    pub fn resolve_prefix(&self, prefix: &str) -> Result<Vec<MemberId>, StoreError> {
        let p = prefix.trim().to_ascii_lowercase();
        if let Ok(id) = p.parse::<MemberId>() {
            return Ok(if self.record(&id)?.is_some() {
                vec![id]
            } else {
                vec![]
            });
        }
        let mut out = Vec::new();
        for kv in self.kv.scan_prefix([b'P']) {
            let (k, _) = kv?;
            let id = id_from(&k[1..])?;
            if id.to_string().starts_with(&p) {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// A document's changes in the order this store applied them, with their log sequence numbers.
    pub fn history(&self, id: &MemberId) -> Result<Vec<(u64, SignedChange)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.kv.scan_prefix(key(b'H', &[id.as_bytes()])) {
            let (k, hash) = kv?;
            let seq = read_u64(Some(sled::IVec::from(&k[17..])))?;
            out.push((seq, self.change(&hash)?));
        }
        Ok(out)
    }

    pub(crate) fn change(&self, hash: &[u8]) -> Result<SignedChange, StoreError> {
        let missing = || StoreError::Corrupt("a change named in a history is not stored".into());
        let seq = self.kv.get(key(b'C', &[hash]))?.ok_or_else(missing)?;
        let entry = self
            .kv
            .get(key(b'L', &[&seq]))
            .map(|e| e.ok_or_else(missing))??;
        let (_, _, envelope) = parse_log(&entry)?;
        SignedChange::decode(envelope.to_vec()).map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    /// Changes in the log after `since`, in log order, at most `limit`.
    pub fn changes_since(
        &self,
        since: u64,
        limit: usize,
    ) -> Result<Vec<(u64, SignedChange)>, StoreError> {
        Ok(self
            .log_since(since, limit)?
            .0
            .into_iter()
            .map(|e| (e.seq, e.change))
            .collect())
    }

    /// Log entries after `since`, at most `limit` examined, with the units each change touched, and the
    /// last sequence number examined (`since` if none). Changes removed with their member (moved out of
    /// this node's scope) have left the log.
    pub fn log_since(&self, since: u64, limit: usize) -> Result<(Vec<LogEntry>, u64), StoreError> {
        self.log_since_in(since, limit, limit, None)
    }

    /// Like [`Store::log_since`] for a peer with scope `scope`: returns at most `limit` entries that
    /// touch a unit inside `scope`, examining at most `examine` entries (entries outside it are skipped
    /// without decoding their envelopes, so a district pulling from the city's log does not read the
    /// other districts' changes).
    pub fn log_since_in(
        &self,
        since: u64,
        limit: usize,
        examine: usize,
        scope: Option<&UnitPath>,
    ) -> Result<(Vec<LogEntry>, u64), StoreError> {
        let start = key(b'L', &[&since.saturating_add(1).to_be_bytes()]);
        let mut out = Vec::new();
        let mut last = since;
        for kv in self.kv.range(start..).take(examine) {
            if out.len() >= limit {
                break;
            }
            let (k, v) = kv?;
            if k.first() != Some(&b'L') {
                break;
            }
            let seq = read_u64(Some(sled::IVec::from(&k[1..])))?;
            last = seq;
            let (_, units, envelope) = parse_log(&v)?;
            let everywhere = units == ledger::EVERYWHERE;
            let units: Vec<UnitPath> = units
                .split('\n')
                .filter_map(|u| UnitPath::parse(u).ok())
                .collect();
            if !everywhere && scope.is_some_and(|s| !units.iter().any(|u| s.covers(u))) {
                continue;
            }
            let change = SignedChange::decode(envelope.to_vec())
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            out.push(LogEntry {
                seq,
                change,
                units,
                everywhere,
            });
        }
        Ok((out, last))
    }

    /// Whether a change (by Automerge hash) is stored.
    pub fn has_change(&self, hash: &[u8; 32]) -> Result<bool, StoreError> {
        Ok(self.kv.contains_key(key(b'C', &[hash]))?)
    }

    /// Number of changes waiting for missing dependencies.
    pub fn pending_count(&self) -> usize {
        self.kv.scan_prefix([b'W']).count()
    }

    /// Records refused changes, durably, in one batch.
    pub fn quarantine(
        &self,
        items: Vec<(Vec<u8>, rollmesh_proto::Rejection)>,
        source: &str,
    ) -> Result<(), StoreError> {
        if items.is_empty() {
            return Ok(());
        }
        let mut st = self.lock();
        let mut batch = sled::Batch::default();
        let mut qseq = st.next_qseq;
        for (bytes, why) in items {
            apply::quarantine_into(&mut batch, &mut qseq, bytes, &why, source)?;
        }
        batch.insert(QSEQ_KEY, &qseq.to_be_bytes());
        self.kv.apply_batch(batch)?;
        self.db.flush()?;
        st.next_qseq = qseq;
        Ok(())
    }

    /// Every quarantined change, oldest first.
    pub fn quarantine_list(&self) -> Result<Vec<QuarantineEntry>, StoreError> {
        self.kv
            .scan_prefix([b'Q'])
            .map(|kv| {
                let (_, v) = kv?;
                postcard::from_bytes(&v).map_err(|e| StoreError::Corrupt(e.to_string()))
            })
            .collect()
    }

    /// Trusts a node id (the foundation's hand-kept trust list).
    pub fn trust_add(&self, id: NodeId, note: &str) -> Result<bool, StoreError> {
        let entry = TrustEntry {
            node_id: id.to_string(),
            added_at: now(),
            note: note.to_string(),
        };
        let bytes =
            postcard::to_allocvec(&entry).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let old = self
            .kv
            .insert(key(b'T', &[id.compact().as_bytes()]), bytes)?;
        self.db.flush()?;
        Ok(old.is_none())
    }

    /// Removes a trusted node id; true when it was present.
    pub fn trust_remove(&self, id: NodeId) -> Result<bool, StoreError> {
        let old = self.kv.remove(key(b'T', &[id.compact().as_bytes()]))?;
        self.db.flush()?;
        Ok(old.is_some())
    }

    /// Whether a node id is trusted.
    pub fn is_trusted(&self, id: NodeId) -> Result<bool, StoreError> {
        Ok(self
            .kv
            .contains_key(key(b'T', &[id.compact().as_bytes()]))?)
    }

    /// The trusted node ids.
    pub fn trust_list(&self) -> Result<Vec<TrustEntry>, StoreError> {
        self.kv
            .scan_prefix([b'T'])
            .map(|kv| {
                let (_, v) = kv?;
                postcard::from_bytes(&v).map_err(|e| StoreError::Corrupt(e.to_string()))
            })
            .collect()
    }

    /// Every document's `(id, unit, state hash)` (members by their unit, ledgers by their cell,
    /// organisation-wide documents with no unit: every scope holds them), for set reconciliation.
    pub fn states(&self) -> Result<Vec<DocState>, StoreError> {
        let mut out = Vec::new();
        for kv in self.kv.scan_prefix([b'O']) {
            let (k, v) = kv?;
            let hash = <[u8; 32]>::try_from(v.get(..32).unwrap_or_default())
                .map_err(|_| StoreError::Corrupt("state hash".into()))?;
            out.push((id_from(&k[1..])?, None, hash));
        }
        for kv in self.kv.scan_prefix([b'B']) {
            let (k, v) = kv?;
            let (hash, name, _, _) = ledger::decode_place(&v)?;
            let units = name.units().into_iter().cloned().collect();
            out.push((id_from(&k[1..])?, Some(units), hash));
        }
        for kv in self.kv.scan_prefix([b'P']) {
            let (k, v) = kv?;
            let id = id_from(&k[1..])?;
            let hash = <[u8; 32]>::try_from(v.get(..32).unwrap_or_default())
                .map_err(|_| StoreError::Corrupt("state hash".into()))?;
            if let Some(unit) = decode_record(&v)?.unit() {
                out.push((id, Some(vec![unit]), hash));
            }
        }
        Ok(out)
    }

    /// Gives the change log a new index id: done when a peer shows that this log was rolled back (a
    /// restored backup), so every peer's checkpoint against it becomes void and they reconcile instead.
    pub fn rotate_index(&self) -> Result<u64, StoreError> {
        let _st = self.lock();
        let mut meta = self.meta.clone();
        meta.index_id = rand_u64();
        let bytes = postcard::to_allocvec(&meta).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.kv.insert(META_KEY, bytes)?;
        self.db.flush()?;
        self.index_id
            .store(meta.index_id, std::sync::atomic::Ordering::SeqCst);
        Ok(meta.index_id)
    }

    /// The change log's current index id.
    pub fn index_id(&self) -> u64 {
        self.index_id.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Keeps a small local blob under `name` (derived data such as the last screening result; never
    /// replicated), durably.
    pub fn put_local(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.kv.insert(key(b'S', &[name.as_bytes()]), bytes)?;
        self.db.flush()?;
        Ok(())
    }

    /// A blob kept by [`Store::put_local`].
    pub fn get_local(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .kv
            .get(key(b'S', &[name.as_bytes()]))?
            .map(|v| v.to_vec()))
    }

    /// Our position in a peer's change log: `(index id, last sequence applied)`.
    pub fn checkpoint(&self, peer: &NodePublicKey) -> Result<(u64, u64), StoreError> {
        match self.kv.get(key(b'X', &[&peer.0]))? {
            Some(v) if v.len() == 16 => {
                let a = read_u64(Some(sled::IVec::from(&v[..8])))?;
                let b = read_u64(Some(sled::IVec::from(&v[8..])))?;
                Ok((a, b))
            }
            _ => Ok((0, 0)),
        }
    }

    /// Records our position in a peer's change log (after the changes up to it are durable). It is not
    /// flushed on its own: the next write's flush (or sled's periodic one) makes it durable, and sled
    /// recovers writes in order, so a crash can only lose the newest checkpoint — which repeats a pull
    /// whose changes are then recognised as duplicates — never leave one ahead of the changes.
    pub fn set_checkpoint(
        &self,
        peer: &NodePublicKey,
        index: u64,
        seq: u64,
    ) -> Result<(), StoreError> {
        let mut v = index.to_be_bytes().to_vec();
        v.extend_from_slice(&seq.to_be_bytes());
        self.kv.insert(key(b'X', &[&peer.0]), v)?;
        Ok(())
    }

    /// Records (or replaces) the credential chain of a node key; true when it was new or different.
    pub fn put_chain(&self, subject: &NodePublicKey, chain: &[u8]) -> Result<bool, StoreError> {
        let k = key(b'K', &[&subject.0]);
        if self.kv.get(&k)?.as_deref() == Some(chain) {
            return Ok(false);
        }
        self.kv.insert(k, chain)?;
        self.db.flush()?;
        Ok(true)
    }

    /// Removes quarantine entries (after their changes were taken up again).
    pub fn quarantine_remove(&self, seqs: &[u64]) -> Result<(), StoreError> {
        if seqs.is_empty() {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        for s in seqs {
            batch.remove(key(b'Q', &[&s.to_be_bytes()]));
        }
        self.kv.apply_batch(batch)?;
        self.db.flush()?;
        Ok(())
    }

    /// The credential chain recorded for a node key.
    pub fn chain(&self, subject: &NodePublicKey) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.kv.get(key(b'K', &[&subject.0]))?.map(|v| v.to_vec()))
    }

    /// Every recorded chain, by subject key.
    pub fn chains(&self) -> Result<Vec<(NodePublicKey, Vec<u8>)>, StoreError> {
        self.kv
            .scan_prefix([b'K'])
            .map(|kv| {
                let (k, v) = kv?;
                let subject = <[u8; 32]>::try_from(&k[1..])
                    .map_err(|_| StoreError::Corrupt("chain key".into()))?;
                Ok((NodePublicKey(subject), v.to_vec()))
            })
            .collect()
    }

    /// Records a revocation; true when it was new.
    pub fn put_revocation(&self, bytes: &[u8]) -> Result<bool, StoreError> {
        use sha2::Digest;
        let k = key(b'R', &[&sha2::Sha256::digest(bytes)]);
        if self.kv.contains_key(&k)? {
            return Ok(false);
        }
        self.kv.insert(k, bytes)?;
        self.db.flush()?;
        Ok(true)
    }

    /// Every recorded revocation.
    pub fn revocations(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        self.kv
            .scan_prefix([b'R'])
            .map(|kv| Ok(kv?.1.to_vec()))
            .collect()
    }

    /// Hashes of every stored change by `author` (for a revocation's accepted list).
    pub fn changes_by(&self, author: &NodePublicKey) -> Result<Vec<[u8; 32]>, StoreError> {
        let mut out = Vec::new();
        for kv in self.kv.scan_prefix([b'L']) {
            let (_, v) = kv?;
            let (hash, _, envelope) = parse_log(&v)?;
            if envelope.len() > 34 && envelope[2..34] == author.0 {
                out.push(*hash);
            }
        }
        Ok(out)
    }

    /// Switches the node key this store belongs to (key rotation). History signed by the old key stays.
    pub fn set_node_key(&mut self, new: NodePublicKey) -> Result<(), StoreError> {
        let mut meta = self.meta.clone();
        meta.node_key = new.0;
        let bytes = postcard::to_allocvec(&meta).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.kv.insert(META_KEY, bytes)?;
        self.db.flush()?;
        self.meta = meta;
        Ok(())
    }

    /// Entries, key bytes and value bytes under each key prefix (what the store holds, before sled's own
    /// overhead), for sizing.
    pub fn key_stats(&self) -> Result<Vec<(char, u64, u64, u64)>, StoreError> {
        let mut by: std::collections::BTreeMap<u8, (u64, u64, u64)> = Default::default();
        for kv in self.kv.iter() {
            let (k, v) = kv?;
            let e = by.entry(k.first().copied().unwrap_or(0)).or_default();
            e.0 += 1;
            e.1 += k.len() as u64;
            e.2 += v.len() as u64;
        }
        Ok(by
            .into_iter()
            .map(|(p, (n, k, v))| (p as char, n, k, v))
            .collect())
    }

    /// Bytes the store takes on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.db.size_on_disk()?)
    }
}

/// Encodes a change-log entry: the change hash, the units it touched, the envelope.
pub(crate) fn log_entry(hash: &[u8; 32], units: &str, envelope: &[u8]) -> Vec<u8> {
    let units = &units.as_bytes()[..units.len().min(u16::MAX as usize)];
    let mut v = Vec::with_capacity(34 + units.len() + envelope.len());
    v.extend_from_slice(hash);
    v.extend_from_slice(&(units.len() as u16).to_be_bytes());
    v.extend_from_slice(units);
    v.extend_from_slice(envelope);
    v
}

/// Splits a change-log entry into its hash, units and envelope.
pub(crate) fn parse_log(v: &[u8]) -> Result<(&[u8; 32], &str, &[u8]), StoreError> {
    let bad = || StoreError::Corrupt("log entry".into());
    let hash: &[u8; 32] = v
        .get(..32)
        .and_then(|h| h.try_into().ok())
        .ok_or_else(bad)?;
    let len = v.get(32..34).ok_or_else(bad)?;
    let len = u16::from_be_bytes([len[0], len[1]]) as usize;
    let units = v.get(34..34 + len).ok_or_else(bad)?;
    let units = std::str::from_utf8(units).map_err(|_| bad())?;
    Ok((hash, units, &v[34 + len..]))
}

/// Decodes a stored projection (`P`: the 32-byte state hash, then the record).
pub(crate) fn decode_record(bytes: &[u8]) -> Result<MemberRecord, StoreError> {
    let body = bytes
        .get(32..)
        .ok_or_else(|| StoreError::Corrupt("projection too short".into()))?;
    postcard::from_bytes(body).map_err(|e| StoreError::Corrupt(format!("projection: {e}")))
}

fn rand_u64() -> u64 {
    // The index id only needs to differ between stores (and between a store and its restored copy).
    rand::random()
}
