//! Cases at a node: a clerk's step taken as one signed dossier change (the step, and the status, dates
//! and events it decides), with the writer's checks — order, status, votes counted from the store, age,
//! numbers — and the listing of a scope's cases (the inbox of what waits for this unit).

#[allow(unused_imports)]
use super::*;

/// What a clerk gives for a step.
#[derive(Clone, Debug, Default)]
pub struct StepInput {
    /// The case, when the member has more than one open case waiting for this step.
    pub case: Option<CaseKey>,
    /// For a first step: which kind of case it opens.
    pub open: Option<CaseKind>,
    /// The step.
    pub step: Option<Step>,
    /// The day (today when `None`).
    pub date: Option<NaiveDate>,
    /// Resolution or decision number.
    pub number: Option<String>,
    /// Votes for and against (the node counts who was entitled).
    pub yes: Option<u32>,
    /// Votes against.
    pub no: Option<u32>,
    /// Sponsors (ids or unique prefixes), for an admission.
    pub sponsors: Vec<String>,
    /// Course certificate, for an admission.
    pub certificate: Option<String>,
    /// Discipline form, for a discipline proposal.
    pub form: Option<DisciplineForm>,
    /// Reason or note.
    pub note: Option<String>,
    /// A transfer's destination cell (code or name).
    pub to: Option<String>,
}

/// What a step did.
#[derive(Clone, Debug, Serialize)]
pub struct StepDone {
    /// The member.
    pub member: String,
    /// The step as recorded.
    pub record: StepRecord,
    /// The case afterwards.
    pub state: CaseState,
    /// The status the step set, if any.
    pub status: Option<Status>,
    /// Something the clerk should know about what comes next, in the clerk's language.
    pub notice: Option<String>,
}

/// One case in a listing.
#[derive(Clone, Debug, Serialize)]
pub struct CaseRow {
    /// The member's id.
    pub member: String,
    /// The member's name.
    pub name: String,
    /// The member's cell.
    pub unit: String,
    /// The member's status.
    pub status: Option<String>,
    /// The case.
    pub case: Case,
    /// Where it stands.
    pub state: CaseState,
    /// The level that takes the next step (`cell`, `ward`, …), if open.
    pub next_level: Option<String>,
    /// That level's name in the tree, in Vietnamese ("Phường/Xã"), when the tree is held.
    pub next_level_name: Option<String>,
    /// Whether the next step is this node's to take.
    pub waiting_here: bool,
}

fn refused(vi: String, en: String) -> NodeError {
    NodeError::Refused(if crate::i18n::is_en() { en } else { vi })
}

fn clean_opt(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(rollmesh_model::text::clean)
        .filter(|t| !t.is_empty())
}

impl Node {
    /// The competence this node judges steps with: the tree it holds and every published rule set's
    /// `[cases]` table.
    pub fn competence(&self) -> Result<Competence, NodeError> {
        let levels = self
            .org_tree()?
            .map(|t| t.levels.iter().map(|l| l.key.clone()).collect())
            .unwrap_or_default();
        let mut versions = Vec::new();
        if let Some(head) = self.store().org_head(OrgDocKind::Rules)? {
            for (key, text) in head.versions {
                let (Ok(day), Ok(rules)) = (
                    NaiveDate::parse_from_str(&key, "%Y-%m-%d"),
                    RuleSet::from_toml(&text),
                ) else {
                    continue;
                };
                versions.push((day, rules.cases));
            }
        }
        versions.sort_by_key(|(d, _)| *d);
        Ok(Competence { levels, versions })
    }

    /// The member's cases.
    pub fn cases_of(&self, id: &MemberId) -> Result<Vec<Case>, NodeError> {
        let r = self.record(id)?;
        Ok(cases_of(steps_of(&r.events).map_err(|e| {
            NodeError::Internal(format!("member {id}: {e}"))
        })?))
    }

    /// How many members of `cell` vote in it on `day` (R12: official members, exempted ones left out;
    /// members attached from elsewhere belong to their home cell and are not counted).
    pub fn voters(&self, cell: &UnitPath, day: NaiveDate) -> Result<u32, NodeError> {
        let (rules, _) = self.rule_set(day)?;
        let statuses = self.store().projections(cell, |r| {
            (r.unit().as_ref() == Some(cell))
                .then(|| r.status())
                .flatten()
        })?;
        Ok(statuses
            .into_iter()
            .flatten()
            .filter(|s| rules.counts_in_vote(*s))
            .count() as u32)
    }

    /// Takes one step of a member's case as one signed dossier change: the step, and the status,
    /// dates and events it decides.
    pub fn case_step(&self, member: MemberId, input: &StepInput) -> Result<StepDone, NodeError> {
        let rec = self.record(&member)?;
        let cell = rec
            .unit()
            .ok_or_else(|| NodeError::Internal(format!("member {member} has no unit")))?;
        let today = crate::screen::today_in_vietnam();
        let date = input.date.unwrap_or(today);
        if date > today {
            return Err(refused(
                format!("ngày {} là ngày trong tương lai", date.format("%d/%m/%Y")),
                format!("{} is in the future", date.format("%d/%m/%Y")),
            ));
        }
        let cases =
            cases_of(steps_of(&rec.events).map_err(|e| NodeError::Internal(e.to_string()))?);
        let (key, step) = self.which_step(&cases, input, date)?;
        let case = cases.iter().find(|c| c.key == key);
        if let Some(last) = case.and_then(|c| c.steps.iter().map(|s| s.date).max()) {
            if date < last {
                return Err(refused(
                    format!(
                        "ngày {} trước bước trước đó của hồ sơ ({})",
                        date.format("%d/%m/%Y"),
                        last.format("%d/%m/%Y")
                    ),
                    format!(
                        "{} is before the case's previous step ({})",
                        date.format("%d/%m/%Y"),
                        last.format("%d/%m/%Y")
                    ),
                ));
            }
        }
        // Who a case can be about: an exemption, a strike-off, a discipline or a transfer concerns a
        // member in the party (an admission, a candidate: checked at its opening below).
        if input.open.is_some() && key.kind != CaseKind::Admission {
            let allowed: &[Status] = match key.kind {
                CaseKind::Exemption => &[Status::Official],
                _ => &[Status::Official, Status::Probationary, Status::Exempted],
            };
            if !rec.status().is_some_and(|st| allowed.contains(&st)) {
                let st = rec.status().map_or("—", |s| s.label_vi());
                let en = rec.status().map_or("—", |s| s.label_en());
                return Err(refused(
                    format!(
                        "không mở được hồ sơ {} cho người có trạng thái {st}",
                        key.kind.label_vi().to_lowercase()
                    ),
                    format!(
                        "a {} case cannot be opened for a member whose status is {en}",
                        key.kind.key()
                    ),
                ));
            }
        }
        if step == Step::Withdraw && clean_opt(&input.note).is_none() {
            return Err(refused(
                "cần lý do rút hoặc đóng hồ sơ (--note)".into(),
                "the reason for closing the case is required (--note)".into(),
            ));
        }
        let mut s = StepRecord::new(key, step, date, self.unit().as_str());
        s.number = clean_opt(&input.number);
        s.note = clean_opt(&input.note);
        let (rules, _) = self.rule_set(date)?;
        let mut set: BTreeMap<Field, String> = BTreeMap::new();
        let mut events: Vec<Event> = Vec::new();
        let mut status = None;
        let mut notice = None;
        let iso = date.format("%Y-%m-%d").to_string();
        let decision_detail = |what: &str| match &s.number {
            Some(n) => format!("{what} số {n}"),
            None => what.to_string(),
        };
        match (key.kind, step) {
            (CaseKind::Admission, Step::Open) => {
                if rec.status() != Some(Status::Candidate) {
                    return Err(refused(
                        "chỉ mở hồ sơ kết nạp cho người có trạng thái Đối tượng kết nạp".into(),
                        "an admission is opened only for a member whose status is candidate".into(),
                    ));
                }
                s.certificate = clean_opt(&input.certificate);
                if s.certificate.is_none() {
                    return Err(refused(
                        "cần giấy chứng nhận học lớp bồi dưỡng nhận thức về Đảng (--certificate)"
                            .into(),
                        "the candidate's course certificate is required (--certificate)".into(),
                    ));
                }
                if input.sponsors.len() != 2 {
                    return Err(refused(
                        "cần đúng hai người giới thiệu (--sponsor hai lần)".into(),
                        "exactly two sponsors are required (--sponsor twice)".into(),
                    ));
                }
                for (i, who) in input.sponsors.iter().enumerate() {
                    let id = self.resolve(who)?;
                    if s.sponsors.contains(&id.to_string()) {
                        return Err(refused(
                            "hai người giới thiệu phải là hai người khác nhau".into(),
                            "the two sponsors must be two different members".into(),
                        ));
                    }
                    let r = self.record(&id)?;
                    if r.status() != Some(Status::Official) || id == member {
                        return Err(refused(
                            format!(
                                "người giới thiệu {} ({}) không phải đảng viên chính thức",
                                r.name(),
                                id
                            ),
                            format!("sponsor {} ({}) is not an official member", r.name(), id),
                        ));
                    }
                    s.sponsors.push(id.to_string());
                    set.insert(
                        if i == 0 {
                            Field::Sponsor1
                        } else {
                            Field::Sponsor2
                        },
                        r.name().to_string(),
                    );
                }
            }
            (CaseKind::Admission, Step::Vote) => {
                let born = rec
                    .get(Field::DateOfBirth)
                    .and_then(parse_date)
                    .ok_or_else(|| {
                        refused(
                            "cần ngày sinh của người được đề nghị kết nạp để xét tuổi (R13)".into(),
                            "the candidate's date of birth is needed to check the age (R13)".into(),
                        )
                    })?;
                let age = age_on(born, date);
                if age < rules.cases.min_age {
                    let min = rules.cases.min_age;
                    return Err(refused(
                        format!("R13: ngày biểu quyết người được đề nghị mới {age} tuổi, chưa đủ {min} tuổi"),
                        format!("R13: the candidate is {age} on the day of the vote, under {min}"),
                    ));
                }
                s.age = Some(age);
                if age > rules.cases.max_age {
                    let max = rules.cases.max_age;
                    let tree = self.org_tree()?;
                    let en = crate::i18n::is_en();
                    let level = rules
                        .cases
                        .admission_over_age
                        .iter()
                        .find_map(|k| {
                            tree.as_ref()?.levels.iter().find(|l| &l.key == k).map(|l| {
                                if en {
                                    l.name_en.clone()
                                } else {
                                    l.name_vi.clone()
                                }
                            })
                        })
                        .unwrap_or_else(|| rules.cases.admission_over_age.join("/"));
                    notice = Some(if en {
                        format!("over {max} on the day of the vote: the admission is decided at the level {level}")
                    } else {
                        format!("trên {max} tuổi tại ngày biểu quyết: việc kết nạp do cấp {level} quyết định")
                    });
                }
            }
            (CaseKind::Admission, Step::Decision) => {
                status = Some(Status::Probationary);
                set.insert(Field::AdmissionDate, iso.clone());
                events.push(Event {
                    kind: EventKind::Admission,
                    date: Some(iso.clone()),
                    detail: decision_detail("Quyết định"),
                });
            }
            (CaseKind::Admission, Step::Review) => {
                let ceremony = case.and_then(|c| c.step(Step::Ceremony)).map(|r| r.date);
                if let Some(end) =
                    ceremony.and_then(|c| c.checked_add_months(Months::new(rules.r8.months)))
                {
                    if date < end {
                        let (e, m) = (end.format("%d/%m/%Y"), rules.r8.months);
                        return Err(refused(
                            format!("chưa hết {m} tháng dự bị: chi bộ xét công nhận từ ngày {e}"),
                            format!("probation lasts {m} months: the cell reviews from {e}"),
                        ));
                    }
                }
            }
            (CaseKind::Admission, Step::Confirm) => {
                status = Some(Status::Official);
                let ceremony = case.and_then(|c| c.step(Step::Ceremony)).map(|r| r.date);
                let official = ceremony
                    .and_then(|c| c.checked_add_months(Months::new(rules.r8.months)))
                    .map_or(date, |end| end.min(date));
                set.insert(Field::OfficialDate, official.format("%Y-%m-%d").to_string());
                events.push(Event {
                    kind: EventKind::Confirmation,
                    date: Some(iso.clone()),
                    detail: decision_detail("Quyết định"),
                });
            }
            (CaseKind::Exemption, Step::Resolution) => {
                status = Some(Status::Exempted);
                events.push(Event {
                    kind: EventKind::StatusChange,
                    date: Some(iso.clone()),
                    detail: decision_detail("Nghị quyết miễn sinh hoạt"),
                });
            }
            (CaseKind::StrikeOff, Step::Decision) => {
                status = Some(Status::StruckOff);
                events.push(Event {
                    kind: EventKind::StatusChange,
                    date: Some(iso.clone()),
                    detail: decision_detail("Quyết định xóa tên"),
                });
            }
            (CaseKind::Transfer, Step::Open) => {
                let to = input.to.as_deref().ok_or_else(|| {
                    refused(
                        "cần chi bộ chuyển đến (--to)".into(),
                        "the destination cell is required (--to)".into(),
                    )
                })?;
                if self.org_tree()?.is_none() {
                    return Err(refused(
                        "nút này chưa nhận được cây tổ chức của thành phố (hãy đồng bộ với cấp trên), nên chưa kiểm tra được chi bộ chuyển đến".into(),
                        "this node has not received the city's organisation tree yet (sync with its parent), so it cannot check the destination cell".into(),
                    ));
                }
                let to = self.resolve_unit(to)?;
                self.check_cell(&to)?;
                if to == cell {
                    return Err(refused(
                        "đảng viên đã sinh hoạt tại chi bộ này".into(),
                        "the member already belongs to that cell".into(),
                    ));
                }
                s.from = Some(cell.to_string());
                s.to = Some(to.to_string());
            }
            (CaseKind::Transfer, Step::Send) => {
                let Some((from, to)) = case.and_then(Case::route) else {
                    return Err(NodeError::Internal("the transfer names no cells".into()));
                };
                set.insert(Field::Unit, to.to_string());
                // Counted nowhere until the new cell takes the member in.
                s.was = rec.status().map(|st| st.key().to_string());
                status = Some(Status::Transferring);
                events.push(Event {
                    kind: EventKind::Transfer,
                    date: Some(iso.clone()),
                    detail: match &s.number {
                        Some(n) => {
                            format!("Chuyển sinh hoạt từ {from} đến {to}, giấy giới thiệu số {n}")
                        }
                        None => format!("Chuyển sinh hoạt từ {from} đến {to}"),
                    },
                });
            }
            (CaseKind::Transfer, Step::Receive) => {
                status = case
                    .and_then(|c| c.step(Step::Send))
                    .and_then(|r| r.was.as_deref())
                    .and_then(Status::parse)
                    .filter(|st| *st != Status::Transferring)
                    .or(Some(Status::Official));
            }
            (CaseKind::Discipline, Step::Propose) => {
                s.form = input.form;
                if s.form.is_none() {
                    return Err(refused(
                        "cần hình thức kỷ luật (--form khiển trách|cảnh cáo|cách chức|khai trừ)".into(),
                        "the form of discipline is required (--form reprimand|warning|removal|expulsion)".into(),
                    ));
                }
            }
            (CaseKind::Discipline, Step::Decision) => {
                let form = case
                    .and_then(Case::form)
                    .unwrap_or(DisciplineForm::Expulsion);
                if form == DisciplineForm::Expulsion {
                    status = Some(Status::Expelled);
                }
                events.push(Event {
                    kind: EventKind::Discipline,
                    date: Some(iso.clone()),
                    detail: decision_detail(&format!("{}, quyết định", form.label_vi())),
                });
            }
            _ => {}
        }
        if s.share().is_some() {
            let (Some(yes), Some(no)) = (input.yes, input.no) else {
                return Err(refused(
                    "cần số phiếu tán thành và không tán thành (--for, --against)".into(),
                    "the votes for and against are required (--for, --against)".into(),
                ));
            };
            let eligible = self.voters(&cell, date)?;
            if yes.saturating_add(no) > eligible {
                return Err(refused(
                    format!("{yes} + {no} phiếu nhiều hơn {eligible} đảng viên có quyền biểu quyết của chi bộ"),
                    format!("{yes} + {no} votes are more than the cell's {eligible} members entitled to vote"),
                ));
            }
            s.vote = Some(Vote { yes, no, eligible });
            if s.vote_failed() {
                // The vote is recorded and closes the case; nothing else changes.
                status = None;
                set.clear();
                events.clear();
            }
        }
        if let Some(st) = status {
            set.insert(Field::Status, st.key().to_string());
        }
        s.check()
            .map_err(|e| refused(e.to_string(), e.to_string()))?;
        // The same check every receiving node makes, on the dossier as it will read.
        let mut after = rec.clone();
        after.events.push(s.event());
        let competence = self.competence()?;
        if let Err(e) = check_step(&competence, self.unit(), &after, &s) {
            // The level by its name in the tree ("Quận/Huyện"), with its key.
            let tree = self.org_tree()?;
            let level = tree
                .as_ref()
                .and_then(|t| t.levels.iter().find(|l| l.key == e.level))
                .map(|l| (l.name_vi.clone(), l.name_en.clone()))
                .unwrap_or_else(|| (e.level.clone(), e.level.clone()));
            return Err(match e.other {
                Some(o) => refused(o.clone(), o),
                None => refused(
                    format!(
                        "bước \"{}\" của hồ sơ {} do cấp {} trở lên quyết định; đơn vị {} không có thẩm quyền",
                        step.label_vi(),
                        key.kind.label_vi().to_lowercase(),
                        level.0,
                        self.unit()
                    ),
                    format!(
                        "step {} of the {} case is taken at level {} ({}) or above; {} is not entitled",
                        step.key(),
                        key.kind.key(),
                        level.1,
                        e.level,
                        self.unit()
                    ),
                ),
            });
        }
        // Decisions and resolutions are recorded with their number, which no one can add later.
        let numbered = matches!(
            (key.kind, step),
            (
                CaseKind::Admission,
                Step::Resolution | Step::Decision | Step::Confirm
            ) | (CaseKind::StrikeOff | CaseKind::Discipline, Step::Decision)
                | (CaseKind::Exemption, Step::Resolution)
                | (CaseKind::Transfer, Step::Send)
        );
        if numbered && clean_opt(&input.number).is_none() {
            return Err(refused(
                format!("bước \"{}\" cần số văn bản (--number)", step.label_vi()),
                format!("step {} needs the document's number (--number)", step.key()),
            ));
        }
        let mut all = vec![s.event()];
        all.extend(events);
        let edit = DossierEdit {
            set,
            clear: Default::default(),
            events: all,
        };
        self.edit_member(member, &edit)?;
        let state = self
            .cases_of(&member)?
            .into_iter()
            .find(|c| c.key == key)
            .map(|c| c.state())
            .unwrap_or(CaseState::Done);
        Ok(StepDone {
            member: member.to_string(),
            record: s,
            state,
            status,
            notice,
        })
    }

    /// The case and step a clerk's input means: a first step opens a new case; any other is the next
    /// step of the member's open case (named when there is more than one).
    fn which_step(
        &self,
        cases: &[Case],
        input: &StepInput,
        date: NaiveDate,
    ) -> Result<(CaseKey, Step), NodeError> {
        if let Some(kind) = input.open {
            let first = kind.steps()[0];
            if let Some(c) = cases
                .iter()
                .find(|c| c.key.kind == kind && matches!(c.state(), CaseState::Open { .. }))
            {
                return Err(refused(
                    format!(
                        "đảng viên này đã có hồ sơ {} đang mở ({})",
                        kind.label_vi().to_lowercase(),
                        c.key
                    ),
                    format!(
                        "this member already has an open {} case ({})",
                        kind.key(),
                        c.key
                    ),
                ));
            }
            // A second case of the kind the same day (after one was closed) gets the next number.
            let key = (1..=9u8)
                .map(|n| CaseKey {
                    kind,
                    opened: date,
                    n,
                })
                .find(|k| cases.iter().all(|c| c.key != *k))
                .ok_or_else(|| {
                    refused(
                        "đã mở quá nhiều hồ sơ loại này trong ngày".into(),
                        "too many cases of this kind opened on that day".into(),
                    )
                })?;
            return Ok((key, first));
        }
        let step = input
            .step
            .ok_or_else(|| refused("cần tên bước".into(), "a step is required".into()))?;
        if matches!(step, Step::Open | Step::Propose)
            || (step == Step::Resolution
                && cases
                    .iter()
                    .all(|c| !matches!(c.state(), CaseState::Open { .. })))
        {
            return Err(refused(
                format!(
                    "bước \"{}\" mở một hồ sơ mới: dùng rollmesh case open <mã> <loại hồ sơ>",
                    step.label_vi()
                ),
                format!(
                    "step {} opens a new case: use rollmesh case open <id> <kind>",
                    step.key()
                ),
            ));
        }
        let open: Vec<&Case> = cases
            .iter()
            .filter(|c| input.case.is_none_or(|k| k == c.key))
            .filter(|c| matches!(c.state(), CaseState::Open { .. }))
            .collect();
        let fits = |c: &Case| match c.state() {
            CaseState::Open { next } => {
                next == step
                    || step == Step::Withdraw
                    || (step == Step::Extend
                        && next == Step::Decision
                        && c.key.kind.has(Step::Extend)
                        && c.step(Step::Extend).is_none())
            }
            _ => false,
        };
        let matching: Vec<&Case> = open.iter().copied().filter(|c| fits(c)).collect();
        match (matching.as_slice(), open.as_slice()) {
            ([c], _) => Ok((c.key, step)),
            ([], []) => Err(match input.case {
                Some(k) => refused(
                    format!("không có hồ sơ {k} đang mở"),
                    format!("no open case {k}"),
                ),
                None => refused(
                    "đảng viên này không có hồ sơ nào đang mở".into(),
                    "this member has no open case".into(),
                ),
            }),
            ([], open) => {
                let en = crate::i18n::is_en();
                let next: Vec<String> = open
                    .iter()
                    .map(|c| match c.state() {
                        CaseState::Open { next } if en => format!("{} ({})", next.key(), c.key),
                        CaseState::Open { next } => format!("{} ({})", next.label_vi(), c.key),
                        _ => String::new(),
                    })
                    .collect();
                Err(refused(
                    format!(
                        "bước \"{}\" chưa đến lượt; bước tiếp theo là {}",
                        step.label_vi(),
                        next.join(", ")
                    ),
                    format!(
                        "step {} is out of order; the next step is {}",
                        step.key(),
                        next.join(", ")
                    ),
                ))
            }
            (many, _) => Err(refused(
                format!(
                    "nhiều hồ sơ đang chờ bước này, hãy chọn một bằng --case: {}",
                    many.iter()
                        .map(|c| c.key.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                format!(
                    "several cases wait for this step, name one with --case: {}",
                    many.iter()
                        .map(|c| c.key.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }

    /// The cases of the members in `scope` (the node's whole scope when `None`); with `waiting`, only
    /// the open ones whose next step is this node's to take.
    pub fn case_list(
        &self,
        scope: Option<&UnitPath>,
        waiting: bool,
        with_closed: bool,
    ) -> Result<Vec<CaseRow>, NodeError> {
        let scope = scope.unwrap_or(self.unit()).clone();
        self.check_scope(&scope)?;
        let competence = self.competence()?;
        let today = crate::screen::today_in_vietnam();
        let found = self.store().projections(&scope, |r| {
            if !r.events.iter().any(|e| e.kind == EventKind::CaseStep) {
                return Vec::new();
            }
            let Ok(steps) = steps_of(&r.events) else {
                return Vec::new();
            };
            cases_of(steps)
                .into_iter()
                .map(|c| (r.clone(), c))
                .collect()
        })?;
        let my_depth = self.unit().depth();
        let tree = self.org_tree()?;
        let level_name = |key: &str| {
            tree.as_ref()
                .and_then(|t| t.levels.iter().find(|l| l.key == key))
                .map(|l| {
                    if crate::i18n::is_en() {
                        l.name_en.clone()
                    } else {
                        l.name_vi.clone()
                    }
                })
        };
        let mut rows = Vec::new();
        for (r, case) in found.into_iter().flatten() {
            let state = case.state();
            let Some(cell) = r.unit() else { continue };
            let (next_level, here) = match state {
                CaseState::Open { next } => {
                    let probe = StepRecord::new(case.key, next, today, self.unit().as_str());
                    let rules = competence.on(today);
                    let over = case.age_at_vote().is_some_and(|a| a > rules.max_age);
                    let route = case.route();
                    match competence.depth(
                        probe.need(over, case.form()),
                        &cell,
                        today,
                        route.as_ref(),
                    ) {
                        Ok((d, level)) => (Some(level), d == my_depth),
                        Err(_) => (None, false),
                    }
                }
                _ => (None, false),
            };
            if waiting && !here {
                continue;
            }
            if !with_closed && !matches!(state, CaseState::Open { .. }) && !waiting {
                continue;
            }
            let next_level_name = next_level.as_deref().and_then(level_name);
            rows.push(CaseRow {
                next_level_name,
                member: r.id.to_string(),
                name: r.name().to_string(),
                unit: cell.to_string(),
                status: r.status().map(|s| s.key().to_string()),
                case,
                state,
                next_level,
                waiting_here: here,
            });
        }
        rows.sort_by(|a, b| (&a.unit, &a.name, &a.case.key).cmp(&(&b.unit, &b.name, &b.case.key)));
        Ok(rows)
    }
}
