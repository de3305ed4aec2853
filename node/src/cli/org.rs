//! Setting nodes up: `init` (one node), `id` (print its node id) and `org bootstrap` (a whole tree).

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;
use rollmesh_model::{OrgTree, UnitPath};
use serde_json::json;

use super::credential::parse_root;
use super::DataDir;
use crate::render::print_json;
use rollmesh_engine::msg;
use rollmesh_engine::Node;

#[derive(Subcommand, Debug)]
pub enum OrgCmd {
    /// Tạo khóa gốc và cho mỗi đơn vị trong cây một thư mục dữ liệu đã cài sẵn chứng nhận (set up a whole tree).
    Bootstrap {
        /// Cây tổ chức; mặc định là cây mẫu bốn cấp có sẵn (the organisation tree).
        #[arg(long)]
        tree: Option<PathBuf>,
        /// Thư mục cần tạo: root.key, root.key.pub và mỗi đơn vị một thư mục dữ liệu (the directory to create).
        #[arg(long)]
        out: PathBuf,
        /// Số ngày hiệu lực của mọi chứng nhận (days of validity).
        #[arg(long, default_value_t = 365)]
        valid_days: u32,
    },
}

/// `init`: creates a node's data directory and key for one unit.
pub(super) fn init(
    unit: String,
    tree: Option<PathBuf>,
    root: Option<String>,
    data: DataDir,
    json: bool,
) -> Result<u8> {
    let tree = match tree {
        Some(p) => Some(rollmesh_engine::org::load_tree(&p)?),
        None => None,
    };
    // With a tree, the unit may be named by its code or its name.
    let unit = match tree.as_ref().and_then(|t| t.find(&unit)) {
        Some(u) => u.path.clone(),
        None => UnitPath::parse(unit.trim())
            .map_err(|_| rollmesh_engine::NodeError::NoSuchUnit(unit.trim().to_string()))?,
    };
    let root = match root {
        Some(r) => Some(parse_root(&r)?),
        None => None,
    };
    let node = Node::init(&data.data, unit, tree.as_ref(), root)?;
    if json {
        print_json(
            &json!({"node_id": node.id().to_string(), "unit": node.unit().to_string(),
            "data": node.dir().display().to_string()}),
        );
    } else {
        let (id, unit, dir) = (node.id(), node.unit(), node.dir().display());
        println!(
            "{}",
            msg!(
                "Đã khởi tạo nút cho đơn vị {unit} tại {dir}",
                "Initialised a node for unit {unit} in {dir}"
            )
        );
        println!("{}", msg!("Mã nút: {id}", "Node id: {id}"));
    }
    Ok(0)
}

/// `id`: prints this node's id.
pub(super) fn id(data: DataDir, json: bool) -> Result<u8> {
    if let Some(v) = super::request(&data, json!({"cmd": "id"}), json)? {
        println!("{}", v["node_id"].as_str().unwrap_or(""));
    }
    Ok(0)
}

/// `org bootstrap`: a root key and a data directory with a credential for every unit of a tree.
pub(super) fn bootstrap(
    tree: Option<PathBuf>,
    out: PathBuf,
    valid_days: u32,
    json: bool,
) -> Result<u8> {
    let tree = match tree {
        Some(p) => rollmesh_engine::org::load_tree(&p)?,
        None => OrgTree::from_toml(rollmesh_engine::org::DEMO_TREE)?,
    };
    let (root, units) = rollmesh_engine::org::bootstrap(&tree, &out, valid_days)?;
    if json {
        print_json(
            &json!({"root_key": root.public().to_hex(), "units": units.iter().map(|u| json!({
            "unit": u.unit.to_string(), "data": u.data.display().to_string(), "node_id": u.node_id.to_string()})).collect::<Vec<_>>()}),
        );
    } else {
        for u in &units {
            println!(
                "{:<20} {}  {}",
                u.unit.to_string(),
                u.node_id,
                u.data.display()
            );
        }
        let (n, p) = (units.len(), out.display());
        println!(
            "{}",
            msg!(
                "Đã tạo {n} nút với chứng nhận trong {p}.",
                "Created {n} nodes with credentials in {p}."
            )
        );
    }
    Ok(0)
}
