//! The daily work on ledgers and screening as requests that run the same way whoever holds the store:
//! the CLI builds one JSON request and either runs it here on the node it opened, or — while
//! `rollmesh run` holds the data directory — sends it to that node's HTTP API, whose handler runs it here
//! too. One code path, so a command behaves the same with the node running or not.
//!
//! Requests (dates ISO `YYYY-MM-DD`; the CLI parses the clerk's `DD/MM/YYYY`):
//! - `meeting.record` {cell?, date, kind, topic, number?, absent: [{id, reason?, accepted}], present?: [id]}
//!   — without `present`, every current member of the cell not listed as absent is marked present;
//! - `dues.record` {member, year, month, cell?, paid?: {amount, date}, unpaid?: {reason?, accepted}};
//!   (at a host cell, `member` may be a member attached to it from elsewhere: see `attach.grant`);
//! - `rating.set` {member, year, rating};
//! - `attach.grant` {member, host, from, until, reason: work|study} (the member's home side) and
//!   `attach.list` {}: temporary attachments to a host cell (sinh hoạt tạm thời);
//! - `help.record` {member, what: start|note|end, date, note?};
//! - `sheet.dues` {year, month, paid_on, cell?, csv (base64), dry_run} and `sheet.ratings` {year, csv,
//!   dry_run}: a sheet from Excel, valid rows written (one change per cell ledger), refused rows listed;
//! - `org.publish` {what: rules|calendar|tree, text} (the city only) and `org.show` {what, as_of?};
//! - `ledger.show` {cell?, year};
//! - `screen.run` {as_of?, unit?, rule?, subject?, fresh?};
//! - `screen.deadlines` {as_of?, days?, unit?}: flags due within `days` unless something is recorded.
//!
//! - `case.step`, `case.show`, `case.list`: admissions, exemptions, strike-offs and disciplines, step by
//!   step (`ops/cases.rs`).
//!
//! Members, reports and the node itself (`members`, `admin`): `member.add|edit|show|list|search|history`,
//! `stats`, `changes`, `id`, `audit`, `quarantine.list|show`, `credential.show|revoke`,
//! `user.list|add|passwd|disable|role`. The HTTP API (the `api` module) serves every request at its own
//! route and checks the caller's role first ([`role_for`]).

mod admin;
mod cases;
mod files;
mod members;
mod year;

pub use files::clean_scratch;
pub use members::{fields_of, headcount_table};

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use chrono::{Datelike, NaiveDate};
use rollmesh_engine::accounts::Role;
use rollmesh_engine::orgdocs::RulesSource;
use rollmesh_engine::screen::{default_rules, today_in_vietnam};
use rollmesh_engine::{msg, Node};
use rollmesh_model::ledger::{
    AttachReason, Attendance, Dues, Grant, LedgerEdit, MeetingKey, MeetingKind, Rating,
};
use rollmesh_model::orgdoc::OrgDocKind;
use rollmesh_model::{MemberId, UnitPath};
use rollmesh_rules::{Flag, RuleId, Subject};
use serde_json::{json, Value};

/// Runs `req` on the node whose data directory is `data`: directly when the store is free, through the
/// running node's API otherwise.
pub fn call(data: &Path, req: Value) -> Result<Value> {
    // Times are shown in the node's time zone.
    if let Ok(s) = rollmesh_engine::NodeSettings::read(data) {
        if let Some(tz) = &s.time_zone {
            crate::render::set_time_zone(tz)?;
        }
    }
    let opened = Node::open(data)
        .map_err(anyhow::Error::from)
        .with_context(|| msg!("không mở được nút", "cannot open the node"));
    match opened {
        Ok(node) => handle(&node, &req, "cli"),
        Err(e) if crate::client::held_by_daemon(&e) => crate::client::call(data, &req),
        Err(e) => Err(e),
    }
}

/// Whether a request writes signed changes (the daemon then tells its peers there is news).
pub fn writes(req: &Value) -> bool {
    matches!(
        req["cmd"].as_str(),
        Some(
            "meeting.record"
                | "dues.record"
                | "attach.grant"
                | "rating.set"
                | "help.record"
                | "sheet.dues"
                | "sheet.ratings"
                | "org.publish"
                | "member.add"
                | "member.edit"
                | "member.import"
                | "bundle.import"
                | "case.step"
        )
    )
}

/// The lowest role that may make a request (the API refuses anyone below it).
pub fn role_for(cmd: &str) -> Role {
    match cmd {
        "meeting.record" | "dues.record" | "rating.set" | "help.record" | "sheet.dues"
        | "sheet.ratings" | "member.add" | "member.edit" | "member.import" | "bundle.export"
        | "bundle.import" | "case.step" => Role::Clerk,
        "attach.grant" | "org.publish" => Role::Approver,
        "audit" | "quarantine.list" | "quarantine.show" | "credential.revoke" | "user.list"
        | "user.add" | "user.passwd" | "user.disable" | "user.role" | "trust.add"
        | "trust.list" | "trust.remove" | "verify" => Role::Admin,
        _ => Role::Viewer,
    }
}

/// Runs one request on an open node; `via` goes into the audit log.
pub fn handle(node: &Node, req: &Value, via: &str) -> Result<Value> {
    match req["cmd"].as_str().unwrap_or("") {
        "member.add" => members::add(node, req),
        "member.edit" => members::edit(node, req),
        "member.show" => members::show(node, req),
        "member.list" => members::list(node, req),
        "member.search" => members::search(node, req),
        "member.history" => members::history(node, req),
        "member.export" => files::export(node, req),
        "member.import" => files::import(node, req),
        "member.export-doc" => files::export_doc(node, req),
        "bundle.export" => files::bundle_export(node, req),
        "bundle.import" => files::bundle_import(node, req),
        "verify" => files::verify(node),
        "trust.add" | "trust.list" | "trust.remove" => files::trust(node, req),
        "stats" => members::stats(node, req),
        "changes" => members::changes(node, req),
        "id" => members::id(node),
        "audit" => admin::audit(node, req),
        "quarantine.list" => admin::quarantine_list(node),
        "quarantine.show" => admin::quarantine_show(node, req),
        "credential.show" => admin::credential_show(node),
        "credential.revoke" => admin::credential_revoke(node, req),
        "credential.request" => admin::credential_request(node, req),
        "credential.issue" => admin::credential_issue(node, req),
        "user.list" => admin::user_list(node),
        "user.add" => admin::user_add(node, req),
        "user.passwd" => admin::user_passwd(node, req),
        "user.disable" => admin::user_disable(node, req),
        "user.role" => admin::user_role(node, req),
        "meeting.record" => year::meeting_record(node, req, via),
        "dues.record" => year::dues_record(node, req, via),
        "rating.set" => year::rating_set(node, req, via),
        "help.record" => year::help_record(node, req, via),
        "attach.grant" => year::attach_grant(node, req, via),
        "attach.list" => year::attach_list(node),
        "sheet.dues" | "sheet.ratings" => year::sheet(node, req, via),
        "org.publish" => year::org_publish(node, req, via),
        "org.show" => year::org_show(node, req),
        "ledger.show" => year::ledger_show(node, req),
        "screen.run" => year::screen_run(node, req, via),
        "screen.deadlines" => year::screen_deadlines(node, req),
        "case.step" => cases::step(node, req, via),
        "case.show" => cases::show(node, req),
        "case.list" => cases::list(node, req),
        other => bail!("unknown request {other:?}"),
    }
}

/// A request's integer field, refused (not truncated) when out of range. A number given as text (a
/// query string's `?year=2026`) counts.
fn int<T: TryFrom<i64>>(v: &Value, what: &str) -> Result<T> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| anyhow!("{what}: missing or out of range"))
}

/// A request's optional integer field, `default` when absent.
fn int_or<T: TryFrom<i64>>(req: &Value, key: &str, default: T) -> Result<T> {
    match &req[key] {
        Value::Null => Ok(default),
        v => int(v, key),
    }
}

/// A request's text field, `None` when absent or empty.
fn text<'a>(req: &'a Value, key: &str) -> Option<&'a str> {
    req[key].as_str().filter(|s| !s.is_empty())
}

/// A request's boolean field (also the text "true" or "1" of a query string).
fn flag(req: &Value, key: &str) -> bool {
    match &req[key] {
        Value::Bool(b) => *b,
        Value::String(s) => s == "true" || s == "1",
        _ => false,
    }
}

/// A ledger year: 1900–2200, as ledgers are kept.
fn year_of(v: &Value) -> Result<i32> {
    let y: i32 = int(v, "year")?;
    if !(1900..=2200).contains(&y) {
        bail!(msg!(
            "năm {y} nằm ngoài khoảng 1900-2200",
            "year {y} is outside 1900-2200"
        ));
    }
    Ok(y)
}

fn date_of(v: &Value, what: &str) -> Result<NaiveDate> {
    let s = v.as_str().ok_or_else(|| anyhow!("{what}: missing"))?;
    NaiveDate::parse_from_str(s, "%Y-%m-%d").with_context(|| format!("{what}: {s:?}"))
}

fn cell_of(node: &Node, req: &Value) -> Result<UnitPath> {
    match req["cell"].as_str() {
        Some(c) => Ok(UnitPath::parse(c)?),
        None => Ok(node.unit().clone()),
    }
}
