//! `org bootstrap`: a whole demo organisation in one step — a root key and, for every unit of a tree, a
//! data directory with its own node key and an installed credential issued by its parent (the root for
//! the top unit). Used by the demo, the tests and the benchmark.

use std::path::{Path, PathBuf};

use rollmesh_model::{OrgTree, UnitPath};
use rollmesh_proto::{roles, NodeId, NodeKey};

use crate::{issue_credential, root_init, Issuer, Node, NodeError};

/// The design card's four-level demo tree, embedded so the demo needs no files.
pub const DEMO_TREE: &str = include_str!("../../../config/org-demo.toml");

/// One bootstrapped unit.
#[derive(Debug, Clone)]
pub struct BootstrappedUnit {
    /// The unit.
    pub unit: UnitPath,
    /// Its data directory.
    pub data: PathBuf,
    /// Its node id.
    pub node_id: NodeId,
}

/// The data directory of `unit` under `out`.
pub fn unit_dir(out: &Path, unit: &UnitPath) -> PathBuf {
    out.join(unit.as_str())
}

/// Creates `out/root.key` and `out/<unit path>/` for every unit of `tree`, parents before children.
pub fn bootstrap(
    tree: &OrgTree,
    out: &Path,
    valid_days: u32,
) -> Result<(NodeKey, Vec<BootstrappedUnit>), NodeError> {
    // It holds the root key and every node's data directory: private, like them.
    crate::node::create_private_dir(out)?;
    let root = root_init(&out.join("root.key"))?;
    std::fs::write(
        out.join("root.key.pub"),
        format!("{}\n", root.public().to_hex()),
    )
    .map_err(|source| NodeError::Io {
        path: out.join("root.key.pub"),
        source,
    })?;
    crate::node::set_mode(&out.join("root.key.pub"), 0o600)?;
    let deepest = tree.levels.len().saturating_sub(1);
    let mut done = Vec::new();
    for info in tree.units() {
        let unit = info.path.clone();
        let dir = unit_dir(out, &unit);
        let mut node = Node::init(&dir, unit.clone(), Some(tree), Some(root.public()))?;
        let request = node.credential_request(false)?;
        let bits = if unit.depth() >= deepest {
            roles::CLERK | roles::APPROVER
        } else {
            roles::ALL
        };
        let chain = match unit.parent() {
            None => issue_credential(
                Issuer::Root(&root),
                &request,
                unit.clone(),
                valid_days,
                bits,
            )?,
            Some(parent) => {
                let parent_node = Node::open(&unit_dir(out, &parent))?;
                issue_credential(
                    Issuer::Node(&parent_node),
                    &request,
                    unit.clone(),
                    valid_days,
                    bits,
                )?
            }
        };
        node.credential_install(&chain)?;
        if unit.parent().is_none() {
            // The city publishes the tree: every node learns the units' names, kinds and wards.
            let text = tree
                .to_toml()
                .map_err(|e| NodeError::Internal(e.to_string()))?;
            node.publish_tree(&text)?;
        }
        done.push(BootstrappedUnit {
            unit,
            data: dir,
            node_id: node.id(),
        });
    }
    // Every node starts with the city's tree (as if it had synced once): units are known by name and
    // level from the first command, and a transfer can only name a cell the tree has.
    if let Some((city, rest)) = done.split_first() {
        let records = {
            let node = Node::open(&city.data)?;
            let mut records = Vec::new();
            if let Some(chain) = node.own_chain()? {
                records.push(rollmesh_sync::Record::chain(chain.encode()));
            }
            let (entries, _) = node.store().log_since(0, 1_000)?;
            records.extend(
                entries
                    .into_iter()
                    .filter(|e| e.everywhere)
                    .map(|e| rollmesh_sync::Record::change(e.change.as_bytes().to_vec())),
            );
            records
        };
        for b in rest {
            Node::open(&b.data)?.accept_records(records.clone(), "bootstrap")?;
        }
    }
    Ok((root, done))
}

/// Reads and validates an organisation tree file.
pub fn load_tree(path: &Path) -> Result<OrgTree, rollmesh_model::TreeError> {
    let text = std::fs::read_to_string(path).map_err(|source| rollmesh_model::TreeError::Io {
        path: path.display().to_string(),
        source,
    })?;
    OrgTree::from_toml(&text)
}
