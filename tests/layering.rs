//! The crate layering of docs/ARCHITECTURE.md, enforced: each workspace crate may depend only on the
//! crates below it. Pure crates (model, protocol, sync, simulation) reach no I/O crate; the store and the
//! network never depend on each other; the engine knows nothing of QUIC; only the binary wires them.
//! A new crate fails this test until it is given its place here.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// Each crate and the workspace crates it may use (normal dependencies).
const ALLOWED: &[(&str, &[&str])] = &[
    ("rollmesh-model", &[]),
    ("rollmesh-proto", &["rollmesh-model"]),
    ("rollmesh-sync", &[]),
    ("rollmesh-sim", &["rollmesh-sync"]),
    ("rollmesh-rules", &["rollmesh-model"]),
    ("rollmesh-store", &["rollmesh-model", "rollmesh-proto"]),
    ("rollmesh-net", &["rollmesh-proto"]),
    (
        "rollmesh-engine",
        &[
            "rollmesh-model",
            "rollmesh-proto",
            "rollmesh-rules",
            "rollmesh-store",
            "rollmesh-sync",
        ],
    ),
    (
        "rollmesh",
        &[
            "rollmesh-model",
            "rollmesh-proto",
            "rollmesh-rules",
            "rollmesh-store",
            "rollmesh-sync",
            "rollmesh-net",
            "rollmesh-engine",
        ],
    ),
    (
        "rollmesh-bench",
        &[
            "rollmesh-model",
            "rollmesh-proto",
            "rollmesh-store",
            "rollmesh-engine",
            "rollmesh",
        ],
    ),
];

fn workspace_deps() -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let packages = meta["packages"].as_array().expect("packages");
    let members: BTreeSet<String> = packages
        .iter()
        .filter_map(|p| p["name"].as_str().map(str::to_string))
        .collect();
    let mut deps = BTreeMap::new();
    for p in packages {
        let name = p["name"].as_str().expect("name").to_string();
        let uses: BTreeSet<String> = p["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            .filter(|d| d["kind"].is_null()) // normal dependencies; dev and build ones do not ship
            .filter_map(|d| d["name"].as_str())
            .filter(|d| members.contains(*d))
            .map(str::to_string)
            .collect();
        deps.insert(name, uses);
    }
    deps
}

#[test]
fn crates_depend_only_downward() {
    let allowed: BTreeMap<&str, BTreeSet<&str>> = ALLOWED
        .iter()
        .map(|(c, d)| (*c, d.iter().copied().collect()))
        .collect();
    let mut wrong = Vec::new();
    for (krate, uses) in workspace_deps() {
        let Some(ok) = allowed.get(krate.as_str()) else {
            wrong.push(format!(
                "{krate} has no place in the layering (tests/layering.rs)"
            ));
            continue;
        };
        for d in uses {
            if !ok.contains(d.as_str()) {
                wrong.push(format!("{krate} must not depend on {d}"));
            }
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
}

#[test]
fn the_layering_table_is_a_strict_order() {
    // Every allowed dependency is listed before its user, so the table itself has no cycle.
    let position: BTreeMap<&str, usize> = ALLOWED
        .iter()
        .enumerate()
        .map(|(i, (c, _))| (*c, i))
        .collect();
    for (i, (krate, deps)) in ALLOWED.iter().enumerate() {
        for d in deps.iter() {
            assert!(
                position[d] < i,
                "{krate} may use {d}, which is not below it"
            );
        }
    }
}

/// The top-level modules of `node/src` and the ones each refers to (`crate::x`, `use crate::{x, ..}`).
fn node_module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = path.strip_prefix(&src).expect("under src");
            let top = rel
                .components()
                .next()
                .and_then(|c| c.as_os_str().to_str())
                .expect("name")
                .trim_end_matches(".rs")
                .to_string();
            let text = std::fs::read_to_string(&path).expect("read");
            let refs = graph.entry(top.clone()).or_default();
            for (i, _) in text.match_indices("crate::") {
                let rest = &text[i + "crate::".len()..];
                let names: Vec<&str> = if let Some(list) = rest.strip_prefix('{') {
                    let list = &list[..list.find('}').unwrap_or(0)];
                    list.split(',').map(|s| s.trim()).collect()
                } else {
                    vec![rest]
                };
                for n in names {
                    let name: String = n
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() && name != top && name.chars().all(|c| !c.is_uppercase()) {
                        refs.insert(name);
                    }
                }
            }
        }
    }
    graph
}

#[test]
fn node_modules_do_not_import_each_other_in_a_circle() {
    let graph = node_module_graph();
    assert!(
        graph.contains_key("cli") && graph.contains_key("daemon"),
        "{graph:?}"
    );
    // Depth-first search for a back edge.
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == n) {
            let mut cycle = path[at..].to_vec();
            cycle.push(n.to_string());
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            if g.contains_key(m) {
                if let Some(c) = visit(m, g, path, done) {
                    return Some(c);
                }
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for n in graph.keys() {
        if let Some(cycle) = visit(n, &graph, &mut Vec::new(), &mut done) {
            panic!(
                "node/src modules import each other in a circle: {}",
                cycle.join(" -> ")
            );
        }
    }
}
