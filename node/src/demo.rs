//! `rollmesh demo` and the local mesh launcher it shares with the scenario tests: a whole organisation on
//! 127.0.0.1, every node its own `rollmesh run` process with its own sled directory and QUIC port, each
//! node dialing its parent.

use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rollmesh_model::{Field, OrgTree, UnitPath};
use serde_json::{json, Value};

use rollmesh_engine::msg;
use rollmesh_engine::{Node, PeerSettings};

/// One running node of a local mesh.
pub struct MeshNode {
    /// Its unit.
    pub unit: UnitPath,
    /// Its data directory.
    pub data: PathBuf,
    /// Its QUIC address.
    pub addr: String,
    /// Its process, while running.
    pub child: Option<Child>,
}

/// A local mesh of `rollmesh run` processes. Dropping it kills every process it started.
pub struct Mesh {
    /// The binary to run.
    pub bin: PathBuf,
    /// The nodes, parents before children.
    pub nodes: Vec<MeshNode>,
}

/// Asks a node process to shut down cleanly (SIGTERM).
fn terminate(c: &Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(c.id().to_string())
        .status();
}

/// Waits for a process until `deadline`, then kills it; never leaves it running.
fn reap(mut c: Child, deadline: Instant) {
    while Instant::now() < deadline {
        if let Ok(Some(_)) = c.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = c.kill();
    let _ = c.wait();
}

fn free_port() -> Result<u16> {
    Ok(UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn free_tcp_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The demo's sign-in, at the city and every cell (admin role, so every page and request works).
pub const DEMO_LOGIN: (&str, &str) = ("demo", "rollmesh-demo");

const FAMILY: [&str; 12] = [
    "Nguyễn", "Nguyễn", "Nguyễn", "Trần", "Trần", "Lê", "Lê", "Phạm", "Hoàng", "Huỳnh", "Vũ",
    "Đặng",
];
const MIDDLE_M: [&str; 5] = ["Văn", "Đức", "Minh", "Quang", "Hữu"];
const MIDDLE_F: [&str; 5] = ["Thị", "Thị", "Ngọc", "Thu", "Thanh"];
const GIVEN_M: [&str; 8] = [
    "An", "Bình", "Cường", "Dũng", "Hùng", "Khoa", "Long", "Phúc",
];
const GIVEN_F: [&str; 8] = ["Anh", "Chi", "Dung", "Hằng", "Hoa", "Lan", "Mai", "Trang"];

/// A deterministic Vietnamese name and sex for member `i` of a unit.
pub fn demo_person(seed: usize, i: usize) -> (String, &'static str) {
    let x = seed
        .wrapping_mul(7919)
        .wrapping_add(i.wrapping_mul(104_729));
    let female = x % 2 == 1;
    let (mid, given) = if female {
        (&MIDDLE_F, &GIVEN_F)
    } else {
        (&MIDDLE_M, &GIVEN_M)
    };
    let name = format!(
        "{} {} {}",
        FAMILY[x % 12],
        mid[(x / 12) % 5],
        given[(x / 60) % 8]
    );
    (name, if female { "female" } else { "male" })
}

impl Mesh {
    /// Bootstraps `tree` into `dir`, assigns loopback ports and writes each node's settings (every node
    /// dials its parent). Processes are not started yet.
    pub fn create(bin: &Path, dir: &Path, tree: &OrgTree) -> Result<Mesh> {
        rollmesh_engine::org::bootstrap(tree, dir, 365)?;
        let mut nodes: Vec<MeshNode> = Vec::new();
        let mut addrs: BTreeMap<UnitPath, (String, String)> = BTreeMap::new();
        for info in tree.units() {
            let data = rollmesh_engine::org::unit_dir(dir, &info.path);
            let mut node = Node::open(&data)?;
            let addr = format!("127.0.0.1:{}", free_port()?);
            let mut s = node.settings().clone();
            s.listen = Some(addr.clone());
            // A fixed API port, so the console's address stays the same when a node is restarted.
            s.api = Some(rollmesh_engine::ApiSettings {
                listen: Some(format!("127.0.0.1:{}", free_tcp_port()?)),
                ..Default::default()
            });
            if let Some(parent) = info.path.parent() {
                let (paddr, pid) = addrs.get(&parent).context("parent before child")?.clone();
                s.peers = vec![PeerSettings {
                    address: paddr,
                    node_id: Some(pid),
                    name: Some(parent.to_string()),
                }];
            }
            node.save_settings(s)?;
            addrs.insert(info.path.clone(), (addr.clone(), node.id().to_string()));
            nodes.push(MeshNode {
                unit: info.path.clone(),
                data,
                addr,
                child: None,
            });
        }
        Ok(Mesh {
            bin: bin.to_path_buf(),
            nodes,
        })
    }

    /// Adds `n` generated members to every leaf unit (while its process is not running).
    pub fn seed(&self, tree: &OrgTree, n: usize) -> Result<usize> {
        let deepest = tree.levels.len() - 1;
        let mut total = 0;
        for (k, m) in self.nodes.iter().enumerate() {
            if m.unit.depth() == deepest {
                self.seed_unit(k, n, k)?;
                total += n;
            }
        }
        Ok(total)
    }

    /// Adds `n` generated members to node `i`'s own unit, in durable batches of 1,000 (`seed` varies the
    /// names between units).
    pub fn seed_unit(&self, i: usize, n: usize, seed: usize) -> Result<()> {
        let m = &self.nodes[i];
        let node = Node::open(&m.data)?;
        let mut changes = Vec::new();
        for k in 0..n {
            let (name, sex) = demo_person(seed, k);
            let mut f = BTreeMap::new();
            f.insert(Field::FullName, name);
            f.insert(Field::Sex, sex.to_string());
            let dob = format!(
                "{}-{:02}-{:02}",
                1950 + (seed * 7 + k) % 55,
                1 + k % 12,
                1 + (seed + k) % 28
            );
            f.insert(Field::DateOfBirth, dob);
            f.insert(Field::DossierNo, format!("{}-{k:06}", m.unit));
            let (_, vc) = node.new_member(f, Vec::new())?;
            changes.push(vc);
            if changes.len() == 1000 {
                node.commit_own(std::mem::take(&mut changes))?;
            }
        }
        node.commit_own(changes)?;
        Ok(())
    }

    /// Every running node's status and the warnings in its log: what to print when a wait fails.
    pub fn report(&self) -> String {
        let mut out = String::new();
        for (i, n) in self.nodes.iter().enumerate() {
            let status = self
                .admin(i, &json!({"cmd": "status"}))
                .map(|v| v.to_string());
            out.push_str(&format!(
                "== {} {}\n",
                n.unit,
                status.unwrap_or_else(|e| e.to_string())
            ));
            let log = std::fs::read_to_string(n.data.join("node.log")).unwrap_or_default();
            for l in log
                .lines()
                .filter(|l| l.contains("WARN") || l.contains("ERROR"))
                .take(6)
            {
                out.push_str(&format!("   {l}\n"));
            }
        }
        out
    }

    /// Starts the process of node `i`.
    pub fn start(&mut self, i: usize) -> Result<()> {
        let m = &mut self.nodes[i];
        let log = std::fs::File::create(m.data.join("node.log"))?;
        let child = Command::new(&self.bin)
            .args(["run", "--config"])
            .arg(m.data.join("node.toml"))
            .env("RUST_LOG", "info,quinn=warn,quinn_proto=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        m.child = Some(child);
        Ok(())
    }

    /// Starts every node, parents first.
    pub fn start_all(&mut self) -> Result<()> {
        for i in 0..self.nodes.len() {
            self.start(i)?;
        }
        Ok(())
    }

    /// Stops node `i`: SIGTERM (clean shutdown) or, with `hard`, SIGKILL.
    pub fn stop(&mut self, i: usize, hard: bool) {
        if let Some(c) = self.nodes[i].child.take() {
            if !hard {
                terminate(&c);
            }
            reap(c, Instant::now() + Duration::from_secs(5));
        }
    }

    /// Stops every node: SIGTERM to all, then up to five seconds for all of them together.
    pub fn stop_all(&mut self) {
        for c in self.nodes.iter().filter_map(|n| n.child.as_ref()) {
            terminate(c);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for n in &mut self.nodes {
            if let Some(c) = n.child.take() {
                reap(c, deadline);
            }
        }
    }

    /// The index of a unit's node.
    pub fn index(&self, unit: &str) -> usize {
        self.nodes
            .iter()
            .position(|n| n.unit.as_str() == unit)
            .unwrap_or(usize::MAX)
    }

    /// Sends a request to a running node through its API.
    pub fn admin(&self, i: usize, req: &Value) -> Result<Value> {
        crate::client::call(&self.nodes[i].data, req)
    }

    /// The member count of a running node (None while it does not answer yet).
    pub fn count(&self, i: usize) -> Option<u64> {
        self.admin(i, &json!({"cmd": "status"}))
            .ok()
            .and_then(|v| v["members"].as_u64())
    }

    /// Waits until `f` holds, polling every 20 ms, for at most `limit`.
    pub fn wait_until(
        &self,
        limit: Duration,
        mut f: impl FnMut(&Mesh) -> bool,
    ) -> Result<Duration> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if f(self) {
                return Ok(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!("condition not reached within {limit:?}")
    }
}

impl Drop for Mesh {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            if let Some(mut c) = n.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

/// `rollmesh demo`.
pub fn run(once: bool, per_cell: usize, dir: Option<PathBuf>) -> Result<u8> {
    let keep = dir.is_some();
    let dir = dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("rollmesh-demo-{}", std::process::id()))
    });
    let code = demo(once, per_cell, &dir);
    if !keep {
        let _ = std::fs::remove_dir_all(&dir);
    }
    code
}

fn demo(once: bool, per_cell: usize, dir: &Path) -> Result<u8> {
    let dir = dir.to_path_buf();
    let _ = std::fs::remove_dir_all(&dir);
    let tree = OrgTree::from_toml(rollmesh_engine::org::DEMO_TREE)?;
    let bin = std::env::current_exe()?;
    let mut mesh = Mesh::create(&bin, &dir, &tree)?;
    let total = mesh.seed(&tree, per_cell)? as u64;
    let deepest = tree.levels.len() - 1;
    for n in mesh
        .nodes
        .iter()
        .filter(|n| n.unit.depth() == 0 || n.unit.depth() == deepest)
    {
        rollmesh_engine::accounts::Accounts::of(&n.data).add(
            DEMO_LOGIN.0,
            "Cán bộ Demo",
            rollmesh_engine::accounts::Role::Admin,
            DEMO_LOGIN.1,
        )?;
    }
    let d = dir.display();
    let k = mesh.nodes.len();
    println!("{}", msg!("Tạo tổ chức mẫu 4 cấp ({k} nút) trong {d}; mỗi chi bộ có {per_cell} đảng viên ({total} tất cả).",
        "Created the four-level demo organisation ({k} nodes) in {d}; {per_cell} members per cell ({total} in all)."));
    mesh.start_all()?;
    println!(
        "{}",
        msg!(
            "Đã khởi động {k} tiến trình nút trên 127.0.0.1. Đang đồng bộ lên các cấp…",
            "Started {k} node processes on 127.0.0.1. Syncing up the levels…"
        )
    );
    let levels: Vec<(String, Vec<usize>)> = tree
        .levels
        .iter()
        .enumerate()
        .map(|(depth, l)| {
            let idx = mesh
                .nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| n.unit.depth() == depth)
                .map(|(i, _)| i)
                .collect();
            (crate::i18n::pick(&l.name_vi, &l.name_en).to_string(), idx)
        })
        .collect();
    let city = 0;
    let start = Instant::now();
    let mut last_line = String::new();
    loop {
        let line: Vec<String> = levels
            .iter()
            .map(|(name, idx)| {
                let counts: Vec<String> = idx
                    .iter()
                    .map(|i| {
                        mesh.count(*i)
                            .map(|c| c.to_string())
                            .unwrap_or_else(|| "…".into())
                    })
                    .collect();
                format!("{name}: {}", counts.join(" "))
            })
            .collect();
        let line = line.join(" | ");
        if line != last_line {
            println!("  {:>5.1}s  {line}", start.elapsed().as_secs_f64());
            last_line = line;
        }
        if mesh.count(city) == Some(total) {
            break;
        }
        if start.elapsed() > Duration::from_secs(60) {
            bail!(msg!(
                "thành phố chưa nhận đủ đảng viên sau 60 giây",
                "the city did not converge within 60 seconds"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{}",
        msg!(
            "Thành phố đã có đủ {total} đảng viên sau {secs:.1} giây.",
            "The city holds all {total} members after {secs:.1} s."
        )
    );

    // Live edits at cells, timed until they show at the city.
    let cells: Vec<usize> = levels
        .last()
        .map(|(_, idx)| idx.clone())
        .unwrap_or_default();
    for (n, cell) in cells.iter().take(3).enumerate() {
        let list = mesh.admin(*cell, &json!({"cmd": "member.list", "limit": 0}))?;
        let Some(id) = list["members"]
            .get(n)
            .and_then(|m| m["id"].as_str())
            .map(str::to_string)
        else {
            continue;
        };
        let phone = format!("09{:08}", 12_345_670 + n);
        let t0 = Instant::now();
        mesh.admin(
            *cell,
            &json!({"cmd": "member.edit", "id": id, "fields": {"phone": phone}}),
        )?;
        mesh.wait_until(Duration::from_secs(10), |m| {
            m.admin(city, &json!({"cmd": "member.show", "id": id}))
                .map(|v| v["phone"].as_str() == Some(phone.as_str()))
                .unwrap_or(false)
        })?;
        let ms = t0.elapsed().as_secs_f64() * 1000.0;
        let unit = &mesh.nodes[*cell].unit;
        println!(
            "{}",
            msg!(
                "  Sửa số điện thoại tại {unit}: thành phố thấy sau {ms:.0} ms (qua 3 chặng).",
                "  Phone edited at {unit}: visible at the city after {ms:.0} ms (3 hops)."
            )
        );
    }
    let api = |i: usize| crate::api::read_addr(&mesh.nodes[i].data).unwrap_or_default();
    let (city_api, cell_api) = (
        api(city),
        cells.first().map(|c| api(*c)).unwrap_or_default(),
    );
    let cell_unit = cells
        .first()
        .map(|c| mesh.nodes[*c].unit.to_string())
        .unwrap_or_default();
    let (login, password) = DEMO_LOGIN;
    println!(
        "{}",
        msg!(
            "API của thành phố: {city_api}/  · của chi bộ {cell_unit}: {cell_api}/  (đăng nhập: {login} / {password})",
            "The city's API: {city_api}/  · cell {cell_unit}'s: {cell_api}/  (sign in: {login} / {password})"
        )
    );
    if once {
        mesh.stop_all();
        println!("{}", msg!("Xong (--once).", "Done (--once)."));
        return Ok(0);
    }
    println!(
        "{}",
        msg!(
            "Lưới đang chạy; xem `rollmesh status --data {d}/hn`. Nhấn Ctrl-C để dừng.",
            "The mesh is running; try `rollmesh status --data {d}/hn`. Press Ctrl-C to stop."
        )
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    mesh.stop_all();
    Ok(0)
}
