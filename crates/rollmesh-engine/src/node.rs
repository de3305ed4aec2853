//! A node's data directory: `node.key` (the ed25519 secret, mode 0600), `node.toml` (settings such as the
//! organisation's root key) and `store/` (sled). [`Node`] owns them and is the one place where local edits
//! become signed changes and where incoming changes, chains and revocations meet the authority rules
//! before they reach the store.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use rollmesh_model::{
    Dossier, DossierEdit, Event, Field, MemberId, MemberRecord, OrgTree, UnitPath,
};
use rollmesh_proto::{
    actor_for, roles, BundleReader, BundleWriter, Chain, ChainError, Credential, CredentialRequest,
    DocKind, NodeId, NodeKey, NodePublicKey, RejectCode, Rejection, Revocation, SignedChange,
    VerifiedChange, TAG_CHAIN, TAG_CHANGE, TAG_REVOCATION,
};
use rollmesh_store::{ApplyReport, Store, StoreError};
use serde::{Deserialize, Serialize};

use crate::authority::{ChangePolicy, Trust};

const KEY_FILE: &str = "node.key";
const NEXT_KEY_FILE: &str = "node.key.next";
const CONFIG_FILE: &str = "node.toml";
const STORE_DIR: &str = "store";

/// The settings kept in a data directory's `node.toml` (documented in `config/node.example.toml`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NodeSettings {
    /// The organisation's root public key (hex). When set, changes are accepted by credential chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_key: Option<String>,
    /// The data directory, when the settings file lives elsewhere (relative to the file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// The UDP address `rollmesh run` listens on for QUIC (e.g. "127.0.0.1:7401"; port 0 = any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// Peers this node dials (its parent first); it also accepts any authorised peer that dials it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<PeerSettings>,
    /// A credential chain file to present instead of the installed one (for tests and recovery).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_file: Option<String>,
}

/// One peer to dial.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PeerSettings {
    /// Its QUIC address, e.g. "127.0.0.1:7400".
    pub address: String,
    /// Its expected node id; the connection is refused if another node answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    /// A name for status output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

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
    /// A credential, chain, request or revocation was refused.
    #[error("credential refused: {0}")]
    Credential(#[from] ChainError),
    /// An operation needs the organisation's root key configured.
    #[error("no root key is configured for this node (init --root)")]
    NoRoot,
    /// `node.toml` is unreadable.
    #[error("{path}: {detail}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A credential operation that does not fit this node (wrong unit, wrong key, nothing to revoke…).
    #[error("{0}")]
    Refused(String),
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
    /// Change records read.
    pub received: usize,
    /// New revocations recorded.
    pub revocations: usize,
    /// Credential chains recorded.
    pub chains: usize,
    /// Chains or revocations refused, with reasons.
    pub refused_credentials: Vec<String>,
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

/// Incoming records checked and prepared, not yet written (see [`Node::prepare_records`]).
pub struct PreparedAccept {
    report: AcceptReport,
    prepared: rollmesh_store::Prepared,
    retried: Vec<u64>,
    source: String,
}

/// An open node.
pub struct Node {
    dir: PathBuf,
    key: NodeKey,
    store: Store,
    settings: NodeSettings,
}

fn read_settings(dir: &Path) -> Result<NodeSettings, NodeError> {
    let path = dir.join(CONFIG_FILE);
    if !path.exists() {
        return Ok(NodeSettings::default());
    }
    let text = fs::read_to_string(&path).map_err(io_err(&path))?;
    let s: NodeSettings = toml::from_str(&text).map_err(|e| NodeError::Config {
        path: path.clone(),
        detail: e.to_string(),
    })?;
    if let Some(k) = &s.root_key {
        if NodePublicKey::from_hex(k).is_none() {
            return Err(NodeError::Config {
                path,
                detail: "root_key is not 64 hex characters".into(),
            });
        }
    }
    Ok(s)
}

fn write_settings(dir: &Path, s: &NodeSettings) -> Result<(), NodeError> {
    let path = dir.join(CONFIG_FILE);
    let body = toml::to_string(s).map_err(|e| NodeError::Internal(e.to_string()))?;
    let text = format!(
        "# rollmesh node settings; every key is described in config/node.example.toml\n{body}"
    );
    fs::write(&path, text).map_err(io_err(&path))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Node {
    /// Creates a node in `dir` for `unit`: writes a fresh key (mode 0600) and an empty store. Refuses, and
    /// changes nothing, when `dir` already holds a node.
    pub fn init(
        dir: &Path,
        unit: UnitPath,
        tree: Option<&OrgTree>,
        root: Option<NodePublicKey>,
    ) -> Result<Node, NodeError> {
        Self::init_with_key(dir, unit, tree, root, NodeKey::generate())
    }

    /// [`Node::init`] with a given key (the organisation bootstrap generates keys itself).
    pub fn init_with_key(
        dir: &Path,
        unit: UnitPath,
        tree: Option<&OrgTree>,
        root: Option<NodePublicKey>,
        key: NodeKey,
    ) -> Result<Node, NodeError> {
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
        write_private(&key_path, key.to_file_text().as_bytes())?;
        let settings = NodeSettings {
            root_key: root.map(|r| r.to_hex()),
            ..NodeSettings::default()
        };
        write_settings(dir, &settings)?;
        let store = match Store::create(&store_dir, unit, key.public()) {
            Ok(s) => s,
            Err(e) => {
                // Leave the directory as we found it.
                let _ = fs::remove_file(&key_path);
                let _ = fs::remove_file(dir.join(CONFIG_FILE));
                let _ = fs::remove_dir_all(&store_dir);
                return Err(e.into());
            }
        };
        Ok(Node {
            dir: dir.to_path_buf(),
            key,
            store,
            settings,
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
        let settings = read_settings(dir)?;
        let store = Store::open(&dir.join(STORE_DIR))?;
        if store.meta().public_key() != key.public() {
            return Err(NodeError::KeyFile(key_path));
        }
        Ok(Node {
            dir: dir.to_path_buf(),
            key,
            store,
            settings,
        })
    }

    /// The configured root key, if any.
    pub fn root(&self) -> Option<NodePublicKey> {
        self.settings
            .root_key
            .as_deref()
            .and_then(NodePublicKey::from_hex)
    }

    /// This node's public key.
    pub fn public_key(&self) -> NodePublicKey {
        self.key.public()
    }

    /// This node's settings (`node.toml`).
    pub fn settings(&self) -> &NodeSettings {
        &self.settings
    }

    /// Replaces and saves the settings.
    pub fn save_settings(&mut self, s: NodeSettings) -> Result<(), NodeError> {
        write_settings(&self.dir, &s)?;
        self.settings = s;
        Ok(())
    }

    /// The node key's secret seed (to derive the TLS identity).
    pub fn key_seed(&self) -> [u8; 32] {
        self.key.seed()
    }

    /// The node id of the node in `dir`, read from its key file alone (works while the node runs).
    pub fn open_read_only_id(dir: &Path) -> String {
        fs::read_to_string(dir.join(KEY_FILE))
            .ok()
            .and_then(|t| NodeKey::from_file_text(&t).ok())
            .map(|k| k.public().node_id().to_string())
            .unwrap_or_default()
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
        fields: BTreeMap<Field, String>,
        events: Vec<Event>,
    ) -> Result<(MemberId, VerifiedChange), NodeError> {
        let (id, vc, _) = self.build_member(fields, events)?;
        Ok((id, vc))
    }

    /// Like [`Node::new_member`], also returning the document built (for [`Node::commit_created`]).
    pub fn build_member(
        &self,
        mut fields: BTreeMap<Field, String>,
        events: Vec<Event>,
    ) -> Result<(MemberId, VerifiedChange, Dossier), NodeError> {
        let unit = match fields.get(&Field::Unit) {
            Some(u) => UnitPath::parse(u).map_err(|_| {
                NodeError::Dossier(rollmesh_model::FieldError::Required("unit").into())
            })?,
            None => self.unit().clone(),
        };
        self.check_scope(&unit)?;
        fields.insert(Field::Unit, unit.to_string());
        let id = MemberId::random();
        let (dossier, change) =
            Dossier::create(id, actor_for(&self.key.public()), fields, events, now())?;
        let vc = VerifiedChange::sign_own(&self.key, DocKind::Member, id, change)
            .map_err(|r| NodeError::Internal(r.to_string()))?;
        Ok((id, vc, dossier))
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

    /// Stores new members built here by [`Node::build_member`] in one durable write, taking their built
    /// documents as they are.
    pub fn commit_created(
        &self,
        created: Vec<(VerifiedChange, Dossier)>,
    ) -> Result<ApplyReport, NodeError> {
        let created = created
            .into_iter()
            .map(|(vc, d)| (vc, d.into_doc()))
            .collect();
        Ok(self.store.apply_created(created, "local")?)
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

    /// Applies many edits made here, committing them in durable batches of `batch` (bulk maintenance and
    /// the benchmark's simulated year). Returns how many changed something.
    pub fn edit_many(
        &self,
        edits: Vec<(MemberId, DossierEdit)>,
        batch: usize,
    ) -> Result<usize, NodeError> {
        use rayon::prelude::*;
        let mut changed = 0;
        for chunk in edits.chunks(batch.max(1)) {
            // Loading, editing and signing each dossier is independent: both cores take part.
            let built = chunk
                .par_iter()
                .map(|(id, edit)| {
                    let Some(mut d) = self.store.dossier(id)? else {
                        return Ok(None);
                    };
                    let Some(change) = d.edit(actor_for(&self.key.public()), edit, now())? else {
                        return Ok(None);
                    };
                    VerifiedChange::sign_own(&self.key, DocKind::Member, *id, change)
                        .map(Some)
                        .map_err(|r| NodeError::Internal(r.to_string()))
                })
                .collect::<Result<Vec<_>, NodeError>>()?;
            let pending: Vec<VerifiedChange> = built.into_iter().flatten().collect();
            changed += pending.len();
            self.store.apply(pending, "local")?;
        }
        Ok(changed)
    }

    /// A member's projection.
    pub fn record(&self, id: &MemberId) -> Result<MemberRecord, NodeError> {
        self.store
            .record(id)?
            .ok_or_else(|| NodeError::NoSuchMember(id.to_string()))
    }

    fn now() -> i64 {
        now()
    }

    /// Known revocations that verify against the configured root.
    fn valid_revocations(&self) -> Result<Vec<Revocation>, NodeError> {
        let Some(root) = self.root() else {
            return Ok(Vec::new());
        };
        let raw = self.store.revocations()?;
        let decoded: Vec<Revocation> = raw
            .iter()
            .filter_map(|b| Revocation::decode(b).ok())
            .collect();
        let mut out = Vec::new();
        for r in &decoded {
            let chain = self.chain_of(&r.issuer)?;
            if r.validate(&root, chain.as_ref(), Self::now(), &[]).is_ok() {
                out.push(r.clone());
            }
        }
        Ok(out)
    }

    /// The recorded chain of a node key.
    pub fn chain_of(&self, key: &NodePublicKey) -> Result<Option<Chain>, NodeError> {
        Ok(self.store.chain(key)?.and_then(|b| Chain::decode(&b).ok()))
    }

    /// This node's own installed chain.
    pub fn own_chain(&self) -> Result<Option<Chain>, NodeError> {
        self.chain_of(&self.key.public())
    }

    /// Takes in bundle records (or records from a peer): revocations first, then credential chains, then
    /// changes. Every change is verified and checked against the authority rules; refusals are quarantined
    /// with their reasons and never stop the valid changes around them.
    pub fn accept_records(
        &self,
        records: Vec<(u8, Vec<u8>)>,
        source: &str,
    ) -> Result<AcceptReport, NodeError> {
        let prepared = self.prepare_records(records, source)?;
        self.commit_prepared(prepared)
    }

    /// The first half of [`Node::accept_records`]: chains and revocations recorded, signatures and
    /// authority checked, refused changes quarantined, and the store's per-document work done; the
    /// changes themselves are written by [`Node::commit_prepared`]. A sync connection prepares the next
    /// batch while the previous one is being committed.
    pub fn prepare_records(
        &self,
        records: Vec<(u8, Vec<u8>)>,
        source: &str,
    ) -> Result<PreparedAccept, NodeError> {
        let mut report = AcceptReport {
            complete: true,
            ..AcceptReport::default()
        };
        let root = self.root();
        let mut raw_changes = Vec::new();
        let mut new_chains: Vec<String> = Vec::new();
        let mut bundle_chains: HashMap<NodePublicKey, Chain> = HashMap::new();
        let mut bundle_revocations = Vec::new();
        for (tag, body) in records {
            match tag {
                TAG_CHANGE => raw_changes.push(body),
                TAG_CHAIN => match Chain::decode(&body) {
                    Ok(c) => {
                        if let Some(s) = c.subject() {
                            bundle_chains.insert(s, c);
                        }
                    }
                    Err(e) => report
                        .refused_credentials
                        .push(crate::authority::chain_reason(&e)),
                },
                TAG_REVOCATION => bundle_revocations.push(body),
                _ => report.complete = false,
            }
        }
        if let Some(root) = root {
            // Revocations travel ahead of changes: record the valid ones first.
            for body in bundle_revocations {
                let r = match Revocation::decode(&body) {
                    Ok(r) => r,
                    Err(e) => {
                        report
                            .refused_credentials
                            .push(crate::authority::chain_reason(&e));
                        continue;
                    }
                };
                let issuer_chain = match bundle_chains.get(&r.issuer) {
                    Some(c) => Some(c.clone()),
                    None => self.chain_of(&r.issuer)?,
                };
                match r.validate(&root, issuer_chain.as_ref(), Self::now(), &[]) {
                    Ok(()) => {
                        if self.store.put_revocation(&body)? {
                            report.revocations += 1;
                        }
                    }
                    Err(e) => report.refused_credentials.push(format!(
                        "revocation by {}: {}",
                        r.issuer.node_id(),
                        crate::authority::chain_reason(&e)
                    )),
                }
            }
            let revocations = self.valid_revocations()?;
            for (subject, chain) in &bundle_chains {
                match chain.validate(&root, Self::now(), &revocations) {
                    Ok(()) => {
                        if self.store.put_chain(subject, &chain.encode())? {
                            new_chains.push(subject.node_id().to_string());
                        }
                        report.chains += 1;
                    }
                    Err(e) => report.refused_credentials.push(format!(
                        "chain of {}: {}",
                        subject.node_id(),
                        crate::authority::chain_reason(&e)
                    )),
                }
            }
        }
        // Changes refused only because their author's chain was unknown get another chance now it is here.
        let mut retried = Vec::new();
        if !new_chains.is_empty() {
            for q in self.store.quarantine_list()? {
                if q.code == RejectCode::NoCredential.key()
                    && q.author.as_ref().is_some_and(|a| new_chains.contains(a))
                {
                    raw_changes.push(q.bytes);
                    retried.push(q.seq);
                }
            }
        }
        report.received = raw_changes.len();
        let mut quarantine: Vec<(Vec<u8>, Rejection)> = Vec::new();
        let mut envelopes = Vec::new();
        for bytes in raw_changes {
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
                Ok(vc) => good.push(vc),
            }
        }
        let policy = self.policy(&good)?;
        report.rejected = quarantine.iter().map(|(_, r)| r.clone()).collect();
        self.store.quarantine(quarantine, source)?;
        let prepared = self.store.prepare(good, &policy)?;
        Ok(PreparedAccept {
            report,
            prepared,
            retried,
            source: source.to_string(),
        })
    }

    /// Writes what [`Node::prepare_records`] prepared, durably. Prepared batches are committed in the
    /// order they were prepared.
    pub fn commit_prepared(&self, p: PreparedAccept) -> Result<AcceptReport, NodeError> {
        let mut report = p.report;
        report.applied = self.store.commit(p.prepared, &p.source)?;
        // Only after the retried changes are applied (or quarantined afresh) do their old entries go.
        self.store.quarantine_remove(&p.retried)?;
        Ok(report)
    }

    /// Accepts raw change envelopes (no chains or revocations alongside).
    pub fn accept(&self, raw: Vec<Vec<u8>>, source: &str) -> Result<AcceptReport, NodeError> {
        self.accept_records(raw.into_iter().map(|b| (TAG_CHANGE, b)).collect(), source)
    }

    fn policy(&self, changes: &[VerifiedChange]) -> Result<ChangePolicy, NodeError> {
        let trust = match self.root() {
            Some(root) => Trust::Root(root),
            None => {
                let mut keys = Vec::new();
                let mut seen = BTreeSet::new();
                for c in changes {
                    let a = c.envelope.author();
                    if seen.insert(a) && self.store.is_trusted(a.node_id())? {
                        keys.push(a);
                    }
                }
                Trust::List(keys)
            }
        };
        let mut chains = HashMap::new();
        if matches!(trust, Trust::Root(_)) {
            for c in changes {
                let a = c.envelope.author();
                if let std::collections::hash_map::Entry::Vacant(e) = chains.entry(a) {
                    if let Some(chain) = self.chain_of(&a)? {
                        e.insert(chain);
                    }
                }
            }
        }
        Ok(ChangePolicy {
            scope: self.unit().clone(),
            own: self.key.public(),
            trust,
            revocations: self.valid_revocations()?,
            chains,
            checked: Default::default(),
            now: Self::now(),
        })
    }

    /// Writes every change after log sequence `since` to a bundle file (atomically: a temporary file
    /// renamed into place). Returns the number of changes and the last sequence number included.
    pub fn export_bundle(&self, out: &Path, since: u64) -> Result<(usize, u64), NodeError> {
        let tmp = out.with_extension("partial");
        let file = fs::File::create(&tmp).map_err(io_err(&tmp))?;
        let mut w = BundleWriter::new(std::io::BufWriter::new(file))?;
        // Revocations go first, then the chains of everyone whose signature the receiver must check.
        let mut signers: BTreeSet<NodePublicKey> = BTreeSet::new();
        for r in self.store.revocations()? {
            if let Ok(rev) = Revocation::decode(&r) {
                signers.insert(rev.issuer);
            }
            w.push(TAG_REVOCATION, &r)?;
        }
        let mut cursor = since;
        loop {
            let page = self.store.changes_since(cursor, 4096)?;
            let Some((last_seq, _)) = page.last() else {
                break;
            };
            cursor = *last_seq;
            signers.extend(page.iter().map(|(_, c)| c.author()));
        }
        for s in &signers {
            if let Some(chain) = self.store.chain(s)? {
                w.push(TAG_CHAIN, &chain)?;
            }
        }
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
        let records = bundle
            .records
            .into_iter()
            .map(|r| (r.tag, r.body))
            .collect();
        let source = format!(
            "bundle:{}",
            path.file_name()
                .map(|f| f.to_string_lossy())
                .unwrap_or_default()
        );
        let mut report = self.accept_records(records, &source)?;
        report.complete = report.complete && bundle.complete;
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

/// Who issues a credential: a node (with its installed chain) or the organisation's root key file.
pub enum Issuer<'a> {
    /// A parent node.
    Node(&'a Node),
    /// The root key (for the city node).
    Root(&'a NodeKey),
}

/// Issues a credential for a request. A node may issue only for units inside its own, and only if its own
/// chain is valid and carries the issuer role; the result is the issuer's chain plus the new link.
pub fn issue_credential(
    issuer: Issuer<'_>,
    request: &CredentialRequest,
    unit: UnitPath,
    valid_days: u32,
    roles_bits: u8,
) -> Result<Chain, NodeError> {
    if request.unit != unit {
        return Err(NodeError::Refused(format!(
            "the request asks for unit {}, not {unit}",
            request.unit
        )));
    }
    let t = now();
    let not_after = t + i64::from(valid_days) * 86_400;
    let serial: u64 = rand::random::<u64>() >> 1;
    // The chain so far and the key that signs the new link: the root starts a chain, a node extends its own.
    let (mut chain, signer, not_after) = match issuer {
        Issuer::Root(root) => (Chain(Vec::new()), root, not_after),
        Issuer::Node(node) => {
            let root = node.root().ok_or(NodeError::NoRoot)?;
            let chain = node.own_chain()?.ok_or_else(|| {
                NodeError::Refused("this node has no credential installed".into())
            })?;
            chain.validate(&root, t, &node.valid_revocations()?)?;
            let leaf = chain.leaf().ok_or(ChainError::Empty)?;
            if leaf.roles & roles::ISSUER == 0 {
                return Err(NodeError::Refused(
                    "this node's credential may not issue credentials".into(),
                ));
            }
            if !leaf.unit.covers(&unit) || leaf.unit == unit {
                return Err(NodeError::Refused(format!(
                    "unit {unit} is not below this node's unit {}",
                    leaf.unit
                )));
            }
            // A child's credential never outlives its issuer's.
            let not_after = not_after.min(leaf.not_after);
            (chain, &node.key, not_after)
        }
    };
    chain.0.push(Credential::issue(
        signer,
        request.subject,
        unit,
        roles_bits,
        t - 300,
        not_after,
        serial,
    ));
    Ok(chain)
}

/// What `credential install` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installed {
    /// The chain certifies the current key.
    Current,
    /// The chain certifies the pending key: the node rotated to it.
    Rotated,
}

impl Node {
    /// A credential request for this node's key, or, with `rotate`, for a new key kept aside
    /// (`node.key.next`) until its credential is installed.
    pub fn credential_request(&self, rotate: bool) -> Result<CredentialRequest, NodeError> {
        if !rotate {
            return Ok(CredentialRequest::new(&self.key, self.unit().clone()));
        }
        let next_path = self.dir.join(NEXT_KEY_FILE);
        let next = if next_path.exists() {
            let text = fs::read_to_string(&next_path).map_err(io_err(&next_path))?;
            NodeKey::from_file_text(&text).map_err(|_| NodeError::KeyFile(next_path.clone()))?
        } else {
            let k = NodeKey::generate();
            write_private(&next_path, k.to_file_text().as_bytes())?;
            k
        };
        Ok(CredentialRequest::new(&next, self.unit().clone()))
    }

    /// Installs a chain for this node (or for its pending rotation key, which then becomes the node key).
    pub fn credential_install(&mut self, chain: &Chain) -> Result<Installed, NodeError> {
        let root = self.root().ok_or(NodeError::NoRoot)?;
        chain.validate(&root, now(), &self.valid_revocations()?)?;
        let leaf = chain.leaf().ok_or(ChainError::Empty)?;
        if &leaf.unit != self.unit() {
            return Err(NodeError::Refused(format!(
                "the credential is for unit {}, this node serves {}",
                leaf.unit,
                self.unit()
            )));
        }
        if leaf.subject == self.key.public() {
            self.store.put_chain(&leaf.subject, &chain.encode())?;
            return Ok(Installed::Current);
        }
        let next_path = self.dir.join(NEXT_KEY_FILE);
        let next = match fs::read_to_string(&next_path) {
            Ok(text) => {
                NodeKey::from_file_text(&text).map_err(|_| NodeError::KeyFile(next_path.clone()))?
            }
            Err(_) => {
                return Err(NodeError::Refused(
                    "the credential certifies another node's key".into(),
                ))
            }
        };
        if next.public() != leaf.subject {
            return Err(NodeError::Refused(
                "the credential certifies another node's key".into(),
            ));
        }
        // Rotate: keep the old key file (its history stays verifiable by its public key), switch over.
        self.store.put_chain(&leaf.subject, &chain.encode())?;
        let key_path = self.dir.join(KEY_FILE);
        let retired = self.dir.join(format!("node.key.retired-{}", now()));
        fs::rename(&key_path, &retired).map_err(io_err(&key_path))?;
        fs::rename(&next_path, &key_path).map_err(io_err(&next_path))?;
        self.store.set_node_key(next.public())?;
        self.key = next;
        Ok(Installed::Rotated)
    }

    /// Revokes a node key (every credential of it, `serial = None`) or one credential by serial. The
    /// revocation lists the target's changes this node has accepted; it is stored here and travels in
    /// every bundle from now on, ahead of the changes.
    pub fn credential_revoke(
        &self,
        node_id: Option<NodeId>,
        serial: Option<u64>,
    ) -> Result<Revocation, NodeError> {
        let root = self.root().ok_or(NodeError::NoRoot)?;
        let own = self
            .own_chain()?
            .ok_or_else(|| NodeError::Refused("this node has no credential installed".into()))?;
        own.validate(&root, now(), &self.valid_revocations()?)?;
        let leaf = own.leaf().ok_or(ChainError::Empty)?;
        if leaf.roles & roles::ISSUER == 0 {
            return Err(NodeError::Refused(
                "this node's credential may not revoke".into(),
            ));
        }
        let mut target: Option<(NodePublicKey, UnitPath)> = None;
        for (subject, bytes) in self.store.chains()? {
            let Ok(chain) = Chain::decode(&bytes) else {
                continue;
            };
            for link in &chain.0 {
                let hit = match (node_id, serial) {
                    (Some(id), _) => link.subject.node_id() == id && link.subject == subject,
                    (None, Some(s)) => link.serial == s,
                    (None, None) => false,
                };
                if hit {
                    target = Some((link.subject, link.unit.clone()));
                }
            }
        }
        let (key, unit) = target.ok_or_else(|| {
            NodeError::Refused(
                "no known credential matches (import a bundle from that node first)".into(),
            )
        })?;
        if !leaf.unit.covers(&unit) || key == self.key.public() {
            return Err(NodeError::Refused(format!(
                "unit {unit} is not below this node's unit {}",
                leaf.unit
            )));
        }
        let accepted = self.store.changes_by(&key)?;
        let r = Revocation::issue(&self.key, key, serial.unwrap_or(0), unit, now(), accepted);
        self.store.put_revocation(&r.encode())?;
        Ok(r)
    }

    /// Records a read or write of member data in the audit log.
    pub fn audit(&self, action: &str, target: &str, detail: &str) -> Result<(), NodeError> {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "?".to_string());
        self.store
            .audit_append(&user, &self.id().to_string(), action, target, detail)?;
        Ok(())
    }

    /// Every valid revocation this node knows.
    pub fn revocations(&self) -> Result<Vec<Revocation>, NodeError> {
        self.valid_revocations()
    }

    /// Marks `root` as the organisation root for this node (for nodes created before one existed).
    pub fn set_root(&mut self, root: NodePublicKey) -> Result<(), NodeError> {
        self.settings.root_key = Some(root.to_hex());
        write_settings(&self.dir, &self.settings)
    }
}

/// Writes a new root key file (mode 0600) and returns the key.
pub fn root_init(out: &Path) -> Result<NodeKey, NodeError> {
    if out.exists() {
        return Err(NodeError::Refused(format!(
            "{} already exists; nothing was changed",
            out.display()
        )));
    }
    let key = NodeKey::generate();
    write_private(
        out,
        key.to_file_text()
            .replace("node-key", "root-key")
            .as_bytes(),
    )?;
    Ok(key)
}

/// Reads a root key file.
pub fn read_root_key(path: &Path) -> Result<NodeKey, NodeError> {
    let text = fs::read_to_string(path).map_err(io_err(path))?;
    NodeKey::from_file_text(&text.replace("root-key", "node-key"))
        .map_err(|_| NodeError::KeyFile(path.to_path_buf()))
}
