//! The character classes the pre-tokenizer regexes use: `\p{L}`, `\p{N}` and `\s`.
//!
//! `char::is_alphabetic` is the Alphabetic property (letters plus many marks, Nl and some
//! symbols), not general category L, so the exact categories come from generated tables.
//! `\s` in Oniguruma / Rust regex is the Unicode White_Space property, which is exactly what
//! `char::is_whitespace` tests.

use crate::unicode_tables::{LETTER, NUMBER};

/// `\p{L}`: general category Lu, Ll, Lt, Lm or Lo.
#[inline]
pub(crate) fn is_letter(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphabetic();
    }
    in_ranges(LETTER, c as u32)
}

/// `\p{N}`: general category Nd, Nl or No.
#[inline]
pub(crate) fn is_number(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    in_ranges(NUMBER, c as u32)
}

/// `\s`: the White_Space property.
#[inline]
pub(crate) fn is_space(c: char) -> bool {
    c.is_whitespace()
}

fn in_ranges(ranges: &[(u32, u32)], cp: u32) -> bool {
    // Index of the first range whose end is >= cp; the code point is inside iff that range starts <= cp.
    let i = ranges.partition_point(|&(_, hi)| hi < cp);
    ranges.get(i).is_some_and(|&(lo, _)| lo <= cp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_and_disjoint() {
        for t in [LETTER, NUMBER] {
            for w in t.windows(2) {
                assert!(w[0].0 <= w[0].1 && w[0].1 < w[1].0, "{w:?}");
            }
        }
    }

    #[test]
    fn known_categories() {
        // Letters (Lo, Lm, Ll, Lu).
        for c in [
            'a', 'Z', 'é', 'ß', 'Ω', 'и', 'ع', 'א', '你', 'ー', 'ｱ', '한', 'ſ',
        ] {
            assert!(is_letter(c), "{c:?} is \\p{{L}}");
        }
        // Alphabetic but not L: combining marks (Mn/Mc), Nl, So with Other_Alphabetic.
        for c in ['\u{093F}', 'Ⅻ', 'Ⓐ', '\u{0345}'] {
            assert!(
                c.is_alphabetic() && !is_letter(c),
                "{c:?} is Alphabetic but not \\p{{L}}"
            );
        }
        assert!(!is_letter('\u{0301}') && !is_letter('_') && !is_letter('😀'));
        for c in ['0', '٣', '²', '½', 'Ⅻ', '〇', '𝟘'] {
            assert!(is_number(c), "{c:?} is \\p{{N}}");
        }
        for c in ['a', '-', ' ', '\u{200B}', '😀'] {
            assert!(!is_number(c), "{c:?} is not \\p{{N}}");
        }
        for c in [
            ' ', '\t', '\n', '\r', '\u{0B}', '\u{0C}', '\u{85}', '\u{A0}', '\u{2003}', '\u{3000}',
        ] {
            assert!(is_space(c), "{c:?} is \\s");
        }
        assert!(!is_space('\u{200B}'), "zero-width space is not White_Space");
    }

    /// Our tables (Unicode 16) against std's own Unicode data: every \p{N} char is `is_numeric`
    /// (std documents that as general category Nd|Nl|No) and every \p{L} char is Alphabetic.
    /// std may be on a newer Unicode version, so only the inclusion is asserted for chars std knows.
    #[test]
    fn tables_agree_with_std() {
        for cp in 0..=0x10FFFFu32 {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            if is_number(c) {
                assert!(
                    c.is_numeric(),
                    "U+{cp:04X} in NUMBER but not char::is_numeric"
                );
            }
            if is_letter(c) {
                assert!(c.is_alphabetic(), "U+{cp:04X} in LETTER but not Alphabetic");
            }
        }
        // And the reverse for numbers on the BMP and the main supplementary planes
        // (std's is_numeric is exactly general category N).
        let mut newer = 0;
        for cp in 0..=0x10FFFFu32 {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            if c.is_numeric() && !is_number(c) {
                newer += 1;
            }
        }
        // Characters std knows from a newer Unicode version than our tables: a handful at most.
        assert!(
            newer < 100,
            "{newer} chars numeric in std but not in NUMBER"
        );
    }
}
