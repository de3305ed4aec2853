//! Vietnamese text handling: NFC normalisation for storage and diacritic-insensitive folding for search.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Trims surrounding white space, collapses inner runs of white space to one space and returns NFC.
/// Every text value a user enters passes through here before it is stored, so the same name typed on two
/// keyboards (precomposed or combining diacritics) is stored byte-identically.
pub fn clean(s: &str) -> String {
    let nfc: String = s.nfc().collect();
    nfc.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Characters that hide or disguise text and have no place in a name, an address or a note: control
/// characters, bidirectional formatting characters (which make text display as something else),
/// zero-width, invisible filler and format characters, variation selectors and tag characters (which
/// make two equal-looking names differ). Input holding one is refused.
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

/// Folds text for search: strips diacritics (including đ/Đ → d), lowercases and collapses white space, so
/// "nguyen van an" matches "Nguyễn Văn An".
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut last_space = true;
    for c in s.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        let c = match c {
            'đ' | 'Đ' => 'd',
            c => c,
        };
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
                last_space = true;
            }
            continue;
        }
        for l in c.to_lowercase() {
            out.push(l);
        }
        last_space = false;
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_turns_combining_input_into_nfc() {
        let decomposed = "Nguye\u{302}\u{303}n  Va\u{306}n An ";
        assert_eq!(clean(decomposed), "Nguyễn Văn An");
        assert_eq!(clean(decomposed).as_bytes(), "Nguyễn Văn An".as_bytes());
    }

    #[test]
    fn fold_strips_diacritics_and_case() {
        assert_eq!(fold("Nguyễn Văn An"), "nguyen van an");
        assert_eq!(fold("  ĐẶNG   Thị Ánh "), "dang thi anh");
        assert_eq!(fold("Lê Thị Hằng"), fold("le thi hang"));
    }
}
