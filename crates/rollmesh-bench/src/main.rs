//! `rollmesh-bench`: measures docs/BRIEF.md §8 on real QUIC over 127.0.0.1 and real sled stores, and prints
//! one table with the target beside each figure. Run it with `--release`:
//! `cargo run --release -p rollmesh-bench -- --members 470000` (the `scale` command, the default),
//! `-- scale --quick`, `-- mesh`. The nodes it starts are this same binary running
//! `run --config …` (the rollmesh command line), so it needs nothing else built.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use rollmesh::demo::Mesh;
use rollmesh::Node;
use rollmesh_model::{DossierEdit, Field, OrgTree};
use serde_json::{json, Value};

#[derive(Parser)]
#[command(
    name = "rollmesh-bench",
    about = "Measures rollmesh against docs/BRIEF.md §8"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Args {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    /// Without a command: `scale` with these options (`rollmesh-bench --members 470000`).
    #[command(flatten)]
    scale: ScaleArgs,
}

#[derive(clap::Args)]
struct ScaleArgs {
    /// About how many members (the design card's organisation: ~480,000).
    #[arg(long, default_value_t = 470_000)]
    members: usize,
    /// ~50,000 members: a run of a few minutes.
    #[arg(long)]
    quick: bool,
    /// Generator seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Keep the data here instead of a temporary directory.
    #[arg(long)]
    dir: Option<std::path::PathBuf>,
    /// Stop after the full replica (for profiling the import and the replica alone).
    #[arg(long, hide = true)]
    replica_only: bool,
}

#[derive(Subcommand)]
enum Cmd {
    /// Every row of docs/BRIEF.md §8 on a synthetic organisation of `--members` members (the default
    /// command).
    Scale(ScaleArgs),
    /// Write the synthetic organisation's members as a CSV for `rollmesh member import`.
    Generate {
        /// About how many members (the full design-card organisation is ~480,000).
        #[arg(long, default_value_t = 480_000)]
        members: usize,
        /// The seed: same seed, same bytes.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output file.
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// The ledger rows alone: a city with about `--members` imported, then a year of every cell's
    /// ledgers written there; prints the store's bytes per key prefix and the disk per member-year.
    Ledgers {
        /// About how many members.
        #[arg(long, default_value_t = 20_000)]
        members: usize,
        /// Generator seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// The local API at a city of about `--members`: member search and list latency (p50/p99 over
    /// `--requests` each) and a district's export to xlsx.
    Api {
        /// About how many members.
        #[arg(long, default_value_t = 470_000)]
        members: usize,
        /// Generator seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Requests per measurement.
        #[arg(long, default_value_t = 500)]
        requests: usize,
    },
    /// What a node's store holds per key prefix, per member, against its size on disk.
    Disk {
        /// The node's data directory.
        #[arg(long)]
        data: std::path::PathBuf,
    },
    /// Mesh figures: quiet reconnect cost at two scope sizes, bytes for k changed documents, and the
    /// latency of a cell edit reaching the city over three hops.
    Mesh {
        /// Scope sizes (documents) for the quiet-reconnect measurement.
        #[arg(long, value_delimiter = ',', default_value = "1000,20000")]
        scopes: Vec<usize>,
        /// Changed documents for the k-changes measurement.
        #[arg(long, default_value_t = 10)]
        changed: usize,
        /// Edits timed for the latency percentiles.
        #[arg(long, default_value_t = 200)]
        edits: usize,
    },
}

const LIMIT: Duration = Duration::from_secs(300);

mod api;
mod scale;

// The bench runs nodes as processes of this binary (`run`, `rm`): the same allocator as `rollmesh`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<()> {
    // The nodes are this binary too: `rollmesh-bench run --config …` is the rollmesh daemon, and
    // `rollmesh-bench rm <command>` any other rollmesh command.
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("run") {
        let code = rollmesh::cli::main();
        std::process::exit(if code == std::process::ExitCode::SUCCESS {
            0
        } else {
            1
        });
    }
    if argv.get(1).map(String::as_str) == Some("rm") {
        let mut args = vec!["rollmesh".to_string()];
        args.extend(argv.iter().skip(2).cloned());
        let code = rollmesh::cli::main_from(args);
        std::process::exit(if code == std::process::ExitCode::SUCCESS {
            0
        } else {
            3
        });
    }
    let args = Args::parse();
    match args.cmd.unwrap_or(Cmd::Scale(args.scale)) {
        Cmd::Scale(a) => {
            let n = if a.quick { 50_000 } else { a.members };
            scale::run(n, a.seed, a.dir, a.replica_only)
        }
        Cmd::Generate { members, seed, out } => {
            let f = std::io::BufWriter::new(std::fs::File::create(&out)?);
            let n = rollmesh_bench::gen::write_csv(
                seed,
                &rollmesh_bench::gen::Shape::about(members),
                f,
            )?;
            println!("{n} members written to {}", out.display());
            Ok(())
        }
        Cmd::Ledgers { members, seed } => scale::ledgers(members, seed),
        Cmd::Api {
            members,
            seed,
            requests,
        } => api::run(members, seed, requests),
        Cmd::Disk { data } => {
            let members = rollmesh::Node::open(&data)?.store().member_count().max(1);
            scale::print_key_stats(&data, members)
        }
        Cmd::Mesh {
            scopes,
            changed,
            edits,
        } => mesh(&scopes, changed, edits),
    }
}

fn tree() -> Result<OrgTree> {
    Ok(OrgTree::from_toml(rollmesh::org::DEMO_TREE)?)
}

fn peer_of<'a>(status: &'a Value, unit: &str) -> Option<&'a Value> {
    status["peers"]
        .as_array()?
        .iter()
        .find(|p| p["unit"] == unit)
}

/// Session counters (messages, bytes) the ward sees for the cell once the reconnected session is idle.
fn session_cost(m: &Mesh, ward: usize, cell_unit: &str) -> Result<(u64, u64)> {
    let mut last = (0, 0);
    let mut stable = 0;
    let start = Instant::now();
    while start.elapsed() < LIMIT {
        let s = m.admin(ward, &json!({"cmd": "status"}))?;
        if let Some(p) = peer_of(&s, cell_unit).filter(|p| p["connected"] == true) {
            let now = (
                p["messages"].as_u64().unwrap_or(0),
                p["bytes"].as_u64().unwrap_or(0),
            );
            if now == last && now.0 > 0 {
                stable += 1;
                if stable >= 10 {
                    return Ok(now);
                }
            } else {
                stable = 0;
                last = now;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("session did not settle")
}

fn mesh(scopes: &[usize], changed: usize, edits: usize) -> Result<()> {
    let bin = std::env::current_exe()?;
    let t = tree()?;
    let mut rows: Vec<(String, String, String)> = Vec::new();
    for &n in scopes {
        let dir = tempfile::tempdir()?;
        let mut m = Mesh::create(&bin, dir.path(), &t)?;
        let w = m.index("hn.d01.w01");
        let c = m.index("hn.d01.w01.c01");
        m.seed_unit(c, n, 1)?;
        m.start(w)?;
        m.start(c)?;
        m.wait_until(LIMIT, |m| m.count(w) == Some(n as u64))
            .context("initial sync")?;
        // Both directions done (the cell has also read the ward's log to its end) before the restart.
        session_cost(&m, w, "hn.d01.w01.c01")?;
        // Quiet reconnect: the cell restarts with nothing new.
        m.stop(c, false);
        m.start(c)?;
        let (msgs, bytes) = session_cost(&m, w, "hn.d01.w01.c01")?;
        rows.push((
            format!("reconnect, nothing new, scope {n} docs"),
            format!("{msgs} messages, {bytes} B (frames incl. credential exchange)"),
            "≤ 2 round trips, ≤ 2 KB".into(),
        ));
        if n == scopes[0] {
            // k changed documents while the cell was offline.
            m.stop(c, false);
            {
                let node = Node::open(&m.nodes[c].data)?;
                for r in node.store().list(None)?.iter().take(changed) {
                    let mut e = DossierEdit::default();
                    e.set.insert(Field::Phone, "0912345678".into());
                    node.edit_member(r.id, &e)?;
                }
            }
            m.start(c)?;
            let (msgs_k, bytes_k) = session_cost(&m, w, "hn.d01.w01.c01")?;
            let per = bytes_k.saturating_sub(bytes) as f64 / changed as f64;
            rows.push((
                format!("reconnect after {changed} changed docs (scope {n})"),
                format!("{msgs_k} messages, {bytes_k} B = {per:.0} B per changed doc over the quiet cost"),
                "≤ ~1.5 KB × k + constant".into(),
            ));
        }
        m.stop_all();
    }

    // Latency over three hops in the full 15-node mesh.
    let dir = tempfile::tempdir()?;
    let mut m = Mesh::create(&bin, dir.path(), &t)?;
    let total = m.seed(&t, 20)? as u64;
    m.start_all()?;
    m.wait_until(LIMIT, |m| m.count(0) == Some(total))
        .context("mesh converge")?;
    let cell = m.index("hn.d02.w02.c02");
    let list = m.admin(cell, &json!({"cmd": "member.list"}))?;
    let ids: Vec<String> = list["members"]
        .as_array()
        .context("members")?
        .iter()
        .filter_map(|v| v["id"].as_str().map(str::to_string))
        .collect();
    let mut lat: Vec<f64> = Vec::with_capacity(edits);
    for k in 0..edits {
        let id = &ids[k % ids.len()];
        let phone = format!("09{:08}", 10_000_000 + k);
        let t0 = Instant::now();
        m.admin(
            cell,
            &json!({"cmd": "member.edit", "id": id, "fields": {"phone": phone}}),
        )?;
        loop {
            let v = m.admin(0, &json!({"cmd": "member.show", "id": id}))?;
            if v["phone"].as_str() == Some(phone.as_str()) {
                break;
            }
            if t0.elapsed() > Duration::from_secs(10) {
                bail!("edit {k} did not arrive");
            }
        }
        lat.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    m.stop_all();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let p = |q: f64| lat[((lat.len() as f64 - 1.0) * q).round() as usize];
    rows.push((
        format!("cell edit visible at city, 3 hops ({edits} edits)"),
        format!("p50 {:.1} ms, p99 {:.1} ms", p(0.5), p(0.99)),
        "p50 ≤ 20 ms, p99 ≤ 100 ms".into(),
    ));

    println!("| measurement | figure | target |");
    println!("|---|---|---|");
    for (a, b, c) in rows {
        println!("| {a} | {b} | {c} |");
    }
    Ok(())
}
