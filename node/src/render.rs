//! How records and reports look to a clerk (Vietnamese or English text) and to a script (`--json`).

use rollmesh_model::{Field, MemberRecord, Status};
use rollmesh_proto::RejectCode;
use serde_json::{Map, Value};

use crate::i18n::{field_error, is_en, pick};
use rollmesh_engine::msg;
use rollmesh_model::case::{Share, Vote};

/// A member as a flat JSON object: `id` and one key per field present.
pub fn record_json(r: &MemberRecord) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), Value::String(r.id.to_string()));
    for (f, v) in &r.fields {
        m.insert(f.key().into(), Value::String(v.clone()));
    }
    if !r.conflicted.is_empty() {
        m.insert(
            "conflicted".into(),
            Value::Array(
                r.conflicted
                    .iter()
                    .map(|f| Value::String(f.key().into()))
                    .collect(),
            ),
        );
    }
    Value::Object(m)
}

/// A field's label in the current language.
pub fn label(f: Field) -> &'static str {
    pick(f.label_vi(), f.label_en())
}

/// A stored value as a clerk reads it (status and sex translated).
pub fn display_value(f: Field, v: &str) -> String {
    match f {
        Field::Status => Status::parse(v)
            .map(|s| pick(s.label_vi(), s.label_en()).to_string())
            .unwrap_or_else(|| v.to_string()),
        Field::Sex => match v {
            "male" => pick("Nam", "Male").to_string(),
            "female" => pick("Nữ", "Female").to_string(),
            other => other.to_string(),
        },
        Field::Sector => rollmesh_model::Sector::parse(v)
            .map(|s| pick(s.label_vi(), s.label_en()).to_string())
            .unwrap_or_else(|| v.to_string()),
        _ => v.to_string(),
    }
}

/// One line per member for lists (from `record_json`): id, name, date of birth (DD/MM/YYYY), unit, status.
pub fn record_line_json(v: &Value) -> String {
    let get = |f: Field| v[f.key()].as_str();
    let status = get(Field::Status)
        .map(|s| display_value(Field::Status, s))
        .unwrap_or_default();
    list_line(
        v["id"].as_str().unwrap_or("-"),
        get(Field::FullName).unwrap_or(""),
        &get(Field::DateOfBirth)
            .map(date_text)
            .unwrap_or_else(|| "-".into()),
        get(Field::Unit).unwrap_or("-"),
        &status,
    )
}

fn list_line(id: &str, name: &str, dob: &str, unit: &str, status: &str) -> String {
    format!("{id}  {name:<28}  {dob:<10}  {unit:<16}  {status}")
}

/// A reject code explained to a clerk.
pub fn reject_reason(code: &str) -> String {
    let vi_en = match RejectCode::from_key(code) {
        Some(RejectCode::Malformed) => ("gói dữ liệu hỏng", "malformed envelope"),
        Some(RejectCode::BadSignature) => (
            "chữ ký không hợp lệ (dữ liệu bị sửa?)",
            "bad signature (data altered?)",
        ),
        Some(RejectCode::BadChange) => ("thay đổi không đọc được", "unreadable change"),
        Some(RejectCode::ActorMismatch) => (
            "thay đổi không phải của người ký",
            "change not made by its signer",
        ),
        Some(RejectCode::Untrusted) => ("nút ký chưa được tin cậy", "signing node is not trusted"),
        Some(RejectCode::InvalidDocument) => (
            "tài liệu (hồ sơ, sổ chi bộ…) không hợp lệ sau thay đổi",
            "invalid document (dossier, ledger…) after the change",
        ),
        Some(RejectCode::NoCredential) => (
            "nút ký chưa có chứng nhận",
            "no credential known for the signer",
        ),
        Some(RejectCode::BadCredential) => (
            "chứng nhận của nút ký không hợp lệ",
            "the signer's credential is invalid",
        ),
        Some(RejectCode::Revoked) => (
            "khóa của nút ký đã bị thu hồi",
            "the signer's key was revoked",
        ),
        Some(RejectCode::Unauthorized) => (
            "nút ký không có thẩm quyền với đơn vị này",
            "the signer has no authority over this unit",
        ),
        None => ("lý do khác", "other reason"),
    };
    pick(vi_en.0, vi_en.1).to_string()
}

/// An ISO date (`YYYY-MM-DD`) as a clerk writes it, `DD/MM/YYYY`; anything else as it is.
pub fn date_text(iso: &str) -> String {
    chrono::NaiveDate::parse_from_str(iso, "%Y-%m-%d")
        .map(|d| d.format("%d/%m/%Y").to_string())
        .unwrap_or_else(|_| iso.to_string())
}

/// A field value as a clerk reads it: dates DD/MM/YYYY, status and sex translated.
pub fn clerk_value(f: Field, v: &str) -> String {
    if f.kind() == rollmesh_model::member::FieldKind::Date {
        date_text(v)
    } else {
        display_value(f, v)
    }
}

/// One entry of `member.history` as a line: when (local time), who (the person and the node), and what
/// changed from → to.
pub fn history_line(e: &Value) -> String {
    let mut what: Vec<String> = Vec::new();
    let created = e["changed"]
        .as_array()
        .is_some_and(|c| c.iter().any(|k| k == "create"));
    if created {
        what.push(pick("tạo hồ sơ", "created").to_string());
    } else {
        for c in e["changes"].as_array().into_iter().flatten() {
            let key = c["field"].as_str().unwrap_or("");
            let Ok(f) = Field::from_key(key) else {
                continue;
            };
            let show = |v: &Value| {
                v.as_str()
                    .map(|x| clerk_value(f, x))
                    .unwrap_or_else(|| pick("(trống)", "(empty)").to_string())
            };
            what.push(format!(
                "{}: {} → {}",
                label(f),
                show(&c["old"]),
                show(&c["new"])
            ));
        }
    }
    for ev in e["events"].as_array().into_iter().flatten() {
        let kind = ev["kind"].as_str().unwrap_or("");
        let k = rollmesh_model::EventKind::parse(kind)
            .map(|k| pick(k.label_vi(), k.label_en()).to_string())
            .unwrap_or_else(|| kind.to_string());
        if kind == "case_step" {
            let step: Value =
                serde_json::from_str(ev["detail"].as_str().unwrap_or("")).unwrap_or_default();
            what.push(format!(
                "{} {}: {}",
                pick("hồ sơ", "case"),
                step["case"].as_str().unwrap_or(""),
                case_step_line(&step)
            ));
            continue;
        }
        what.push(format!("{} {k}", pick("thêm sự kiện", "added event")));
    }
    let node = e["author"].as_str().unwrap_or("?");
    let who = match e["person"].as_str() {
        Some(p) => format!("{p} @ {node}"),
        None => node.to_string(),
    };
    format!(
        "#{:<6} {}  {}  {}",
        e["seq"],
        time_local(e["unix_time"].as_i64().unwrap_or(0)),
        who,
        what.join("; ")
    )
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS` UTC.
pub fn time_text(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| t.to_string())
}

/// Unix seconds as the clerk reads a time: the node's time zone (`time_zone` in `node.toml`, by default
/// Asia/Ho_Chi_Minh), `DD/MM/YYYY HH:MM`. JSON output keeps [`time_text`] (UTC, ISO order).
pub fn time_local(t: i64) -> String {
    let tz = TIME_ZONE
        .get()
        .copied()
        .unwrap_or(chrono_tz::Asia::Ho_Chi_Minh);
    match chrono::DateTime::from_timestamp(t, 0) {
        Some(d) => d.with_timezone(&tz).format("%d/%m/%Y %H:%M").to_string(),
        None => t.to_string(),
    }
}

/// The time zone [`time_local`] shows, once set (from `time_zone` in `node.toml`).
static TIME_ZONE: std::sync::OnceLock<chrono_tz::Tz> = std::sync::OnceLock::new();

/// Sets the time zone times are shown in, by IANA name ("Asia/Ho_Chi_Minh"); the first call wins.
pub fn set_time_zone(name: &str) -> anyhow::Result<()> {
    let tz: chrono_tz::Tz = name.parse().map_err(|_| {
        anyhow::anyhow!(rollmesh_engine::msg!(
            "múi giờ không rõ: {name:?} (ví dụ Asia/Ho_Chi_Minh)",
            "unknown time zone: {name:?} (e.g. Asia/Ho_Chi_Minh)"
        ))
    })?;
    let _ = TIME_ZONE.set(tz);
    Ok(())
}

/// An audit action as the clerk reads it (the key stays in `--json` and in `audit --action`).
pub fn audit_action(key: &str) -> String {
    let vi_en = match key {
        "member.add" => ("thêm đảng viên", "add member"),
        "member.edit" => ("sửa hồ sơ", "edit dossier"),
        "member.show" => ("xem hồ sơ", "view dossier"),
        "member.list" => ("xem danh sách", "list members"),
        "member.search" => ("tìm kiếm", "search"),
        "member.history" => ("xem lịch sử", "view history"),
        "member.export" => ("xuất tệp", "export"),
        "member.export-doc" => ("xuất tài liệu", "export document"),
        "member.import" => ("nhập tệp", "import"),
        "stats" => ("thống kê", "statistics"),
        "changes" => ("đọc thay đổi (hệ thống khác)", "changes feed"),
        "login" => ("đăng nhập", "sign in"),
        "login.failed" => ("đăng nhập sai", "failed sign-in"),
        "user.add" => ("thêm tài khoản", "add account"),
        "user.passwd" => ("đổi mật khẩu", "set password"),
        "user.disable" => ("khóa tài khoản", "disable account"),
        "user.enable" => ("mở lại tài khoản", "enable account"),
        "user.role" => ("đổi vai trò", "change role"),
        "bundle.export" => ("xuất gói", "export bundle"),
        "bundle.import" => ("nhập gói", "import bundle"),
        "credential.issue" => ("cấp chứng nhận", "issue credential"),
        "credential.install" => ("cài chứng nhận", "install credential"),
        "credential.revoke" => ("thu hồi khóa", "revoke key"),
        "trust.add" => ("tin cậy nút", "trust node"),
        "trust.remove" => ("thôi tin cậy nút", "untrust node"),
        "meeting.record" => ("ghi buổi họp", "record meeting"),
        "dues.record" => ("ghi đảng phí", "record dues"),
        "rating.set" => ("xếp loại", "set rating"),
        "help.record" => ("ghi danh sách giúp đỡ", "help list"),
        "attach.grant" => ("cho sinh hoạt tạm thời", "grant attachment"),
        "org.publish" => ("ban hành văn bản", "publish"),
        "screen.run" => ("rà soát", "screening"),
        "screen.deadlines" => ("xem hạn sắp tới", "deadlines"),
        "ledger.show" => ("xem sổ chi bộ", "view ledger"),
        "attach.list" => ("xem sinh hoạt tạm thời", "list attachments"),
        other => return other.to_string(),
    };
    pick(vi_en.0, vi_en.1).to_string()
}

/// An audit entry's detail as the clerk reads it: the counts the node writes in English ("12 records",
/// "3 changes", "9 records, 2 updated, 1 rejected", "4 applied") in Vietnamese; anything else as it is.
pub fn audit_detail(detail: &str) -> String {
    if is_en() {
        return detail.to_string();
    }
    detail
        .split(", ")
        .map(|part| match part.split_once(' ') {
            Some((n, what)) if n.parse::<u64>().is_ok() => {
                let what = match what {
                    "records" => "hồ sơ",
                    "changes" => "thay đổi",
                    "updated" => "cập nhật",
                    "rejected" => "bị từ chối",
                    "applied" => "đã áp dụng",
                    "rows" => "dòng",
                    other => other,
                };
                format!("{n} {what}")
            }
            _ => match part {
                "viewer" | "clerk" | "approver" | "admin" => {
                    rollmesh_engine::accounts::Role::parse(part)
                        .map(|r| r.label_vi().to_string())
                        .unwrap_or_else(|_| part.to_string())
                }
                other => other.to_string(),
            },
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Prints JSON on stdout.
pub fn print_json(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// `true` if English output is on (for callers that build their own tables).
pub fn english() -> bool {
    is_en()
}

/// A refused ledger edit in Vietnamese.
fn ledger_error(e: &rollmesh_model::ledger::LedgerError) -> String {
    use rollmesh_model::ledger::LedgerError as L;
    match e {
        L::Year(y) => format!("năm {y} nằm ngoài khoảng 1900-2200"),
        L::OutsideYear { meeting, year } => {
            format!("buổi họp {meeting} không thuộc năm {year} của sổ")
        }
        L::MeetingNumber(m) => format!("buổi họp {m}: mỗi ngày tối đa 9 buổi cùng loại"),
        L::UnknownMeeting(m) => format!("buổi họp {m} chưa được ghi"),
        L::Month(m) => format!("tháng {m} không nằm trong 1-12"),
        L::PaymentDate(d) => format!("ngày đóng {} không hợp lệ", d.format("%d/%m/%Y")),
        L::Text { what, value, .. } => {
            let what = if *what == "topic" {
                "nội dung"
            } else {
                "lý do"
            };
            format!("{what} {value:?} quá dài (tối đa 500 ký tự) hoặc có ký tự điều khiển")
        }
        L::HelpOutsideYear { date, year } => format!(
            "mục danh sách giúp đỡ ngày {} không thuộc năm {year} của sổ",
            date.format("%d/%m/%Y")
        ),
        L::NotAnAttachmentBook => {
            "chỉ sổ sinh hoạt tạm thời mới ghi thời hạn sinh hoạt tạm thời".into()
        }
        L::NotAttached { book, member } => format!(
            "sổ sinh hoạt tạm thời của đảng viên {book} không ghi được cho đảng viên {member}"
        ),
        L::OutsideAttachment(what) => rollmesh_engine::ledger::outside_text(what),
        L::GrantDates { from, until } => format!(
            "ngày kết thúc {} trước ngày bắt đầu {}",
            until.format("%d/%m/%Y"),
            from.format("%d/%m/%Y")
        ),
        other => format!("sổ chi bộ: {other}"),
    }
}

/// An error as one line in the clerk's language: known causes are translated, anything else keeps its
/// (English) technical detail behind a Vietnamese lead.
pub fn explain(err: &anyhow::Error) -> String {
    explain_lang(err, is_en())
}

/// [`explain`] in a given language (`en`: English), for errors relayed to a caller whose language may
/// differ from this process's.
pub fn explain_lang(err: &anyhow::Error, en: bool) -> String {
    use rollmesh_engine::NodeError;
    use rollmesh_store::StoreError;
    let chain = || {
        err.chain()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(": ")
    };
    if en {
        return chain();
    }
    for cause in err.chain() {
        if let Some(f) = cause.downcast_ref::<rollmesh_model::FieldError>() {
            return field_error(f);
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            // The context above it names the file, when there is one.
            let file = err
                .chain()
                .next()
                .map(|c| c.to_string())
                .filter(|c| !c.contains("os error"))
                .unwrap_or_default();
            let what = match io.kind() {
                std::io::ErrorKind::NotFound => "không tìm thấy tệp hoặc thư mục",
                std::io::ErrorKind::PermissionDenied => "không có quyền đọc hoặc ghi",
                std::io::ErrorKind::AlreadyExists => "tệp đã có",
                std::io::ErrorKind::StorageFull => "đĩa đã đầy",
                _ => "lỗi đọc/ghi tệp",
            };
            return if file.is_empty() {
                format!("{what} ({io})")
            } else {
                format!("{file}: {what}")
            };
        }
        if let Some(e) = cause.downcast_ref::<rollmesh_proto::NodeIdError>() {
            return match e {
                rollmesh_proto::NodeIdError::Check => "mã nút sai ký tự kiểm tra (gõ nhầm?)".into(),
                rollmesh_proto::NodeIdError::Format => {
                    "mã nút gồm 21 chữ cái và chữ số 2-7, ví dụ ABCDEFG-HIJKLMN-OPQRSTU".into()
                }
                rollmesh_proto::NodeIdError::KeyFile => "tệp khóa nút không đúng định dạng".into(),
            };
        }
        if let Some(e) = cause.downcast_ref::<NodeError>() {
            let s = match e {
                NodeError::AlreadyInitialised(p) => {
                    format!("{} đã có một nút rollmesh; không thay đổi gì", p.display())
                }
                NodeError::NotInitialised(p) => format!(
                    "{} không phải thư mục dữ liệu rollmesh (hãy chạy `rollmesh init` trước)",
                    p.display()
                ),
                NodeError::UnknownUnit(u) => format!("đơn vị {u} không có trong cây tổ chức"),
                NodeError::NotACell(u) => format!(
                    "đơn vị {u} còn có đơn vị cấp dưới: đảng viên sinh hoạt ở chi bộ (hãy chọn một chi bộ)"
                ),
                NodeError::NoSuchUnit(u) => {
                    format!("không có đơn vị mã hoặc tên {u:?} (hoặc nhiều đơn vị trùng tên)")
                }
                NodeError::Ledger(l) => ledger_error(l),
                NodeError::OutOfScope { unit, scope } => {
                    format!("đơn vị {unit} nằm ngoài phạm vi của nút này ({scope})")
                }
                NodeError::NoSuchMember(id) => format!("không có đảng viên mã {id}"),
                NodeError::Ambiguous(id) => {
                    format!("mã {id} khớp nhiều đảng viên; hãy gõ thêm ký tự")
                }
                NodeError::Store(StoreError::Locked) => {
                    "thư mục dữ liệu đang được một tiến trình rollmesh khác sử dụng".into()
                }
                NodeError::Bundle(b) => format!("tệp không phải gói rollmesh hợp lệ ({b})"),
                NodeError::Dossier(rollmesh_model::DossierError::Field(f)) => field_error(f),
                _ => continue,
            };
            return s;
        }
    }
    chain()
}

/// An ISO date of a JSON value as DD/MM/YYYY ("—" when absent).
fn iso_day(v: &Value) -> String {
    v.as_str()
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .map(|d| d.format("%d/%m/%Y").to_string())
        .unwrap_or_else(|| "—".into())
}

/// A case step's name in the clerk's language, from its key.
pub fn case_step_label(s: &Value) -> String {
    let s = s.as_str().unwrap_or("");
    rollmesh_model::case::Step::ALL
        .iter()
        .find(|x| x.key() == s)
        .map(|x| {
            if rollmesh_engine::i18n::is_en() {
                x.label_en().to_string()
            } else {
                x.label_vi().to_string()
            }
        })
        .unwrap_or_else(|| s.to_string())
}

/// A case step as one line: "Chi bộ biểu quyết 12/04/2026 (hn.d01.w01.c01): 10 tán thành, 1 không, 15 có quyền — đạt".
pub fn case_step_line(r: &Value) -> String {
    // A unit by its name when the node knows it, else by its code.
    let unit = |code: &Value, name: &Value| match name.as_str() {
        Some(n) => n.to_string(),
        None => code.as_str().unwrap_or("").to_string(),
    };
    let mut line = format!(
        "{} {} ({})",
        case_step_label(&r["step"]),
        iso_day(&r["date"]),
        unit(&r["unit"], &r["unit_name"])
    );
    if let Some(n) = r["number"].as_str() {
        line.push_str(&msg!(", số {n}", ", no. {n}"));
    }
    if r["to"].is_string() {
        let (from, to) = (
            unit(&r["from"], &r["from_name"]),
            unit(&r["to"], &r["to_name"]),
        );
        line.push_str(&msg!(": từ {from} đến {to}", ": from {from} to {to}"));
    }
    if let Some(c) = r["certificate"].as_str() {
        line.push_str(&msg!("; giấy chứng nhận: {c}", "; certificate: {c}"));
    }
    if let Some(ids) = r["sponsors"].as_array() {
        let names: Vec<String> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let id = id.as_str().unwrap_or("");
                match r["sponsor_names"][i].as_str() {
                    Some(n) => format!("{n} ({id})"),
                    None => id.to_string(),
                }
            })
            .collect();
        let names = names.join(", ");
        line.push_str(&msg!("; người giới thiệu: {names}", "; sponsors: {names}"));
    }
    if let Some(f) = r["form"].as_str() {
        let f = rollmesh_model::case::DisciplineForm::ALL
            .iter()
            .find(|x| x.key() == f)
            .map(|x| x.label_vi())
            .unwrap_or(f);
        line.push_str(&format!(": {f}"));
    }
    let v = &r["vote"];
    if let (Some(y), Some(n), Some(e)) =
        (v["yes"].as_u64(), v["no"].as_u64(), v["eligible"].as_u64())
    {
        let share = match (
            r["case"].as_str().unwrap_or(""),
            r["step"].as_str(),
            r["form"].as_str(),
        ) {
            (c, Some("vote" | "review"), _) if c.starts_with("admission/") => Share::TwoThirds,
            (_, _, Some("expulsion")) => Share::TwoThirds,
            _ => Share::Majority,
        };
        let vote = Vote {
            yes: y as u32,
            no: n as u32,
            eligible: e as u32,
        };
        let need = Vote::needed(vote.eligible, share);
        let verdict = match vote.carried(share) {
            true => msg!("đạt", "carried"),
            false => msg!("không đạt", "fell short"),
        };
        line.push_str(&msg!(
            "; biểu quyết {y} tán thành, {n} không tán thành, {e} đảng viên có quyền biểu quyết (cần {need}): {verdict}",
            "; vote {y} for, {n} against, {e} entitled to vote (needs {need}): {verdict}"
        ));
    }
    if let Some(a) = r["age"].as_u64() {
        line.push_str(&msg!("; {a} tuổi", "; aged {a}"));
    }
    if let Some(n) = r["note"].as_str() {
        line.push_str(&format!(" — {n}"));
    }
    line
}
