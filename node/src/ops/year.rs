//! The cell's year (meetings, dues, ratings, the help list, attachments, sheets, the ledger), the
//! organisation's documents and screening, as requests (see the parent module for their shapes).

use super::*;

/// Members who are expected at a cell's meetings: those of the cell who have not left the party.
fn current_members(node: &Node, cell: &UnitPath) -> Result<Vec<(MemberId, String)>> {
    let departed = default_rules().departed;
    Ok(node
        .store()
        .list(Some(cell))?
        .into_iter()
        .filter(|r| r.unit().as_ref() == Some(cell))
        .filter(|r| !r.status().is_some_and(|s| departed.contains(&s)))
        .map(|r| (r.id, r.name().to_string()))
        .collect())
}

/// Members attached to `cell` (their attachment books are held here) whose attachment covers `day`.
fn attached_on(node: &Node, cell: &UnitPath, day: NaiveDate) -> Result<Vec<MemberId>> {
    Ok(node
        .attachments()?
        .into_iter()
        .filter(|h| h.cell == *cell && h.grant.as_ref().is_some_and(|g| g.covers_day(day)))
        .filter_map(|h| h.attached.map(|a| a.member))
        .collect())
}

/// Members of `cell` attached to another cell on `day` (they attend there, not at home).
fn away_on(node: &Node, cell: &UnitPath, day: NaiveDate) -> Result<Vec<MemberId>> {
    Ok(node
        .attachments()?
        .into_iter()
        .filter(|h| h.grant.as_ref().is_some_and(|g| g.covers_day(day)))
        .filter_map(|h| h.attached.filter(|a| a.home == *cell).map(|a| a.member))
        .collect())
}

/// The name the home side gave the host for an attached member (empty when it gave none).
fn attached_name(node: &Node, id: &MemberId) -> Result<String> {
    Ok(node
        .attachments()?
        .into_iter()
        .filter(|h| h.attached.as_ref().is_some_and(|a| a.member == *id))
        .find_map(|h| h.grant.and_then(|g| g.name))
        .unwrap_or_default())
}

/// A member named by a clerk: one held here, or — at a host cell — one attached to a cell of this node,
/// named by their full id (the host holds their attachment book, not their dossier). Returns the id
/// and, for an attached member, the host cell.
fn member_or_attached(node: &Node, raw: &str) -> Result<(MemberId, Option<UnitPath>)> {
    match node.resolve(raw) {
        Ok(id) => Ok((id, None)),
        Err(e) => match node.attached_host(raw)? {
            Some((id, host)) => Ok((id, Some(host))),
            None => Err(e.into()),
        },
    }
}

pub(super) fn meeting_record(node: &Node, req: &Value, via: &str) -> Result<Value> {
    let cell = cell_of(node, req)?;
    let date = date_of(&req["date"], "date")?;
    let kind = MeetingKind::from_key(req["kind"].as_str().unwrap_or("regular"))
        .ok_or_else(|| anyhow!("kind: regular or thematic"))?;
    let n: u8 = match req["number"].is_null() {
        true => 1,
        false => int(&req["number"], "number")?,
    };
    if !(1..=9).contains(&n) {
        bail!(msg!(
            "buổi thứ {n}: mỗi ngày tối đa 9 buổi cùng loại",
            "meeting number {n}: a day has at most 9 meetings of a kind"
        ));
    }
    let key = MeetingKey::nth(date, kind, n);
    let mut edit = LedgerEdit::new();
    edit.record_meeting(key, req["topic"].as_str().unwrap_or(""));
    let mut absent = BTreeMap::new();
    for a in req["absent"].as_array().into_iter().flatten() {
        let (id, _) = member_or_attached(node, a["id"].as_str().unwrap_or(""))?;
        let reason = a["reason"].as_str().map(str::to_string);
        let accepted = a["accepted"].as_bool().unwrap_or(false);
        absent.insert(id, Attendance::Absent { reason, accepted });
    }
    // Recording a meeting again corrects it: only members it has no entry for yet are marked present,
    // so an absence recorded earlier is not overwritten by the default.
    let before = node.ledger(&cell, date.year())?;
    let existing = before.has_meeting(&key);
    let known: Vec<String> = if existing {
        before
            .read()
            .meetings
            .iter()
            .find(|m| m.date == key.date && m.kind == key.kind)
            .map(|m| m.attendance.keys().cloned().collect())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let present: Vec<MemberId> = match req["present"].as_array() {
        Some(ids) => ids
            .iter()
            .map(|i| member_or_attached(node, i.as_str().unwrap_or("")).map(|(id, _)| id))
            .collect::<Result<_, _>>()?,
        None => {
            let away = away_on(node, &cell, date)?;
            current_members(node, &cell)?
                .into_iter()
                .map(|(id, _)| id)
                .filter(|id| !away.contains(id))
                .chain(attached_on(node, &cell, date)?)
                .filter(|id| !absent.contains_key(id) && !known.contains(&id.to_string()))
                .collect()
        }
    };
    for id in &present {
        edit.set_attendance(key, *id, Attendance::Present);
    }
    let (n_present, n_absent) = (present.len(), absent.len());
    for (id, a) in absent {
        edit.set_attendance(key, id, a);
    }
    let changed = node.edit_ledger(&cell, date.year(), &edit)?;
    node.audit(
        "meeting.record",
        &format!("{cell} {key}"),
        &format!("{n_present} present, {n_absent} absent, via {via}"),
    )?;
    Ok(
        json!({"cell": cell.to_string(), "meeting": key.to_string(), "present": n_present,
        "absent": n_absent, "changed": changed, "existing": existing}),
    )
}

pub(super) fn dues_record(node: &Node, req: &Value, via: &str) -> Result<Value> {
    let (id, host) = member_or_attached(node, req["member"].as_str().unwrap_or(""))?;
    // A member held here, or one attached to a cell of this node (whose name the host does not hold).
    let (name, own) = match host {
        None => {
            let rec = node.record(&id)?;
            (rec.name().to_string(), rec.unit())
        }
        Some(h) => (attached_name(node, &id)?, Some(h)),
    };
    // The member's own cell, or a host cell that records a temporarily attached member's dues.
    let cell = match req["cell"].as_str() {
        Some(c) => UnitPath::parse(c)?,
        None => own.ok_or_else(|| anyhow!("member {id} has no unit"))?,
    };
    let year = year_of(&req["year"])?;
    let month: u32 = int(&req["month"], "month")?;
    let dues = if req["paid"].is_object() {
        Dues::Paid {
            amount: req["paid"]["amount"]
                .as_u64()
                .ok_or_else(|| anyhow!("paid.amount: missing or out of range"))?,
            date: date_of(&req["paid"]["date"], "paid.date")?,
        }
    } else {
        Dues::Unpaid {
            reason: req["unpaid"]["reason"].as_str().map(str::to_string),
            accepted: req["unpaid"]["accepted"].as_bool().unwrap_or(false),
        }
    };
    let previous = node
        .dues_of(&cell, year, &id)?
        .and_then(|m| m.get(&month).cloned());
    let mut edit = LedgerEdit::new();
    edit.set_dues(id, month, dues);
    let changed = node.edit_ledger(&cell, year, &edit)?;
    node.audit(
        "dues.record",
        &id.to_string(),
        &format!("{cell} {month:02}/{year} via {via}"),
    )?;
    Ok(
        json!({"member": id.to_string(), "name": name, "cell": cell.to_string(),
        "year": year, "month": month, "changed": changed,
        "previous": if changed { previous } else { None }}),
    )
}

pub(super) fn attach_grant(node: &Node, req: &Value, via: &str) -> Result<Value> {
    let id = node.resolve(req["member"].as_str().unwrap_or(""))?;
    let rec = node.record(&id)?;
    let host = node.resolve_unit(req["host"].as_str().unwrap_or(""))?;
    let from = date_of(&req["from"], "from")?;
    let until = date_of(&req["until"], "until")?;
    let reason = match req["reason"].as_str().unwrap_or("work") {
        "study" => AttachReason::Study,
        "work" => AttachReason::Work,
        other => bail!(msg!(
            "lý do {other:?}: work (công tác) hoặc study (học tập)",
            "reason {other:?}: work or study"
        )),
    };
    let (f, u) = (from.format("%d/%m/%Y"), until.format("%d/%m/%Y"));
    let grant = Grant::new(from, until, reason).map_err(|_| {
        anyhow!(msg!(
            "ngày kết thúc {u} trước ngày bắt đầu {f}",
            "the last day {u} comes before the first {f}"
        ))
    })?;
    let done = node.grant_attachment(&id, &host, grant)?;
    node.audit(
        "attach.grant",
        &id.to_string(),
        &format!("{host} {from}..{until} {} via {via}", reason.key()),
    )?;
    Ok(
        json!({"member": id.to_string(), "name": rec.name(), "host": host.to_string(),
        "from": from.to_string(), "until": until.to_string(), "reason": reason.key(),
        "changed": done.books, "withdrawn": done.withdrawn}),
    )
}

pub(super) fn attach_list(node: &Node) -> Result<Value> {
    node.audit("attach.list", &node.unit().to_string(), "")?;
    let mut rows = Vec::new();
    for h in node.attachments()? {
        let Some(a) = &h.attached else { continue };
        let name = match node.store().record(&a.member)? {
            Some(r) => r.name().to_string(),
            None => h
                .grant
                .as_ref()
                .and_then(|g| g.name.clone())
                .unwrap_or_default(),
        };
        let (mut paid, mut unpaid) = (Vec::new(), Vec::new());
        for (month, d) in h
            .ledger
            .dues
            .get(&a.member.to_string())
            .into_iter()
            .flatten()
        {
            match d {
                Dues::Paid { .. } => paid.push(*month),
                Dues::Unpaid { .. } => unpaid.push(*month),
            }
        }
        let meetings = h.ledger.meetings.len();
        let g = h.grant.as_ref();
        rows.push(json!({"member": a.member.to_string(), "name": name,
            "home": a.home.to_string(), "host": h.cell.to_string(), "year": h.year,
            "from": g.map(|g| g.from.to_string()), "until": g.map(|g| g.until.to_string()),
            "reason": g.map(|g| g.reason.key()), "paid_months": paid, "unpaid_months": unpaid,
            "meetings": meetings}));
    }
    Ok(json!({ "attachments": rows }))
}

pub(super) fn rating_set(node: &Node, req: &Value, via: &str) -> Result<Value> {
    let raw = req["member"].as_str().unwrap_or("");
    if let (Err(_), Some((_, host))) = (node.resolve(raw), node.attached_host(raw)?) {
        bail!(msg!(
            "đảng viên sinh hoạt tạm thời tại {host}: chi bộ chính thức của đảng viên xếp loại",
            "the member is attached to {host}: their own cell rates them"
        ));
    }
    let id = node.resolve(raw)?;
    let rec = node.record(&id)?;
    let cell = rec
        .unit()
        .ok_or_else(|| anyhow!("member {id} has no unit"))?;
    let year = year_of(&req["year"])?;
    let this_year = today_in_vietnam().year();
    if year > this_year {
        bail!(msg!(
            "chưa thể xếp loại năm {year}: năm chưa đến",
            "cannot rate {year}: the year has not come yet"
        ));
    }
    let raw = req["rating"].as_str().unwrap_or("");
    let rating = Rating::parse(raw).ok_or_else(|| {
        anyhow!(msg!(
            "xếp loại {raw:?} không phải một trong: hoàn thành xuất sắc, hoàn thành tốt, hoàn thành, không hoàn thành nhiệm vụ",
            "rating {raw:?} is not one of: excellent, good, completed, not completed"
        ))
    })?;
    let mut edit = LedgerEdit::new();
    edit.set_rating(id, rating);
    let changed = node.edit_ledger(&cell, year, &edit)?;
    node.audit(
        "rating.set",
        &id.to_string(),
        &format!("{year}: {} via {via}", rating.key()),
    )?;
    Ok(
        json!({"member": id.to_string(), "name": rec.name(), "year": year,
        "rating": rating.key(), "changed": changed}),
    )
}

pub(super) fn help_record(node: &Node, req: &Value, via: &str) -> Result<Value> {
    let id = node.resolve(req["member"].as_str().unwrap_or(""))?;
    let rec = node.record(&id)?;
    let cell = rec
        .unit()
        .ok_or_else(|| anyhow!("member {id} has no unit"))?;
    let date = date_of(&req["date"], "date")?;
    let what = req["what"].as_str().unwrap_or("");
    // Where the member stands on the list, over every year's ledger this node holds.
    let facts = node.screen_facts(Some(&cell))?;
    let on_list = facts
        .members
        .iter()
        .find(|m| m.id == id.to_string())
        .and_then(|m| m.help.clone());
    let name = rec.name();
    match (what, &on_list) {
        ("start", Some(h)) => {
            let since = h.start.format("%d/%m/%Y");
            bail!(msg!(
                "{name} đã ở trong danh sách giúp đỡ từ {since}",
                "{name} is on the help list since {since}"
            ))
        }
        ("note" | "end", None) => bail!(msg!(
            "{name} không ở trong danh sách giúp đỡ",
            "{name} is not on the help list"
        )),
        ("note" | "end", Some(h)) if date < h.start => {
            let since = h.start.format("%d/%m/%Y");
            bail!(msg!(
                "ngày này trước ngày {name} được đưa vào danh sách ({since})",
                "that day is before {name} was put on the list ({since})"
            ))
        }
        _ => {}
    }
    let mut edit = LedgerEdit::new();
    match what {
        "start" => edit.help_start(id, date),
        "end" => edit.help_end(id, date),
        "note" => edit.help_note(id, date, req["note"].as_str().unwrap_or("")),
        _ => bail!("what: start, note or end"),
    };
    let changed = node.edit_ledger(&cell, date.year(), &edit)?;
    node.audit(
        "help.record",
        &id.to_string(),
        &format!("{what} {date} via {via}"),
    )?;
    Ok(
        json!({"member": id.to_string(), "name": rec.name(), "what": what,
        "date": date.to_string(), "changed": changed}),
    )
}

pub(super) fn sheet(node: &Node, req: &Value, via: &str) -> Result<Value> {
    let bytes = data_encoding::BASE64
        .decode(req["csv"].as_str().unwrap_or("").as_bytes())
        .context("csv: not base64")?;
    let year = year_of(&req["year"])?;
    let cmd = req["cmd"].as_str().unwrap_or("");
    let report = if cmd == "sheet.dues" {
        let month: u32 = int(&req["month"], "month")?;
        let paid_on = date_of(&req["paid_on"], "paid_on")?;
        let host = match req["cell"].as_str() {
            Some(c) => Some(UnitPath::parse(c)?),
            None => None,
        };
        node.dues_sheet(&bytes, year, month, paid_on, host.as_ref())?
    } else {
        node.ratings_sheet(&bytes, year)?
    };
    let dry_run = flag(req, "dry_run");
    let changed = if dry_run {
        0
    } else {
        node.apply_sheet(&report)?
    };
    if !dry_run {
        node.audit(
            cmd,
            &format!("{year}"),
            &format!(
                "{} rows, {} refused, {changed} ledgers changed, via {via}",
                report.rows,
                report.bad.len()
            ),
        )?;
    }
    let bad: Vec<Value> = report
        .bad
        .iter()
        .map(|b| json!({"line": b.line, "reason": b.reason, "values": b.values}))
        .collect();
    Ok(
        json!({"rows": report.rows, "changed_ledgers": changed, "bad": bad, "dry_run": dry_run,
        "header": report.header, "delimiter": report.delimiter}),
    )
}

pub(super) fn org_publish(node: &Node, req: &Value, via: &str) -> Result<Value> {
    let text = req["text"].as_str().unwrap_or("");
    let what = req["what"].as_str().unwrap_or("");
    let (changed, effective) = match what {
        "rules" => {
            let (effective, changed) = node.publish_rules(text)?;
            (changed, Some(effective.to_string()))
        }
        "calendar" => (node.publish_calendar(text)?, None),
        "tree" => (node.publish_tree(text)?, None),
        _ => bail!("what: rules, calendar or tree"),
    };
    node.audit(
        "org.publish",
        what,
        &format!("{} bytes, effective {effective:?}, via {via}", text.len()),
    )?;
    Ok(json!({"what": what, "changed": changed, "effective": effective}))
}

pub(super) fn org_show(node: &Node, req: &Value) -> Result<Value> {
    let as_of = match req["as_of"].as_str() {
        Some(_) => date_of(&req["as_of"], "as_of")?,
        None => today_in_vietnam(),
    };
    match req["what"].as_str().unwrap_or("") {
        "rules" => {
            let (rules, source) = node.rule_set(as_of)?;
            let versions = node
                .store()
                .org_head(OrgDocKind::Rules)?
                .map(|h| h.versions.into_iter().map(|(k, _)| k).collect::<Vec<_>>())
                .unwrap_or_default();
            let effective = match source {
                RulesSource::Published(d) => Some(d.to_string()),
                RulesSource::Default => None,
            };
            Ok(
                json!({"as_of": as_of.to_string(), "published_effective": effective,
                "versions": versions, "toml": rules.to_toml()?, "rules": rules}),
            )
        }
        "calendar" => {
            let cal = node.calendar()?;
            let published = node.store().org_head(OrgDocKind::Calendar)?.is_some();
            Ok(json!({"published": published, "calendar": cal,
                "toml": toml::to_string(&cal)?}))
        }
        "tree" => {
            let text = node.store().org_doc(OrgDocKind::Tree)?.current();
            Ok(json!({"published": text.is_some(), "toml": text}))
        }
        _ => bail!("what: rules, calendar or tree"),
    }
}

pub(super) fn ledger_show(node: &Node, req: &Value) -> Result<Value> {
    let cell = cell_of(node, req)?;
    let year = req["year"].to_string();
    node.audit("ledger.show", &cell.to_string(), &year)?;
    if let Some(tree) = node.org_tree()? {
        if tree.children(&cell).next().is_some() {
            bail!(msg!(
                "{cell} không phải chi bộ: chọn chi bộ với --cell",
                "{cell} is not a cell: choose one with --cell"
            ));
        }
    }
    let year: i32 = match req["year"].is_null() {
        true => today_in_vietnam().year(),
        false => year_of(&req["year"])?,
    };
    let ledger = node.ledger(&cell, year)?;
    let names: BTreeMap<String, String> = node
        .store()
        .list(Some(&cell))?
        .into_iter()
        .map(|r| (r.id.to_string(), r.name().to_string()))
        .collect();
    let c = ledger.conflicts();
    let conflicts = c.topics.len() + c.attendance.len() + c.dues.len();
    // Attachment books of this cell's year: its members attached elsewhere, members attached to it.
    let mut attached = Vec::new();
    for h in node.attachments()? {
        let Some(a) = &h.attached else { continue };
        if h.year != year || (a.home != cell && h.cell != cell) {
            continue;
        }
        let g = h.grant.as_ref();
        let name = names
            .get(&a.member.to_string())
            .cloned()
            .or_else(|| g.and_then(|g| g.name.clone()));
        let present: usize = h
            .ledger
            .meetings
            .iter()
            .filter(|m| {
                m.attendance.get(&a.member.to_string())
                    == Some(&rollmesh_model::ledger::Attendance::Present)
            })
            .count();
        attached.push(json!({"member": a.member.to_string(), "name": name,
            "home": a.home.to_string(), "host": h.cell.to_string(),
            "from": g.map(|g| g.from.to_string()), "until": g.map(|g| g.until.to_string()),
            "dues": h.ledger.dues.get(&a.member.to_string()),
            "meetings": h.ledger.meetings.len(), "present": present}));
    }
    Ok(
        json!({"ledger": ledger.read(), "names": names, "conflicts": conflicts,
        "attached": attached}),
    )
}

pub(super) fn screen_deadlines(node: &Node, req: &Value) -> Result<Value> {
    node.audit("screen.deadlines", &node.unit().to_string(), "")?;
    let as_of = match req["as_of"].as_str() {
        Some(_) => date_of(&req["as_of"], "as_of")?,
        None => today_in_vietnam(),
    };
    let days: u32 = match req["days"].is_null() {
        true => 31,
        false => int(&req["days"], "days")?,
    };
    let days = days.min(366);
    let scope = match req["unit"].as_str() {
        Some(u) => UnitPath::parse(u)?,
        None => node.unit().clone(),
    };
    let due: Vec<_> = node
        .deadlines(as_of, days)?
        .into_iter()
        .filter(|d| d.flag.in_scope(scope.as_str()))
        .collect();
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for d in &due {
        if let Subject::Member(m) = &d.flag.subject {
            if let Ok(id) = m.parse::<MemberId>() {
                if let Some(r) = node.store().record(&id)? {
                    names.insert(m.clone(), r.name().to_string());
                }
            }
        }
    }
    Ok(
        json!({"as_of": as_of.to_string(), "days": days, "unit": scope.to_string(),
        "deadlines": due, "names": names}),
    )
}

pub(super) fn screen_run(node: &Node, req: &Value, via: &str) -> Result<Value> {
    let as_of = match req["as_of"].as_str() {
        Some(_) => date_of(&req["as_of"], "as_of")?,
        None => today_in_vietnam(),
    };
    let unit = match req["unit"].as_str() {
        Some(u) => Some(UnitPath::parse(u)?),
        None => None,
    };
    let rule = match req["rule"].as_str() {
        Some(r) => Some(
            RuleId::ALL
                .iter()
                .copied()
                .find(|id| id.code().eq_ignore_ascii_case(r))
                .ok_or_else(|| {
                    anyhow!(msg!(
                        "không có quy tắc {r} (có: R1, R2, R4, R6, R11, R14)",
                        "no rule {r} (there are R1, R2, R4, R6, R11, R14)"
                    ))
                })?,
        ),
        None => None,
    };
    let subject = req["subject"].as_str().map(str::to_string);
    let started = std::time::Instant::now();
    // `screen run` evaluates afresh; listing reuses the kept run while nothing changed.
    let screening = if flag(req, "fresh") {
        node.screen_run(as_of)?
    } else {
        node.screening(as_of)?
    };
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let scope = unit.as_ref().unwrap_or(node.unit());
    let shown: Vec<&Flag> = screening
        .flags
        .iter()
        .filter(|f| f.in_scope(scope.as_str()))
        .filter(|f| rule.is_none_or(|r| f.rule == r))
        .filter(|f| match (&subject, &f.subject) {
            (None, _) => true,
            (Some(s), Subject::Member(m)) => m.starts_with(s.as_str()),
            (Some(s), Subject::Cell(c)) => c == s,
        })
        .collect();
    // Names only of the members shown (a city's flags name a few thousand of its 470,000).
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for f in &shown {
        if let Subject::Member(m) = &f.subject {
            if let Ok(id) = m.parse::<MemberId>() {
                if let Some(r) = node.store().record(&id)? {
                    names.insert(m.clone(), r.name().to_string());
                }
            }
        }
    }
    node.audit(
        "screen.run",
        scope.as_str(),
        &format!("as of {as_of}: {} flags via {via}", shown.len()),
    )?;
    // A subject with no flag whose cell has no ledger for the year here: nothing could be judged.
    let mut no_ledger = None;
    if let (Some(sub), true) = (&subject, shown.is_empty()) {
        let cell = match node.resolve(sub) {
            Ok(id) => node.store().record(&id)?.and_then(|r| r.unit()),
            Err(_) => UnitPath::parse(sub).ok(),
        };
        if let Some(cell) = cell {
            let held = node
                .store()
                .ledgers(Some(&cell))?
                .iter()
                .any(|l| l.cell == cell && l.year == as_of.year());
            if !held {
                no_ledger = Some(cell.to_string());
            }
        }
    }
    Ok(
        json!({"as_of": as_of.to_string(), "unit": scope.to_string(),
        "total": screening.flags.len(), "flags": shown, "names": names,
        "elapsed_ms": elapsed_ms, "computed_at": screening.computed_at,
        "rules_effective": screening.rules_effective.map(|d| d.to_string()),
        "no_ledger": no_ledger, "year": as_of.year()}),
    )
}
