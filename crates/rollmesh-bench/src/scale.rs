//! `rollmesh-bench scale`: the synthetic organisation at full (or `--quick`) size, measured row by row
//! against docs/BRIEF.md §8 on real sled stores and real QUIC on 127.0.0.1. Nodes are separate processes of
//! this binary (`run` for the daemon, `rm member import` for the bulk import), so their peak RSS is theirs.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rollmesh::{Node, PeerSettings};
pub(crate) use rollmesh_engine::root_init;
use rollmesh_engine::{issue_credential, Issuer};
use rollmesh_model::{DossierEdit, Event, EventKind, Field, UnitPath};
use serde_json::{json, Value};

use rollmesh_bench::gen;

const LIMIT: Duration = Duration::from_secs(1800);

struct Row {
    what: String,
    figure: String,
    target: String,
}

fn row(rows: &mut Vec<Row>, what: impl Into<String>, figure: impl Into<String>, target: &str) {
    let r = Row {
        what: what.into(),
        figure: figure.into(),
        target: target.into(),
    };
    eprintln!("  {} — {} (target {})", r.what, r.figure, r.target);
    rows.push(r);
}

/// A node process with its peak-RSS watcher.
pub(crate) struct Proc {
    child: Child,
    pub(crate) peak_kb: u64,
}

impl Proc {
    pub(crate) fn poll_rss(&mut self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        for l in status.lines() {
            if let Some(v) = l.strip_prefix("VmHWM:") {
                let kb: u64 = v.trim().trim_end_matches("kB").trim().parse().unwrap_or(0);
                self.peak_kb = self.peak_kb.max(kb);
            }
        }
        self.peak_kb
    }

    fn stop(&mut self) {
        self.poll_rss();
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn start(bin: &Path, data: &Path) -> Result<Proc> {
    let log = std::fs::File::create(data.join("node.log"))?;
    let child = Command::new(bin)
        .args(["run", "--config"])
        .arg(data.join("node.toml"))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()?;
    Ok(Proc { child, peak_kb: 0 })
}

fn admin(data: &Path, req: Value) -> Result<Value> {
    rollmesh::client::call(data, &req)
}

fn count(data: &Path) -> Option<u64> {
    admin(data, json!({"cmd": "status"}))
        .ok()
        .and_then(|v| v["members"].as_u64())
}

fn wait(procs: &mut [&mut Proc], mut f: impl FnMut() -> bool) -> Result<Duration> {
    let t = Instant::now();
    while t.elapsed() < LIMIT {
        for p in procs.iter_mut() {
            p.poll_rss();
        }
        if f() {
            return Ok(t.elapsed());
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    bail!("not reached within {LIMIT:?}")
}

fn port() -> Result<String> {
    Ok(format!(
        "127.0.0.1:{}",
        std::net::UdpSocket::bind("127.0.0.1:0")?
            .local_addr()?
            .port()
    ))
}

/// Creates a node for `unit` with a credential from `issuer` (None: the root) and the given peers.
pub(crate) fn make_node(
    base: &Path,
    name: &str,
    unit: &str,
    root: &rollmesh_proto::NodeKey,
    issuer: Option<&Path>,
    listen: &str,
    peers: Vec<PeerSettings>,
) -> Result<PathBuf> {
    let dir = base.join(name);
    let mut node = Node::init(&dir, UnitPath::parse(unit)?, None, Some(root.public()))?;
    let req = node.credential_request(false)?;
    let chain = match issuer {
        None => issue_credential(
            Issuer::Root(root),
            &req,
            UnitPath::parse(unit)?,
            365,
            rollmesh_proto::roles::ALL,
        )?,
        Some(p) => {
            let parent = Node::open(p)?;
            issue_credential(
                Issuer::Node(&parent),
                &req,
                UnitPath::parse(unit)?,
                365,
                rollmesh_proto::roles::ALL,
            )?
        }
    };
    node.credential_install(&chain)?;
    let mut s = node.settings().clone();
    s.listen = Some(listen.to_string());
    s.peers = peers;
    node.save_settings(s)?;
    Ok(dir)
}

fn peer(addr: &str, name: &str) -> PeerSettings {
    PeerSettings {
        address: addr.to_string(),
        node_id: None,
        name: Some(name.to_string()),
    }
}

fn session(data: &Path, unit: &str) -> Option<(u64, u64)> {
    let s = admin(data, json!({"cmd": "status"})).ok()?;
    let p = s["peers"]
        .as_array()?
        .iter()
        .find(|p| p["unit"] == unit && p["connected"] == true)?;
    Some((p["messages"].as_u64()?, p["bytes"].as_u64()?))
}

/// Waits until the session counters of `data`'s peer `unit` stop moving; returns them and the time.
fn settle(procs: &mut [&mut Proc], data: &Path, unit: &str) -> Result<((u64, u64), Duration)> {
    let t = Instant::now();
    let mut last = (0, 0);
    let mut since = Instant::now();
    while t.elapsed() < LIMIT {
        for p in procs.iter_mut() {
            p.poll_rss();
        }
        if let Some(now) = session(data, unit) {
            if now != last {
                last = now;
                since = Instant::now();
            } else if now.0 > 0 && since.elapsed() > Duration::from_millis(1500) {
                return Ok((now, t.elapsed() - Duration::from_millis(1500)));
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("session with {unit} did not settle")
}

/// What the store holds per key prefix, per member (sled's own overhead comes on top).
pub fn print_key_stats(data: &Path, members: usize) -> Result<()> {
    let node = Node::open(data)?;
    key_stats(&node, data, members)
}

/// Prints, per key prefix, the entries and payload bytes per member of an open node's store.
fn key_stats(node: &Node, data: &Path, members: usize) -> Result<()> {
    let mut total = 0;
    for (prefix, n, k, v) in node.store().key_stats()? {
        total += k + v;
        eprintln!(
            "    {prefix}: {n} entries, {:.0} B keys + {:.0} B values per member",
            k as f64 / members as f64,
            v as f64 / members as f64
        );
    }
    eprintln!(
        "    payload {:.0} B per member; on disk {:.0} B",
        total as f64 / members as f64,
        dir_size(&data.join("store")) as f64 / members as f64
    );
    Ok(())
}

fn dir_size(p: &Path) -> u64 {
    let mut n = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let path = e.path();
            if path.is_dir() {
                n += dir_size(&path);
            } else if let Ok(m) = e.metadata() {
                n += m.len();
            }
        }
    }
    n
}

/// Imports `csv` into the node at `data` with the real command, polling its memory; returns the seconds
/// it took and the finished process (for its peak RSS).
pub(crate) fn bulk_import(bin: &Path, csv: &Path, data: &Path) -> Result<(f64, Proc)> {
    let t = Instant::now();
    let mut import = Proc {
        child: Command::new(bin)
            .args(["rm", "member", "import", "--json", "--csv"])
            .arg(csv)
            .arg("--data")
            .arg(data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
        peak_kb: 0,
    };
    let status = loop {
        import.poll_rss();
        if let Some(s) = import.child.try_wait()? {
            break s;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let secs = t.elapsed().as_secs_f64();
    if !status.success() {
        bail!("import failed: {status}");
    }
    Ok((secs, import))
}

/// Writes a year of every cell's ledger at the node (`gen::year_of_ledgers`) and records the disk it
/// took per member-year; returns the number of signed changes.
fn ledger_year(
    node: &Node,
    data: &Path,
    n: usize,
    seed: u64,
    cells: &std::collections::BTreeMap<UnitPath, Vec<rollmesh_model::MemberId>>,
    rows: &mut Vec<Row>,
) -> Result<usize> {
    let year = gen::year_of_ledgers(seed, cells, 2025);
    let before = dir_size(&data.join("store"));
    let t_ledgers = Instant::now();
    let ledger_changes = node.edit_ledgers(year, 4000)?;
    let ledger_secs = t_ledgers.elapsed().as_secs_f64();
    let after = dir_size(&data.join("store"));
    key_stats(node, data, n)?;
    row(
        rows,
        format!(
            "a year of ledgers for {} cells ({ledger_changes} signed changes in {ledger_secs:.0} s): disk per member-year",
            cells.len()
        ),
        format!("{:.0} B", after.saturating_sub(before) as f64 / n as f64),
        "≤ 1 KB",
    );
    Ok(ledger_changes)
}

/// A city node (not running) with the synthetic organisation of about `members` imported, in a
/// temporary directory that lives as long as the value.
pub(crate) struct ImportedCity {
    pub(crate) tmp: tempfile::TempDir,
    pub(crate) csv: PathBuf,
    pub(crate) city: PathBuf,
    pub(crate) n: usize,
}

pub(crate) fn imported_city(members: usize, seed: u64) -> Result<ImportedCity> {
    let tmp = tempfile::tempdir()?;
    let base = tmp.path();
    let bin = std::env::current_exe()?;
    let shape = gen::Shape::about(members);
    let csv = base.join("members.csv");
    let n = gen::write_csv(
        seed,
        &shape,
        std::io::BufWriter::new(std::fs::File::create(&csv)?),
    )?;
    let root = root_init(&base.join("root.key"))?;
    let city = make_node(base, "city", "hn", &root, None, "127.0.0.1:0", vec![])?;
    let (secs, _) = bulk_import(&bin, &csv, &city)?;
    eprintln!("imported {n} members in {secs:.1} s");
    Ok(ImportedCity { tmp, csv, city, n })
}

/// The ledger rows alone: an organisation of about `members` imported at a city node, then a year of
/// ledgers written there (what `scale` measures in its step 8, without the mesh around it).
pub fn ledgers(members: usize, seed: u64) -> Result<()> {
    let ImportedCity {
        tmp: _tmp, city, n, ..
    } = imported_city(members, seed)?;
    let node = Node::open(&city)?;
    let mut cells: std::collections::BTreeMap<UnitPath, Vec<rollmesh_model::MemberId>> =
        Default::default();
    for r in node.store().list(None)? {
        if let Some(u) = r.unit() {
            cells.entry(u).or_default().push(r.id);
        }
    }
    let mut rows = Vec::new();
    ledger_year(&node, &city, n, seed, &cells, &mut rows)?;
    drop(cells);
    let as_of = chrono::NaiveDate::from_ymd_opt(2026, 1, 15).context("date")?;
    let t = Instant::now();
    let facts = node.screen_facts(None)?;
    let facts_secs = t.elapsed().as_secs_f64();
    drop(facts);
    let t = Instant::now();
    let run = node.screen_run(as_of)?;
    row(
        &mut rows,
        format!(
            "screening the city: every rule over {n} members ({} flags; gathering the facts alone {facts_secs:.1} s)",
            run.flags.len()
        ),
        format!("{:.1} s", t.elapsed().as_secs_f64()),
        "≤ 10 s",
    );
    for r in rows {
        println!("| {} | {} | {} |", r.what, r.figure, r.target);
    }
    Ok(())
}

pub fn run(members: usize, seed: u64, dir: Option<PathBuf>, replica_only: bool) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let base = dir.unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&base)?;
    let bin = std::env::current_exe()?;
    let mut rows = Vec::new();

    // The organisation.
    let shape = gen::Shape::about(members);
    let csv = base.join("members.csv");
    let t = Instant::now();
    let n = gen::write_csv(
        seed,
        &shape,
        std::io::BufWriter::new(std::fs::File::create(&csv)?),
    )?;
    eprintln!(
        "generated {n} members ({} districts) in {:.1} s",
        shape.districts,
        t.elapsed().as_secs_f64()
    );
    let root = root_init(&base.join("root.key"))?;
    let (city_addr, standby_addr, district_addr, ward_addr) = (port()?, port()?, port()?, port()?);
    let city = make_node(&base, "city", "hn", &root, None, &city_addr, vec![])?;
    let standby = make_node(
        &base,
        "standby",
        "hn",
        &root,
        None,
        &standby_addr,
        vec![peer(&city_addr, "city")],
    )?;
    let district = make_node(
        &base,
        "district",
        "hn.d01",
        &root,
        Some(&city),
        &district_addr,
        vec![peer(&city_addr, "city")],
    )?;
    let ward = make_node(
        &base,
        "ward",
        "hn.d01.w01",
        &root,
        Some(&district),
        &ward_addr,
        vec![peer(&district_addr, "district")],
    )?;
    let cell = make_node(
        &base,
        "cell",
        "hn.d01.w01.c001",
        &root,
        Some(&ward),
        "127.0.0.1:0",
        vec![peer(&ward_addr, "ward")],
    )?;

    // 1. Bulk import at the city, through the real command.
    let (secs, import) = bulk_import(&bin, &csv, &city)?;
    row(
        &mut rows,
        format!("bulk import of {n} members into the city (signed)"),
        format!(
            "{secs:.1} s ({:.0} members/s), peak RSS {} MB",
            n as f64 / secs,
            import.peak_kb / 1024
        ),
        "≤ 60 s",
    );
    let fresh_disk = dir_size(&city.join("store"));
    row(
        &mut rows,
        "disk per member at the city, fresh",
        format!(
            "{:.0} B ({} MB for {n})",
            fresh_disk as f64 / n as f64,
            fresh_disk >> 20
        ),
        "≤ 4 KB",
    );
    print_key_stats(&city, n)?;
    let district_members = {
        let node = Node::open(&city)?;
        node.store().list(Some(&UnitPath::parse("hn.d01")?))?.len() as u64
    };

    // 2. Full replica to a standby city over QUIC.
    let mut city_p = start(&bin, &city)?;
    let mut standby_p = start(&bin, &standby)?;
    let took = wait(&mut [&mut city_p, &mut standby_p], || {
        count(&standby) == Some(n as u64)
    })?;
    row(
        &mut rows,
        format!("full replica of {n} to a standby city, every signature verified"),
        format!("{:.1} s", took.as_secs_f64()),
        "≤ 60 s",
    );

    if replica_only {
        return Ok(());
    }

    // 3. A new district node bootstrapping its subtree.
    let mut district_p = start(&bin, &district)?;
    let took = wait(&mut [&mut city_p, &mut district_p], || {
        count(&district) == Some(district_members)
    })?;
    row(
        &mut rows,
        format!("new district node bootstrapping its {district_members}-member subtree"),
        format!("{:.1} s", took.as_secs_f64()),
        "≤ 3 s",
    );

    // 4. Quiet reconnects at district and city scope (after every backfill in both directions is done).
    settle(&mut [&mut city_p], &city, "hn.d01")?;
    settle(&mut [&mut city_p], &city, "hn")?;
    for (proc_, data, unit, scope) in [
        (&mut district_p, &district, "hn.d01", district_members),
        (&mut standby_p, &standby, "hn", n as u64),
    ] {
        proc_.stop();
        *proc_ = start(&bin, data)?;
        let ((m, b), _) = settle(&mut [&mut city_p], &city, unit)?;
        row(
            &mut rows,
            format!("reconnect with nothing new, scope {scope} members"),
            format!("{m} messages, {b} B"),
            "≤ 2 round trips, ≤ 2 KB",
        );
    }

    // 5. k changed documents while the district was away.
    let ids: Vec<String> = {
        let v = admin(&district, json!({"cmd": "member.list"}))?;
        v["members"]
            .as_array()
            .context("list")?
            .iter()
            .filter_map(|m| m["id"].as_str().map(str::to_string))
            .collect()
    };
    let (quiet_m, quiet_b) = session(&city, "hn.d01").unwrap_or((0, 0));
    for k in [10usize, 100, 1000] {
        district_p.stop();
        for (i, id) in ids.iter().take(k).enumerate() {
            admin(
                &city,
                json!({"cmd": "member.edit", "id": id, "fields": {"phone": format!("09{:08}", k * 10_000 + i)}}),
            )?;
        }
        district_p = start(&bin, &district)?;
        let ((m, b), took) = settle(&mut [&mut city_p, &mut district_p], &city, "hn.d01")?;
        row(&mut rows, format!("reconnect after k = {k} changed documents"),
            format!("{m} messages, {b} B ({:.0} B per document over the quiet {quiet_b} B / {quiet_m} msgs), {:.2} s", b.saturating_sub(quiet_b) as f64 / k as f64, took.as_secs_f64()),
            "≤ ~1.5 KB × k + constant");
    }

    // 6. A cell edit reaching the city over three hops.
    let mut ward_p = start(&bin, &ward)?;
    let mut cell_p = start(&bin, &cell)?;
    let cell_members = {
        let v = admin(&city, json!({"cmd": "status"}))?;
        let _ = v;
        // Wait until the cell holds every one of its members in the city's current state.
        let want: Vec<Value> = {
            let all = admin(
                &city,
                json!({"cmd": "member.list", "unit": "hn.d01.w01.c001"}),
            )?;
            all["members"].as_array().cloned().unwrap_or_default()
        };
        wait(&mut [&mut ward_p, &mut cell_p], || {
            want.iter().all(|m| {
                admin(&cell, json!({"cmd": "member.show", "id": m["id"]}))
                    .map(|v| v["phone"] == m["phone"])
                    .unwrap_or(false)
            })
        })?;
        want
    };
    let mut lat = Vec::new();
    for k in 0..100 {
        let Some(id) = cell_members
            .get(k % cell_members.len().max(1))
            .and_then(|m| m["id"].as_str())
        else {
            break;
        };
        let phone = format!("08{:08}", k);
        let t0 = Instant::now();
        admin(
            &cell,
            json!({"cmd": "member.edit", "id": id, "fields": {"phone": phone}}),
        )?;
        loop {
            if admin(&city, json!({"cmd": "member.show", "id": id}))?["phone"].as_str()
                == Some(phone.as_str())
            {
                break;
            }
            if t0.elapsed() > Duration::from_secs(20) {
                for (name, d) in [
                    ("cell", &cell),
                    ("ward", &ward),
                    ("district", &district),
                    ("city", &city),
                ] {
                    eprintln!(
                        "{name}: {}",
                        admin(d, json!({"cmd": "status"}))
                            .map(|v| v.to_string())
                            .unwrap_or_default()
                    );
                }
                if std::env::var("ROLLMESH_BENCH_HOLD").is_ok() {
                    eprintln!("holding for inspection: id {id} phone {phone}");
                    std::thread::sleep(Duration::from_secs(90));
                }
                bail!("edit {k} did not reach the city");
            }
        }
        lat.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    if !lat.is_empty() {
        let p = |q: f64| lat[((lat.len() - 1) as f64 * q).round() as usize];
        row(
            &mut rows,
            "cell edit visible at the city, 3 hops (100 edits, city holding everyone)",
            format!("p50 {:.1} ms, p99 {:.1} ms", p(0.5), p(0.99)),
            "p50 ≤ 20 ms, p99 ≤ 100 ms",
        );
    }
    cell_p.poll_rss();
    for p in [
        &mut cell_p,
        &mut ward_p,
        &mut district_p,
        &mut standby_p,
        &mut city_p,
    ] {
        p.stop();
    }
    row(
        &mut rows,
        "peak RSS of the city node (daemon, through replica and edits)",
        format!("{} MB", city_p.peak_kb / 1024),
        "≤ 1.5 GB",
    );
    row(
        &mut rows,
        "peak RSS of the standby city node (daemon, receiving the full replica)",
        format!("{} MB", standby_p.peak_kb / 1024),
        "≤ 1.5 GB",
    );
    row(
        &mut rows,
        "peak RSS of a cell node",
        format!("{} MB", cell_p.peak_kb / 1024),
        "≤ 100 MB",
    );

    // 7. Statistics and search at the city (its store, read in this process).
    let node = Node::open(&city)?;
    let t = Instant::now();
    let table = rollmesh::ops::headcount_table(&node, &UnitPath::parse("hn")?, 1)?;
    let headcount: u64 = table.values().sum();
    if headcount != n as u64 {
        bail!("the headcount says {headcount} members, the import wrote {n}");
    }
    let stats_ms = t.elapsed().as_secs_f64() * 1000.0;
    row(
        &mut rows,
        format!(
            "city-wide headcount by district × status × sector ({} cells of the table)",
            table.len()
        ),
        format!("{stats_ms:.0} ms"),
        "≤ 500 ms",
    );
    let mut search = Vec::new();
    for q in [
        "nguyen van an",
        "tran thi hoa",
        "le minh",
        "dang thu trang",
        "pham",
    ] {
        let t = Instant::now();
        let (_, hits) = node.store().search_page(q, 50)?;
        search.push((t.elapsed().as_secs_f64() * 1000.0, hits));
    }
    let worst = search.iter().map(|(ms, _)| *ms).fold(0.0, f64::max);
    row(
        &mut rows,
        "diacritic-insensitive name search (5 queries, first 50 hits each, worst)",
        format!(
            "{worst:.1} ms ({})",
            search
                .iter()
                .map(|(ms, hits)| format!("{ms:.1} ms/{hits} hits"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        "≤ 50 ms",
    );

    // 8. A simulated year at the city, each edit its own signed change as it would happen through the
    // year. First every cell's ledger (monthly meetings, attendance and dues, quarterly thematic
    // meetings, the annual ratings: `gen::year_of_ledgers`), then the member documents: awards for 5 %,
    // confirmation of 3 % (status and event), transfers of 1 % to a neighbouring cell, new phone
    // numbers for 14 %.
    let t = Instant::now();
    let records = node.store().list(None)?;
    let mut cells: std::collections::BTreeMap<UnitPath, Vec<rollmesh_model::MemberId>> =
        Default::default();
    for r in &records {
        if let Some(u) = r.unit() {
            cells.entry(u).or_default().push(r.id);
        }
    }
    let ledger_changes = ledger_year(&node, &city, n, seed, &cells, &mut rows)?;
    drop(cells);
    // Screening the whole city as of mid-January: every rule over every member and cell.
    let as_of = chrono::NaiveDate::from_ymd_opt(2026, 1, 15).context("date")?;
    let t_eval = Instant::now();
    let run = node.screen_run(as_of)?;
    let eval_secs = t_eval.elapsed().as_secs_f64();
    let by_rule = |id: &str| run.flags.iter().filter(|f| f.rule.code() == id).count();
    row(
        &mut rows,
        format!(
            "screening the city: every rule over {n} members (flags: R1 {}, R2 {}, R6 {}, R11 {})",
            by_rule("R1"),
            by_rule("R2"),
            by_rule("R6"),
            by_rule("R11")
        ),
        format!("{eval_secs:.1} s"),
        "≤ 10 s",
    );
    let t_list = Instant::now();
    let kept = node.screening(as_of)?;
    let district = UnitPath::parse("hn.d01")?;
    let listed = kept
        .flags
        .iter()
        .filter(|f| f.rule.code() == "R1" && f.in_scope(district.as_str()))
        .count();
    let list_ms = t_list.elapsed().as_secs_f64() * 1000.0;
    row(
        &mut rows,
        format!("`screen list` at the city (R1 in one district: {listed} flags)"),
        format!("{list_ms:.0} ms"),
        "≤ 500 ms",
    );
    let event = |kind, detail: &str| Event {
        kind,
        date: Some("2026-12-31".into()),
        detail: detail.into(),
    };
    let mut changed = 0;
    for pass in 1..5 {
        let mut edits = Vec::new();
        for (i, r) in records.iter().enumerate() {
            let mut e = DossierEdit::default();
            match pass {
                1 if i % 20 == 3 => e
                    .events
                    .push(event(EventKind::Award, "Huy hiệu 30 năm tuổi Đảng")),
                2 if i % 33 == 5 => {
                    e.set.insert(Field::Status, "official".into());
                    e.events.push(event(
                        EventKind::Confirmation,
                        "Công nhận đảng viên chính thức",
                    ));
                }
                3 if i % 100 == 7 => {
                    let unit = r.unit().map(|u| u.to_string()).unwrap_or_default();
                    let moved = match unit.strip_suffix("c001") {
                        Some(ward) => format!("{ward}c002"),
                        None => format!("{}.c001", unit.rsplit_once('.').map_or("", |p| p.0)),
                    };
                    e.set.insert(Field::Unit, moved);
                    e.events
                        .push(event(EventKind::Transfer, "Chuyển sinh hoạt trong phường"));
                }
                4 if i % 7 == 2 => {
                    e.set.insert(Field::Phone, format!("07{:08}", i));
                }
                _ => continue,
            }
            edits.push((r.id, e));
        }
        changed += node.edit_many(edits, 1000)?;
    }
    drop(records);
    drop(node);
    let year_disk = dir_size(&city.join("store"));
    row(
        &mut rows,
        format!(
            "disk per member after a simulated year ({ledger_changes} ledger changes, {changed} dossier edits in {:.0} s)",
            t.elapsed().as_secs_f64()
        ),
        format!(
            "{:.0} B ({:.2}× fresh)",
            year_disk as f64 / n as f64,
            year_disk as f64 / fresh_disk.max(1) as f64
        ),
        "≤ 2× fresh",
    );

    println!(
        "\nrollmesh-bench scale: {n} members, seed {seed}, {} districts\n",
        shape.districts
    );
    println!("| measurement | figure | target |");
    println!("|---|---|---|");
    for r in rows {
        println!("| {} | {} | {} |", r.what, r.figure, r.target);
    }
    Ok(())
}
