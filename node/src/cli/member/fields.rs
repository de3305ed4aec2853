//! Dossier field values from the command line (`FieldArgs`), from JSON, and `--event` text.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use clap::Args;
use rollmesh_model::{Event, EventKind, Field};
use serde_json::json;

use rollmesh_engine::msg;

/// Các tham số trường hồ sơ. `--set key=value` ghi được mọi trường theo khóa trường (xem `member fields`).
#[derive(Args, Debug, Clone, Default)]
pub struct FieldArgs {
    /// Họ và tên — full name.
    #[arg(long)]
    pub name: Option<String>,
    /// Ngày sinh — date of birth, YYYY-MM-DD or DD/MM/YYYY.
    #[arg(long)]
    pub dob: Option<String>,
    /// Giới tính — male/female (nam/nữ).
    #[arg(long)]
    pub sex: Option<String>,
    /// Số CCCD — citizen id.
    #[arg(long)]
    pub citizen_id: Option<String>,
    /// Số lý lịch — dossier number.
    #[arg(long)]
    pub dossier_no: Option<String>,
    /// Số thẻ đảng viên — card number.
    #[arg(long)]
    pub card_no: Option<String>,
    /// Điện thoại — phone.
    #[arg(long)]
    pub phone: Option<String>,
    /// Nơi làm việc — workplace.
    #[arg(long)]
    pub workplace: Option<String>,
    /// Nơi ở hiện nay — current residence.
    #[arg(long)]
    pub residence: Option<String>,
    /// Quê quán — hometown.
    #[arg(long)]
    pub hometown: Option<String>,
    /// Lĩnh vực — sector (lecturer, teacher, student, worker, farmer, civil_servant, …).
    #[arg(long)]
    pub sector: Option<String>,
    /// Trạng thái — status (official, probationary, exempted, temporarily_away, …).
    #[arg(long)]
    pub status: Option<String>,
    /// Chi bộ sinh hoạt — the member's unit (default: this node's unit).
    #[arg(long)]
    pub unit: Option<String>,
    /// Ngày vào Đảng — admission date.
    #[arg(long)]
    pub admission_date: Option<String>,
    /// Bất kỳ trường nào theo khóa trường: --set ethnicity=Kinh (dùng được nhiều lần; any field by key).
    #[arg(long, value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

impl FieldArgs {
    pub(super) fn collect(&self) -> Result<BTreeMap<Field, String>> {
        let mut raw: Vec<(Field, String)> = Vec::new();
        let named = [
            (Field::FullName, &self.name),
            (Field::DateOfBirth, &self.dob),
            (Field::Sex, &self.sex),
            (Field::CitizenId, &self.citizen_id),
            (Field::DossierNo, &self.dossier_no),
            (Field::CardNo, &self.card_no),
            (Field::Phone, &self.phone),
            (Field::Workplace, &self.workplace),
            (Field::CurrentResidence, &self.residence),
            (Field::Hometown, &self.hometown),
            (Field::Sector, &self.sector),
            (Field::Status, &self.status),
            (Field::Unit, &self.unit),
            (Field::AdmissionDate, &self.admission_date),
        ];
        for (f, v) in named {
            if let Some(v) = v {
                raw.push((f, v.clone()));
            }
        }
        for s in &self.set {
            let (k, v) = s.split_once('=').with_context(|| {
                msg!(
                    "--set cần dạng khóa=giá_trị: {s}",
                    "--set needs key=value: {s}"
                )
            })?;
            raw.push((Field::from_key(k)?, v.to_string()));
        }
        let mut out = BTreeMap::new();
        for (f, v) in raw {
            out.insert(f, f.normalize(&v)?);
        }
        Ok(out)
    }
}

pub(super) fn fields_json(values: &BTreeMap<Field, String>) -> serde_json::Value {
    serde_json::Value::Object(
        values
            .iter()
            .map(|(f, v)| (f.key().to_string(), json!(v)))
            .collect(),
    )
}

pub(super) fn parse_event(s: &str) -> Result<Event> {
    let mut parts = s.splitn(3, ':');
    let kind_text = parts.next().unwrap_or("");
    let kind = EventKind::parse(kind_text).with_context(|| {
        msg!(
            "loại sự kiện không rõ: {kind_text}",
            "unknown event kind: {kind_text}"
        )
    })?;
    let date = match parts.next().map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) => Some(
            Field::AdmissionDate
                .normalize(d)
                .with_context(|| msg!("ngày không hợp lệ: {d}", "bad date: {d}"))?,
        ),
        None => None,
    };
    let detail = rollmesh_model::text::clean(parts.next().unwrap_or(""));
    Ok(Event { kind, date, detail })
}
