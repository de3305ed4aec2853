//! Credentials: requesting, issuing, installing (with key rotation) and revoking them, the root key file,
//! and the audit entry a command leaves.

use std::fs;
use std::io::Write;
use std::path::Path;

use rollmesh_model::UnitPath;
use rollmesh_proto::{
    roles, Chain, ChainError, Credential, CredentialRequest, NodeId, NodeKey, NodePublicKey,
    Revocation,
};

use crate::error::io_err;
use crate::node::{now, Node, KEY_FILE, NEXT_KEY_FILE};
use crate::settings::write_settings;
use crate::NodeError;

pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), NodeError> {
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

thread_local! {
    static ACTING: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` with `user` as the person audit entries name on this thread: a running node serving a
/// request from its API acts for the person signed in, not for itself.
pub fn as_user<R>(user: &str, f: impl FnOnce() -> R) -> R {
    let before = ACTING.with(|a| a.replace(Some(user.to_string())));
    let out = f();
    ACTING.with(|a| *a.borrow_mut() = before);
    out
}

/// The person acting on this thread: the one set by [`as_user`] (a clerk signed in to the node's API),
/// else the login name of the process (the owner at the command line).
pub fn acting_person() -> String {
    ACTING.with(|a| a.borrow().clone()).unwrap_or_else(|| {
        std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .ok()
            .filter(|u| !u.is_empty())
            .or_else(login_name)
            .unwrap_or_else(|| "?".to_string())
    })
}

/// The login name of the process's user, from `/etc/passwd` (a service started without `$USER`).
fn login_name() -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let uid = fs::metadata("/proc/self").ok()?.uid().to_string();
        let passwd = fs::read_to_string("/etc/passwd").ok()?;
        passwd.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2] == uid).then(|| f[0].to_string())
        })
    }
    #[cfg(not(unix))]
    None
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

    /// Revokes a node key (every credential of it, `serial = None`) or one credential by serial. The key
    /// or credential may be any link of any chain this node holds (a ward's key appears in its cells'
    /// chains), for a unit inside this node's own. The revocation lists the target's changes this node
    /// has accepted; it is stored here and travels in every bundle from now on, ahead of the changes.
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
        // The target may be any link of any chain this node holds, not only a chain's own subject: a ward's
        // key is known to its district as the middle link of its cells' chains. A link this node may revoke
        // (a unit inside its own) is preferred over one it may not.
        let mut target: Option<(NodePublicKey, UnitPath)> = None;
        for (_, bytes) in self.store.chains()? {
            let Ok(chain) = Chain::decode(&bytes) else {
                continue;
            };
            for link in &chain.0 {
                let hit = match (node_id, serial) {
                    (Some(id), _) => link.subject.node_id() == id,
                    (None, Some(s)) => link.serial == s,
                    (None, None) => false,
                };
                let better = match &target {
                    None => true,
                    Some((_, unit)) => !leaf.unit.covers(unit) && leaf.unit.covers(&link.unit),
                };
                if hit && better {
                    target = Some((link.subject, link.unit.clone()));
                }
            }
        }
        let (key, unit) = target.ok_or_else(|| {
            NodeError::Refused(
                "no known credential matches (import a bundle in which that key appears first)"
                    .into(),
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

    /// Records a read or write of member data in the audit log, under the acting user (see
    /// [`as_user`](crate::credentials::as_user)) or else the process's login name.
    pub fn audit(&self, action: &str, target: &str, detail: &str) -> Result<(), NodeError> {
        let user = acting_person();
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

#[cfg(test)]
mod tests {
    //! Revoking by node id: any key the node has seen in a chain, not only a chain's own subject.

    use super::*;
    use crate::testkit::{Org, C1, C2, WARD};
    use rollmesh_sync::Record;

    const DISTRICT: &str = "hn.d01";

    #[test]
    fn an_ancestor_revokes_a_key_it_knows_only_as_a_middle_link() {
        let org = Org::new();
        let district = org.open(DISTRICT);
        // The district holds one cell's chain (root → city → district → ward → cell), never the ward's own.
        let r = district
            .accept_records(vec![org.chain_record(C1)], "c1")
            .expect("accept");
        assert_eq!(r.chains, 1);
        assert!(district
            .chain_of(&org.public(WARD))
            .expect("read")
            .is_none());
        let rev = district
            .credential_revoke(Some(org.public(WARD).node_id()), None)
            .expect("the ward's key is known from the cell's chain");
        assert_eq!(rev.target, org.public(WARD));
        assert_eq!(rev.unit.as_str(), WARD);
        assert_eq!(rev.serial, 0);
        let revs = district.revocations().expect("revocations");
        assert_eq!(revs.len(), 1, "recorded, and valid");
        // Every chain through the ward is now refused: its cells are cut off until certified anew.
        let root = district.root().expect("root");
        for cell in [C1, C2] {
            assert!(matches!(
                org.chain(cell).validate(&root, now(), &revs),
                Err(ChainError::Revoked(_))
            ));
        }
        assert_eq!(
            org.chain(DISTRICT).validate(&root, now(), &revs),
            Ok(()),
            "the district's own chain is untouched"
        );
        // A key the district sees in that chain but does not cover stays out of its reach, and so does its
        // own key.
        for unit in ["hn", DISTRICT] {
            let e = district
                .credential_revoke(Some(org.public(unit).node_id()), None)
                .expect_err("not below the district");
            assert!(e.to_string().contains("not below"), "{unit}: {e}");
        }
        // A key it has seen in no chain at all is still unknown.
        let e = district
            .credential_revoke(Some(org.public(C2).node_id()), None)
            .expect_err("unknown");
        assert!(e.to_string().contains("no known credential"), "{e}");
        // The revocation travels: the city records it from the district's records.
        let city = org.open("hn");
        let r = city
            .accept_records(
                vec![Record::revocation(rev.encode()), org.chain_record(DISTRICT)],
                "district",
            )
            .expect("accept");
        assert_eq!(r.revocations, 1);
        assert!(
            r.refused_credentials.is_empty(),
            "{:?}",
            r.refused_credentials
        );
    }
}
