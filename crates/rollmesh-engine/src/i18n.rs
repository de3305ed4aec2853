//! The language of what a clerk reads: Vietnamese by default, English on request (`--lang en` or
//! `ROLLMESH_LANG=en`). Messages are written at their call site as a Vietnamese/English pair with
//! [`msg!`](crate::msg), so no message can exist in one language only.

use std::sync::atomic::{AtomicBool, Ordering};

static ENGLISH: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// A per-request language on a server thread, over the process language.
    static REQUEST: std::cell::Cell<Option<bool>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` with messages in `lang` on this thread (a node serving requests in two languages at once).
pub fn with_lang<R>(lang: Lang, f: impl FnOnce() -> R) -> R {
    let before = REQUEST.with(|r| r.replace(Some(lang == Lang::En)));
    let out = f();
    REQUEST.with(|r| r.set(before));
    out
}

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
    REQUEST
        .with(|r| r.get())
        .unwrap_or_else(|| ENGLISH.load(Ordering::Relaxed))
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
            if *expected == "empty" {
                return format!("thiếu {label} ({field})");
            }
            let expected = expected_vi(expected);
            format!("{label} ({field}): giá trị {value:?} không hợp lệ (cần {expected})")
        }
        FieldError::Required(k) => {
            let label = Field::from_key(k).map(|f| f.label_vi()).unwrap_or(k);
            format!("thiếu {label} ({k})")
        }
    }
}

/// What a field expects, in Vietnamese (the model states it in English; every text it uses is here).
fn expected_vi(expected: &str) -> &str {
    match expected {
        "at most 500 characters" => "tối đa 500 ký tự",
        "a date (YYYY-MM-DD or DD/MM/YYYY)" => "một ngày dạng DD/MM/YYYY hoặc YYYY-MM-DD",
        "male/female (nam/nữ)" => "nam hoặc nữ",
        "a status (official, probationary, …)" => {
            "một trạng thái (chính thức, dự bị, miễn sinh hoạt, …; xem `rollmesh member fields`)"
        }
        "a sector (lecturer, teacher, student, …)" => {
            "một lĩnh vực (giảng viên, giáo viên, sinh viên, …; xem `rollmesh member fields`)"
        }
        "a unit path like hn.d01.w01.c01" => "mã đơn vị dạng hn.d01.w01.c01",
        "digits of the right length" => "chỉ chữ số, đúng độ dài",
        "a phone number" => "một số điện thoại (8–15 chữ số)",
        "a date not in the future" => "một ngày không ở tương lai",
        "a day that exists in the calendar" => "một ngày có thật trong lịch (ngày này không có)",
        "a date after the 16th birthday" => "một ngày sau khi đủ 16 tuổi",
        "a date on or after the admission date" => "một ngày từ ngày vào Đảng trở đi",
        "text without control, bidirectional or zero-width characters" => {
            "văn bản không có ký tự điều khiển, ký tự đảo chiều hay ký tự ẩn"
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollmesh_model::Field;

    #[test]
    fn refused_field_values_read_in_vietnamese() {
        // One bad value per kind of field; the Vietnamese message carries none of the model's English.
        let bad = [
            (Field::FullName, "   "),
            (Field::FullName, &"a".repeat(501)),
            (Field::DateOfBirth, "31/02/1990"),
            (Field::Sex, "x"),
            (Field::Status, "boss"),
            (Field::Sector, "astronaut"),
            (Field::Unit, "hn..x"),
            (Field::CitizenId, "12ab"),
            (Field::Phone, "call me"),
        ];
        for (field, value) in bad {
            let e = field.normalize(value).expect_err("refused");
            let rollmesh_model::FieldError::Invalid { expected, .. } = &e else {
                panic!("{e:?}");
            };
            let vi = field_error(&e);
            assert!(
                *expected == "empty" || !vi.contains(expected),
                "{vi} still says {expected:?}"
            );
            assert!(vi.contains(field.label_vi()), "{vi}");
        }
        let e = Field::FullName.normalize(" ").expect_err("empty");
        assert_eq!(field_error(&e), "thiếu Họ và tên (full_name)");
    }
}
