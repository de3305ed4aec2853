//! The language of what a clerk reads: Vietnamese by default, English on request (`--lang en` or
//! `ROLLMESH_LANG=en`). Messages are written at their call site as a Vietnamese/English pair with
//! [`msg!`](crate::msg), so no message can exist in one language only.

use std::sync::atomic::{AtomicBool, Ordering};

static ENGLISH: AtomicBool = AtomicBool::new(false);

/// The two languages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// Tiếng Việt (default).
    Vi,
    /// English.
    En,
}

/// Sets the process language.
pub fn set(lang: Lang) {
    ENGLISH.store(lang == Lang::En, Ordering::Relaxed);
}

/// True when messages should be English.
pub fn is_en() -> bool {
    ENGLISH.load(Ordering::Relaxed)
}

/// Picks one of two already-formatted texts.
pub fn pick<'a>(vi: &'a str, en: &'a str) -> &'a str {
    if is_en() {
        en
    } else {
        vi
    }
}

/// Formats a Vietnamese/English message pair, capturing variables inline: `msg!("Đã thêm {n}", "Added {n}")`.
#[macro_export]
macro_rules! msg {
    ($vi:literal, $en:literal) => {
        if $crate::i18n::is_en() {
            format!($en)
        } else {
            format!($vi)
        }
    };
}

/// A refused field value, in the clerk's language.
pub fn field_error(e: &rollmesh_model::FieldError) -> String {
    use rollmesh_model::{Field, FieldError};
    if is_en() {
        return e.to_string();
    }
    match e {
        FieldError::UnknownField(k) => {
            format!("không có trường {k:?} (xem `rollmesh member fields`)")
        }
        FieldError::Invalid {
            field,
            value,
            expected,
        } => {
            let label = Field::from_key(field)
                .map(|f| f.label_vi())
                .unwrap_or(field);
            format!("{label} ({field}): giá trị {value:?} không hợp lệ (cần {expected})")
        }
        FieldError::Required(k) => {
            let label = Field::from_key(k).map(|f| f.label_vi()).unwrap_or(k);
            format!("thiếu {label} ({k})")
        }
    }
}
