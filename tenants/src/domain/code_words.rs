use std::collections::HashSet;
use std::sync::LazyLock;

use rand::seq::IndexedRandom;

pub const WORDS_PER_CODE: usize = 4;

static WORDS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    include_str!("eff_large_wordlist.txt")
        .lines()
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .collect()
});

static WORD_SET: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| WORDS.iter().copied().collect());

/// How many words a code's words are drawn from.
pub fn wordlist_len() -> usize {
    WORDS.len()
}

/// A code just issued, in the form shown to people (`word-word-word-word`).
/// `Debug` is redacted so it cannot reach a log.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainCode(String);

impl PlainCode {
    /// Four words drawn uniformly, with the OS random generator.
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        let words: Vec<&str> = (0..WORDS_PER_CODE)
            .map(|_| *WORDS.choose(&mut rng).expect("the word list is not empty"))
            .collect();
        Self(words.join("-"))
    }

    pub fn display(&self) -> &str {
        &self.0
    }

    /// The letters only, lowercase: what the keyed hash is taken over.
    pub fn canonical(&self) -> String {
        canonical(&self.0)
    }
}

impl std::fmt::Debug for PlainCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PlainCode(<redacted>)")
    }
}

fn canonical(raw: &str) -> String {
    raw.chars()
        .filter(char::is_ascii_alphabetic)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Why what was typed cannot be a code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeInputError {
    #[error("no code was given")]
    Empty,
    #[error("this is not an access code: a code is four words")]
    Malformed,
}

/// What someone typed as a code, reduced to its letters. Its `Debug` is
/// redacted too: a typed code is as secret as an issued one.
#[derive(Clone, PartialEq, Eq)]
pub struct PresentedCode(String);

impl PresentedCode {
    /// The longest a four-word code can be, with generous room for
    /// separators and spaces.
    pub const MAX_INPUT: usize = 200;

    pub fn parse(raw: &str) -> Result<Self, CodeInputError> {
        if raw.trim().is_empty() {
            return Err(CodeInputError::Empty);
        }
        if raw.len() > Self::MAX_INPUT || raw.chars().any(|c| c.is_ascii_digit()) {
            return Err(CodeInputError::Malformed);
        }
        let letters = canonical(raw);
        // Four words of 3 to 9 letters each.
        if !(12..=36).contains(&letters.len()) {
            return Err(CodeInputError::Malformed);
        }
        Ok(Self(letters))
    }

    pub fn canonical(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PresentedCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PresentedCode(<redacted>)")
    }
}

/// True when `text` reads as four words of the list, with or without
/// separators: used to recognise a code typed into a password field.
pub fn looks_like_a_code(text: &str) -> bool {
    if text.len() > PresentedCode::MAX_INPUT || text.chars().any(|c| c.is_ascii_digit()) {
        return false;
    }
    let tokens: Vec<String> = text
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|t| !t.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    if tokens.len() == WORDS_PER_CODE {
        return tokens.iter().all(|t| WORD_SET.contains(t.as_str()));
    }
    // Typed without separators: can the letters be split into four words?
    splits_into_words(&canonical(text), WORDS_PER_CODE)
}

fn splits_into_words(letters: &str, words: usize) -> bool {
    if words == 0 {
        return letters.is_empty();
    }
    (3..=9.min(letters.len())).any(|len| {
        letters.is_char_boundary(len)
            && WORD_SET.contains(&letters[..len])
            && splits_into_words(&letters[len..], words - 1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_the_eff_large_list_without_hyphenated_words() {
        assert_eq!(wordlist_len(), 7772);
        assert!(
            WORDS
                .iter()
                .all(|w| w.chars().all(|c| c.is_ascii_lowercase()) && (3..=9).contains(&w.len()))
        );
        // 4 × log2(7772) ≈ 51.7 bits.
        let bits = 4.0 * (wordlist_len() as f64).log2();
        assert!((bits - 51.7).abs() < 0.05, "{bits}");
    }

    #[test]
    fn generated_codes_are_four_listed_words_and_differ() {
        let a = PlainCode::generate();
        let b = PlainCode::generate();
        assert_ne!(a, b);
        let words: Vec<_> = a.display().split('-').collect();
        assert_eq!(words.len(), 4);
        assert!(words.iter().all(|w| WORD_SET.contains(w)));
        assert!(!format!("{a:?}").contains(words[0]));
    }

    #[test]
    fn codes_match_ignoring_case_and_separators() {
        let code = PlainCode::generate();
        let shouted = code.display().to_uppercase().replace('-', "  ");
        let squashed = code.display().replace('-', "");
        for typed in [
            code.display().to_owned(),
            shouted,
            squashed,
            format!(" {}. ", code.display().replace('-', "_")),
        ] {
            assert_eq!(
                PresentedCode::parse(&typed).unwrap().canonical(),
                code.canonical(),
                "{typed:?}"
            );
        }
    }

    #[test]
    fn empty_and_malformed_input_are_told_apart() {
        assert_eq!(
            PresentedCode::parse("   ").unwrap_err(),
            CodeInputError::Empty
        );
        assert_eq!(
            PresentedCode::parse("abc").unwrap_err(),
            CodeInputError::Malformed
        );
        assert_eq!(
            PresentedCode::parse("hunter2hunter2hunter2").unwrap_err(),
            CodeInputError::Malformed
        );
        assert_eq!(
            PresentedCode::parse(&"word ".repeat(50)).unwrap_err(),
            CodeInputError::Malformed
        );
    }

    #[test]
    fn a_code_in_a_password_field_is_recognised() {
        let code = PlainCode::generate();
        assert!(looks_like_a_code(code.display()));
        assert!(looks_like_a_code(
            &code.display().replace('-', " ").to_uppercase()
        ));
        assert!(looks_like_a_code(&code.display().replace('-', "")));
        assert!(!looks_like_a_code("correct horse battery staple 2"));
        assert!(!looks_like_a_code("my secret passphrase"));
        assert!(!looks_like_a_code("Tr0ub4dor&3"));
    }
}
