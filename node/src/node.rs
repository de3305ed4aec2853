//! A node's data directory: `node.key` (the ed25519 secret, mode 0600) and `store/` (sled). [`Node`] owns
//! both and is the one place where local edits become signed changes and where incoming changes meet the
//! trust policy before they reach the store.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use rollmesh_model::{
    Dossier, DossierEdit, Event, Field, MemberId, MemberRecord, OrgTree, UnitPath,
};
use rollmesh_proto::{
    actor_for, BundleReader, BundleWriter, DocKind, NodeId, NodeKey, RejectCode, Rejection,
    SignedChange, VerifiedChange, TAG_CHANGE,
};
use rollmesh_store::{ApplyReport, Store, StoreError};

const KEY_FILE: &str = "node.key";
const STORE_DIR: &str = "store";

/// Errors of node operations, each meant to be shown to a clerk as one line.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// `init` on a directory that already holds a node.
    #[error("{0} already holds a rollmesh node; nothing was changed")]
    AlreadyInitialised(PathBuf),
    /// A command on a directory without a node.
    #[error("{0} is not a rollmesh data directory (run `rollmesh init` first)")]
    NotInitialised(PathBuf),
    /// The unit is not in the organisation tree given.
    #[error("unit {0} is not in the organisation tree")]
    UnknownUnit(UnitPath),
    /// A member's unit lies outside this node's scope.
    #[error("unit {unit} is outside this node's scope ({scope})")]
    OutOfScope {
        /// The unit asked for.
        unit: UnitPath,
        /// The node's own unit.
        scope: UnitPath,
    },
    /// No member matches the id given.
    #[error("no member with id {0}")]
    NoSuchMember(String),
    /// A short id matches several members.
    #[error("id {0} matches several members; type more characters")]
    Ambiguous(String),
    /// A dossier operation was refused.
    #[error(transparent)]
    Dossier(#[from] rollmesh_model::DossierError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The key file is unreadable.
    #[error("{0}: not a rollmesh node key file")]
    KeyFile(PathBuf),
    /// The bundle is not a bundle.
    #[error(transparent)]
    Bundle(#[from] rollmesh_proto::BundleError),
    /// Our own fresh change could not be wrapped (a bug, reported rather than panicking).
    #[error("internal: {0}")]
    Internal(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> NodeError + '_ {
    move |source| NodeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What happened to a set of incoming changes.
#[derive(Debug, Default, Clone)]
pub struct AcceptReport {
    /// Records read.
    pub received: usize,
    /// The store's report on the changes that passed verification and trust.
    pub applied: ApplyReport,
    /// Changes refused before reaching the store (bad signature, untrusted, malformed), with reasons.
    pub rejected: Vec<Rejection>,
    /// False when a bundle's trailer was missing or did not match (truncated or damaged file).
    pub complete: bool,
}

impl AcceptReport {
    /// Every refusal, including the store's own.
    pub fn rejected_total(&self) -> usize {
        self.rejected.len() + self.applied.rejected.len()
    }
}

/// An open node.
pub struct Node {
    dir: PathBuf,
    key: NodeKey,
    store: Store,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Node {
    /// Creates a node in `dir` for `unit`: writes a fresh key (mode 0600) and an empty store. Refuses, and
    /// changes nothing, when `dir` already holds a node.
    pub fn init(dir: &Path, unit: UnitPath, tree: Option<&OrgTree>) -> Result<Node, NodeError> {
        if let Some(t) = tree {
            if t.unit(&unit).is_none() {
                return Err(NodeError::UnknownUnit(unit));
            }
        }
        let key_path = dir.join(KEY_FILE);
        let store_dir = dir.join(STORE_DIR);
        if key_path.exists() || store_dir.exists() {
            return Err(NodeError::AlreadyInitialised(dir.to_path_buf()));
        }
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let key = NodeKey::generate();
        write_private(&key_path, key.to_file_text().as_bytes())?;
        let store = match Store::create(&store_dir, unit, key.public()) {
            Ok(s) => s,
            Err(e) => {
                // Leave the directory as we found it.
                let _ = fs::remove_file(&key_path);
                let _ = fs::remove_dir_all(&store_dir);
                return Err(e.into());
            }
        };
        Ok(Node {
            dir: dir.to_path_buf(),
            key,
            store,
        })
    }

    /// Opens the node in `dir`.
    pub fn open(dir: &Path) -> Result<Node, NodeError> {
        let key_path = dir.join(KEY_FILE);
        if !key_path.exists() {
            return Err(NodeError::NotInitialised(dir.to_path_buf()));
        }
        let text = fs::read_to_string(&key_path).map_err(io_err(&key_path))?;
        let key =
            NodeKey::from_file_text(&text).map_err(|_| NodeError::KeyFile(key_path.clone()))?;
        let store = Store::open(&dir.join(STORE_DIR))?;
        if store.meta().public_key() != key.public() {
            return Err(NodeError::KeyFile(key_path));
        }
        Ok(Node {
            dir: dir.to_path_buf(),
            key,
            store,
        })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.key.public().node_id()
    }

    /// The unit this node serves.
    pub fn unit(&self) -> &UnitPath {
        &self.store.meta().unit
    }

    /// The store, for reads.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn check_scope(&self, unit: &UnitPath) -> Result<(), NodeError> {
        if self.unit().covers(unit) {
            Ok(())
        } else {
            Err(NodeError::OutOfScope {
                unit: unit.clone(),
                scope: self.unit().clone(),
            })
        }
    }

    /// Builds the signed creation change of a new member (not yet stored). `fields` hold normalised
    /// values; the unit defaults to the node's own and must lie in its scope.
    pub fn new_member(
        &self,
        mut fields: BTreeMap<Field, String>,
        events: Vec<Event>,
    ) -> Result<(MemberId, VerifiedChange), NodeError> {
        let unit = match fields.get(&Field::Unit) {
            Some(u) => UnitPath::parse(u).map_err(|_| {
                NodeError::Dossier(rollmesh_model::FieldError::Required("unit").into())
            })?,
            None => self.unit().clone(),
        };
        self.check_scope(&unit)?;
        fields.insert(Field::Unit, unit.to_string());
        let id = MemberId::random();
        let (_, change) =
            Dossier::create(id, actor_for(&self.key.public()), fields, events, now())?;
        let vc = VerifiedChange::sign_own(&self.key, DocKind::Member, id, change)
            .map_err(|r| NodeError::Internal(r.to_string()))?;
        Ok((id, vc))
    }

    /// Adds one member; returns its id once the change is durable.
    pub fn add_member(
        &self,
        fields: BTreeMap<Field, String>,
        events: Vec<Event>,
    ) -> Result<MemberId, NodeError> {
        let (id, vc) = self.new_member(fields, events)?;
        self.store.apply(vec![vc], "local")?;
        Ok(id)
    }

    /// Stores a batch of this node's own new changes in one durable write.
    pub fn commit_own(&self, changes: Vec<VerifiedChange>) -> Result<ApplyReport, NodeError> {
        Ok(self.store.apply(changes, "local")?)
    }

    /// Finds a member by full id or unique prefix.
    pub fn resolve(&self, id_or_prefix: &str) -> Result<MemberId, NodeError> {
        let ids = self.store.resolve_prefix(id_or_prefix)?;
        match ids.len() {
            0 => Err(NodeError::NoSuchMember(id_or_prefix.to_string())),
            1 => Ok(ids[0]),
            _ => Err(NodeError::Ambiguous(id_or_prefix.to_string())),
        }
    }

    /// Edits a member; false when the edit changed nothing.
    pub fn edit_member(&self, id: MemberId, edit: &DossierEdit) -> Result<bool, NodeError> {
        if let Some(u) = edit.set.get(&Field::Unit) {
            let u = UnitPath::parse(u).map_err(|_| {
                NodeError::Dossier(rollmesh_model::FieldError::Required("unit").into())
            })?;
            self.check_scope(&u)?;
        }
        let mut d = self
            .store
            .dossier(&id)?
            .ok_or_else(|| NodeError::NoSuchMember(id.to_string()))?;
        let Some(change) = d.edit(actor_for(&self.key.public()), edit, now())? else {
            return Ok(false);
        };
        let vc = VerifiedChange::sign_own(&self.key, DocKind::Member, id, change)
            .map_err(|r| NodeError::Internal(r.to_string()))?;
        self.store.apply(vec![vc], "local")?;
        Ok(true)
    }

    /// A member's projection.
    pub fn record(&self, id: &MemberId) -> Result<MemberRecord, NodeError> {
        self.store
            .record(id)?
            .ok_or_else(|| NodeError::NoSuchMember(id.to_string()))
    }

    /// Whether changes by this author are accepted here: our own, or a node id a clerk has trusted.
    fn trusts(&self, env: &SignedChange) -> Result<bool, NodeError> {
        let author = env.author();
        Ok(author == self.key.public() || self.store.is_trusted(author.node_id())?)
    }

    /// Verifies, trust-checks and applies raw envelopes; refusals are quarantined with their reasons and
    /// never stop the valid changes around them.
    pub fn accept(&self, raw: Vec<Vec<u8>>, source: &str) -> Result<AcceptReport, NodeError> {
        let mut report = AcceptReport {
            received: raw.len(),
            complete: true,
            ..AcceptReport::default()
        };
        let mut quarantine: Vec<(Vec<u8>, Rejection)> = Vec::new();
        let mut envelopes = Vec::new();
        for bytes in raw {
            match SignedChange::decode(bytes.clone()) {
                Ok(e) => envelopes.push(e),
                Err(e) => {
                    quarantine.push((bytes, Rejection::new(RejectCode::Malformed, e.to_string())))
                }
            }
        }
        let mut good = Vec::new();
        for (env, result) in envelopes.iter().zip(SignedChange::verify_many(&envelopes)) {
            match result {
                Err(why) => quarantine.push((env.as_bytes().to_vec(), why)),
                Ok(vc) => {
                    if self.trusts(env)? {
                        good.push(vc);
                    } else {
                        let why = Rejection::new(
                            RejectCode::Untrusted,
                            format!(
                                "author {} is not trusted by this node",
                                env.author().node_id()
                            ),
                        );
                        quarantine.push((env.as_bytes().to_vec(), why));
                    }
                }
            }
        }
        report.rejected = quarantine.iter().map(|(_, r)| r.clone()).collect();
        self.store.quarantine(quarantine, source)?;
        report.applied = self.store.apply(good, source)?;
        Ok(report)
    }

    /// Writes every change after log sequence `since` to a bundle file (atomically: a temporary file
    /// renamed into place). Returns the number of changes and the last sequence number included.
    pub fn export_bundle(&self, out: &Path, since: u64) -> Result<(usize, u64), NodeError> {
        let tmp = out.with_extension("partial");
        let file = fs::File::create(&tmp).map_err(io_err(&tmp))?;
        let mut w = BundleWriter::new(std::io::BufWriter::new(file))?;
        let mut last = since;
        let mut count = 0;
        loop {
            let page = self.store.changes_since(last, 4096)?;
            if page.is_empty() {
                break;
            }
            for (seq, c) in &page {
                w.push_change(c)?;
                last = *seq;
                count += 1;
            }
        }
        let buf = w.finish()?;
        let file = buf.into_inner().map_err(|e| NodeError::Io {
            path: tmp.clone(),
            source: e.into_error(),
        })?;
        file.sync_all().map_err(io_err(&tmp))?;
        fs::rename(&tmp, out).map_err(io_err(out))?;
        Ok((count, last))
    }

    /// Reads a bundle file and accepts its changes.
    pub fn import_bundle(&self, path: &Path) -> Result<AcceptReport, NodeError> {
        let bytes = fs::read(path).map_err(io_err(path))?;
        let bundle = BundleReader::parse(&bytes)?;
        let mut raw = Vec::new();
        let mut unknown = 0;
        for r in bundle.records {
            if r.tag == TAG_CHANGE {
                raw.push(r.body);
            } else {
                unknown += 1;
            }
        }
        let source = format!(
            "bundle:{}",
            path.file_name()
                .map(|f| f.to_string_lossy())
                .unwrap_or_default()
        );
        let mut report = self.accept(raw, &source)?;
        report.complete = bundle.complete && unknown == 0;
        Ok(report)
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), NodeError> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(io_err(path))?;
    f.write_all(bytes).map_err(io_err(path))?;
    f.sync_all().map_err(io_err(path))?;
    Ok(())
}
