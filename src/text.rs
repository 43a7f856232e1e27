//! Text that comes from outside (providers, admins, other servers' choices):
//! what may be shown, and how names are compared. Pure functions.
//!
//! - [`strip_invisible`]: characters that change how the text around them
//!   reads without being seen (bidi overrides such as U+202E, zero-width
//!   characters, other format characters) are removed, so a provider name
//!   cannot reverse a webhook name, a thread name or an embed.
//! - [`fold_name`]: the form two names are compared in (NFKC, invisible
//!   characters removed, case folded, spaces collapsed), so "Ｆｒｉｔｚｙ" and
//!   "Fri\u{200B}tzy" are "fritzy".
//! - [`truncate_chars`]: at most so many characters (not bytes), with an
//!   ellipsis, for Discord's length limits.

use unicode_normalization::UnicodeNormalization;

/// A character that is not seen but changes the text: bidi embeddings,
/// overrides, isolates and marks; zero-width spaces and joiners; the
/// byte-order mark; soft hyphen and the other invisible format characters.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'            // soft hyphen
        | '\u{034F}'          // combining grapheme joiner
        | '\u{061C}'          // Arabic letter mark
        | '\u{115F}' | '\u{1160}' // Hangul fillers
        | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' // Mongolian selectors and vowel separator
        | '\u{200B}'..='\u{200F}' // zero-width space, (non-)joiner, LRM, RLM
        | '\u{202A}'..='\u{202E}' // embeddings and overrides
        | '\u{2060}'..='\u{206F}' // word joiner, invisible operators, isolates
        | '\u{3164}'          // Hangul filler
        | '\u{FE00}'..='\u{FE0F}' // variation selectors
        | '\u{FEFF}'          // byte-order mark / zero-width no-break space
        | '\u{FFA0}'          // halfwidth Hangul filler
        | '\u{FFF9}'..='\u{FFFB}' // interlinear annotations
        | '\u{1D173}'..='\u{1D17A}' // musical format characters
        | '\u{E0000}'..='\u{E007F}' // tags
    )
}

/// `s` without its invisible characters.
pub fn strip_invisible(s: &str) -> String {
    s.chars().filter(|c| !is_invisible(*c)).collect()
}

/// The form in which names are compared: NFKC, invisible characters
/// removed, lower case, runs of whitespace as one space, trimmed.
pub fn fold_name(s: &str) -> String {
    let normalized: String = s.nfkc().filter(|c| !is_invisible(*c)).collect();
    normalized
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Truncate to at most `max` characters (not bytes), adding an ellipsis.
pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_overrides_and_zero_width_characters_are_removed() {
        assert_eq!(strip_invisible("Fri\u{202E}tzy"), "Fritzy");
        assert_eq!(
            strip_invisible("\u{200B}a\u{200D}b\u{FEFF}c\u{2066}d\u{2069}"),
            "abcd"
        );
        assert_eq!(strip_invisible("Zee 💖 ✨"), "Zee 💖 ✨");
        assert_eq!(strip_invisible("Gracia"), "Gracia");
    }

    #[test]
    fn folded_names_ignore_width_case_spacing_and_invisible_characters() {
        assert_eq!(fold_name("Ｆｒｉｔｚｙ"), "fritzy");
        assert_eq!(fold_name(" Fri\u{200B}tzy "), "fritzy");
        assert_eq!(fold_name("Freya  Jayawardana"), "freya jayawardana");
        assert_eq!(fold_name("ＦＲＩＴＺＹ\u{202E}"), "fritzy");
        assert_ne!(fold_name("Fritzy"), fold_name("Fritzi"));
    }

    #[test]
    fn truncates_by_chars() {
        assert_eq!(truncate_chars("héllo", 10), "héllo");
        assert_eq!(truncate_chars("héllo", 3), "hé…");
    }
}
