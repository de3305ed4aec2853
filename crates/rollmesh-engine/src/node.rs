//! A node's data directory: `node.key` (the ed25519 secret), `node.toml` (settings such as the
//! organisation's root key) and `store/` (sled). The directory and everything the node writes in it are
//! private to their owner whatever the umask: directories 0700, files 0600. [`Node`] owns them and is the
//! one place where local edits become signed changes and where incoming changes, chains and revocations
//! meet the authority rules before they reach the store.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use rollmesh_model::{
    Dossier, DossierEdit, Event, Field, MemberId, MemberRecord, OrgTree, UnitPath,
};
use rollmesh_proto::{actor_for, DocKind, NodeId, NodeKey, NodePublicKey, VerifiedChange};
use rollmesh_store::{ApplyReport, Store};

use crate::credentials::write_private;
use crate::error::io_err;
use crate::settings::{read_settings, write_settings};
use crate::{NodeError, NodeSettings};

pub(crate) const KEY_FILE: &str = "node.key";
pub(crate) const NEXT_KEY_FILE: &str = "node.key.next";
pub(crate) const CONFIG_FILE: &str = "node.toml";
const STORE_DIR: &str = "store";

/// An open node.
pub struct Node {
    pub(crate) dir: PathBuf,
    pub(crate) key: NodeKey,
    pub(crate) store: Store,
    pub(crate) settings: NodeSettings,
    /// Serialises this node's own ledger edits: two made at once from the same document would give
    /// our actor the same sequence number twice.
    pub(crate) ledger_writes: std::sync::Mutex<()>,
    /// The published organisation tree, parsed, with the state hash it was parsed at.
    pub(crate) tree_cache: crate::orgdocs::TreeCache,
}

pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Creates `dir` (and any missing parent) with mode 0700 whatever the umask, and makes it 0700 if it
/// already existed: a data directory holds the node's secret key and member dossiers.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), NodeError> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir).map_err(io_err(dir))?;
    set_mode(dir, 0o700)
}

/// Today in Vietnam (UTC+7), the date input is checked against.
fn today() -> chrono::NaiveDate {
    (chrono::Utc::now() + chrono::Duration::hours(7)).date_naive()
}

/// Sets the permission bits of `path` to `mode` if they differ (unix; elsewhere nothing).
pub(crate) fn set_mode(path: &Path, mode: u32) -> Result<(), NodeError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = fs::symlink_metadata(path).map_err(io_err(path))?;
        if !meta.file_type().is_symlink() && meta.permissions().mode() & 0o7777 != mode {
            fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io_err(path))?;
        }
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

impl Node {
    /// Creates a node in `dir` for `unit`: writes a fresh key and an empty store, the directory 0700 and
    /// every file 0600 whatever the umask. Refuses, and changes nothing, when `dir` already holds a node.
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
        create_private_dir(dir)?;
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
            ledger_writes: Default::default(),
            tree_cache: Default::default(),
            dir: dir.to_path_buf(),
            key,
            store,
            settings,
        })
    }

    /// Opens the node in `dir`, first making the directory, `node.key` and `node.toml` private to their
    /// owner (the store does the same for its own files): a data directory made by an older version, or
    /// copied with loose permissions, is tightened.
    pub fn open(dir: &Path) -> Result<Node, NodeError> {
        let key_path = dir.join(KEY_FILE);
        if !key_path.exists() {
            return Err(NodeError::NotInitialised(dir.to_path_buf()));
        }
        set_mode(dir, 0o700)?;
        for f in [KEY_FILE, CONFIG_FILE] {
            let p = dir.join(f);
            if p.exists() {
                set_mode(&p, 0o600)?;
            }
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
            ledger_writes: Default::default(),
            tree_cache: Default::default(),
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
    pub fn read_id(dir: &Path) -> Result<NodeId, NodeError> {
        let path = dir.join(KEY_FILE);
        let text = fs::read_to_string(&path).map_err(io_err(&path))?;
        let key = NodeKey::from_file_text(&text).map_err(|_| NodeError::KeyFile(path))?;
        Ok(key.public().node_id())
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

    pub(crate) fn check_scope(&self, unit: &UnitPath) -> Result<(), NodeError> {
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
        fields: BTreeMap<Field, String>,
        events: Vec<Event>,
    ) -> Result<(MemberId, VerifiedChange, Dossier), NodeError> {
        self.build_member_by(fields, events, &crate::credentials::acting_person())
    }

    /// [`Node::build_member`] naming `by` as the person (for worker threads, which do not carry the
    /// acting person of the request).
    pub fn build_member_by(
        &self,
        mut fields: BTreeMap<Field, String>,
        events: Vec<Event>,
        by: &str,
    ) -> Result<(MemberId, VerifiedChange, Dossier), NodeError> {
        let unit = match fields.get(&Field::Unit) {
            Some(u) => UnitPath::parse(u).map_err(|_| {
                NodeError::Dossier(rollmesh_model::FieldError::Required("unit").into())
            })?,
            None => self.unit().clone(),
        };
        // A unit that does not exist is that, before it is out of scope.
        self.check_unit_exists(&unit)?;
        self.check_scope(&unit)?;
        fields.insert(Field::Unit, unit.to_string());
        rollmesh_model::member::check_dates(|f| fields.get(&f).cloned(), today())
            .map_err(|e| NodeError::Dossier(e.into()))?;
        let id = crate::ids::new_member_id();
        let (dossier, change) = Dossier::create_by(
            id,
            actor_for(&self.key.public()),
            fields,
            events,
            now(),
            Some(by),
        )?;
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
            self.check_unit_exists(&u)?;
            self.check_scope(&u)?;
        }
        let mut d = self
            .store
            .dossier(&id)?
            .ok_or_else(|| NodeError::NoSuchMember(id.to_string()))?;
        let current = d.record()?;
        // An event the dossier already holds (same kind, date and detail) is not recorded twice.
        let fresh: Vec<_> = edit
            .events
            .iter()
            .filter(|e| !current.events.contains(e))
            .cloned()
            .collect();
        let deduped;
        let edit = if fresh.len() == edit.events.len() {
            edit
        } else {
            deduped = DossierEdit {
                events: fresh,
                ..edit.clone()
            };
            &deduped
        };
        let after = |f: Field| {
            if edit.clear.contains(&f) {
                None
            } else {
                edit.set
                    .get(&f)
                    .cloned()
                    .or_else(|| current.get(f).map(str::to_string))
            }
        };
        let dates = [
            Field::DateOfBirth,
            Field::YouthUnionDate,
            Field::AdmissionDate,
            Field::OfficialDate,
        ];
        // Only an edit of a date is checked against the other dates (an older dossier with odd dates
        // can still have its phone number changed).
        if dates
            .iter()
            .any(|f| edit.set.contains_key(f) || edit.clear.contains(f))
        {
            rollmesh_model::member::check_dates(after, today())
                .map_err(|e| NodeError::Dossier(e.into()))?;
        }
        let history = d.doc().clone();
        let by = crate::credentials::acting_person();
        let Some(change) = d.edit_by(actor_for(&self.key.public()), edit, now(), Some(&by))? else {
            return Ok(false);
        };
        // What every receiving node checks, here first: the steps it adds are this unit's to take, and
        // a decided status comes with the step that decides it.
        let written = rollmesh_model::dossier_write(&history, &change)
            .map_err(|e| NodeError::Internal(e.to_string()))?;
        let after = d.record()?;
        if let Err(why) = crate::cases::check_change(
            &self.competence()?,
            self.unit(),
            Some(&current),
            &after,
            &written,
        ) {
            if after.status() != current.status() {
                let (from, to) = (
                    current.status().map_or("—", |s| s.label_vi()),
                    after.status().map_or("—", |s| s.label_vi()),
                );
                return Err(NodeError::Refused(crate::msg!(
                    "trạng thái {from} → {to} chỉ được ghi bằng quyết định trong hồ sơ (rollmesh case …), không sửa tay",
                    "the status {from} → {to} is recorded only by a decision of a case (rollmesh case …), not by editing"
                )));
            }
            return Err(NodeError::Refused(why));
        }
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
        // The rayon threads do not carry the acting person: read it here.
        let by = crate::credentials::acting_person();
        let mut changed = 0;
        for chunk in edits.chunks(batch.max(1)) {
            // Loading, editing and signing each dossier is independent: both cores take part.
            let built = chunk
                .par_iter()
                .map(|(id, edit)| {
                    let Some(mut d) = self.store.dossier(id)? else {
                        return Ok(None);
                    };
                    let Some(change) =
                        d.edit_by(actor_for(&self.key.public()), edit, now(), Some(&by))?
                    else {
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
}
