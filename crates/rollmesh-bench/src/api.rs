//! `rollmesh-bench api`: the local API at a city node — member search and list latency over real HTTP
//! (percentiles over many requests, from a client process of its own), and the export of a district to
//! an Excel workbook.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rand::{Rng, SeedableRng};
use serde_json::Value;

use crate::scale::{imported_city, start, ImportedCity};

/// The `p`-th percentile of sorted durations, in milliseconds.
fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

struct Client {
    base: String,
    auth: String,
    agent: ureq::Agent,
}

impl Client {
    fn get(&self, path: &str) -> Result<(Duration, Vec<u8>)> {
        let t = Instant::now();
        let mut resp = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("Authorization", &self.auth)
            .call()?;
        let status = resp.status();
        let body = resp.body_mut().with_config().limit(1 << 30).read_to_vec()?;
        let took = t.elapsed();
        if !status.is_success() {
            bail!("{path}: {status} {}", String::from_utf8_lossy(&body));
        }
        Ok((took, body))
    }
}

/// Runs `n` requests from `paths` and returns (p50, p99, max) in ms.
fn measure(c: &Client, paths: &[String]) -> Result<(f64, f64, f64)> {
    let mut times = Vec::with_capacity(paths.len());
    for p in paths {
        times.push(c.get(p)?.0);
    }
    times.sort();
    Ok((pct(&times, 0.5), pct(&times, 0.99), pct(&times, 1.0)))
}

/// Percent-encodes a query value.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A city of about `members` imported, its node running, then the API measured.
pub fn run(members: usize, seed: u64, requests: usize) -> Result<()> {
    let ImportedCity {
        tmp: _tmp,
        csv,
        city,
        n,
    } = imported_city(members, seed)?;
    let bin = std::env::current_exe()?;
    // Names and units to ask for, from the file the city imported.
    let mut names: Vec<String> = Vec::new();
    let mut units: Vec<String> = Vec::new();
    let mut rdr = csv::Reader::from_path(&csv)?;
    let header = rdr.headers()?.clone();
    let col = |h: &str| header.iter().position(|x| x == h).context("column");
    let (name_col, unit_col) = (col("full_name")?, col("unit")?);
    for (i, r) in rdr.records().enumerate() {
        let r = r?;
        if i % 97 == 0 {
            names.push(r.get(name_col).unwrap_or("").to_string());
            units.push(r.get(unit_col).unwrap_or("").to_string());
        }
    }
    let mut proc = start(&bin, &city)?;
    let deadline = Instant::now() + Duration::from_secs(120);
    let addr = loop {
        if let Some(a) = rollmesh::api::read_addr(&city) {
            break a;
        }
        if Instant::now() > deadline {
            bail!("the node's API did not start");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let token = std::fs::read_to_string(city.join("api.token"))?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(600)))
        .http_status_as_error(false)
        .build()
        .into();
    let c = Client {
        base: addr,
        auth: format!("Bearer {}", token.trim()),
        agent,
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    // Warm the caches the way a clerk's first requests do.
    c.get("/api/members?limit=50")?;
    let searches: Vec<String> = (0..requests)
        .map(|i| {
            let name = &names[rng.gen_range(0..names.len())];
            // Half full names, half the last two words (many hits: "van an").
            let words: Vec<&str> = name.split(' ').collect();
            let q = if i % 2 == 0 {
                rollmesh_model::text::fold(name)
            } else {
                rollmesh_model::text::fold(&words[words.len().saturating_sub(2)..].join(" "))
            };
            format!("/api/members/search?limit=50&text={}", enc(&q))
        })
        .collect();
    let (s50, s99, smax) = measure(&c, &searches)?;
    let lists: Vec<String> = (0..requests)
        .map(|i| {
            let unit = &units[rng.gen_range(0..units.len())];
            let parts: Vec<&str> = unit.split('.').collect();
            // Pages of the city, a district, a ward and a cell, in turn; the first five pages.
            let depth = i % 4;
            let scope = parts[..(depth + 1).min(parts.len())].join(".");
            let offset = 50 * rng.gen_range(0..5);
            format!("/api/members?unit={scope}&offset={offset}&limit=50")
        })
        .collect();
    let (l50, l99, lmax) = measure(&c, &lists)?;
    let district = units
        .first()
        .and_then(|u| u.split('.').take(2).collect::<Vec<_>>().join(".").into())
        .unwrap_or_default();
    let t = Instant::now();
    let (_, bytes) = c.get(&format!("/api/members/export?format=xlsx&unit={district}"))?;
    let export_secs = t.elapsed().as_secs_f64();
    let (_, count) = c.get(&format!("/api/members?unit={district}&limit=1"))?;
    let total: Value = serde_json::from_slice(&count)?;
    proc.poll_rss();
    println!("| what | figure | target |");
    println!("|---|---|---|");
    println!(
        "| API member search at the city ({n} members), {requests} requests: p50 / p99 / max | {s50:.1} / {s99:.1} / {smax:.1} ms | p99 ≤ 50 ms |"
    );
    println!(
        "| API member list pages (city, district, ward, cell; 50 a page), {requests} requests: p50 / p99 / max | {l50:.1} / {l99:.1} / {lmax:.1} ms | p99 ≤ 50 ms |"
    );
    println!(
        "| export of district {district} ({} members) to xlsx over the API | {export_secs:.2} s ({} KB) | ≤ 5 s |",
        total["total"],
        bytes.len() / 1024
    );
    println!(
        "| the city node's peak RSS during the run | {} MB | |",
        proc.peak_kb / 1024
    );
    drop(proc);
    let _ = Path::new(&city);
    Ok(())
}
