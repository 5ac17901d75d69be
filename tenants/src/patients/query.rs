//! What a staff member typed into "Find a patient", read for what it is: a
//! date of birth, an email address, a phone number or words of a name, in
//! any order. A front desk types what the caller on the phone says; the
//! search box should not need to be told which field that was.

use crate::domain::DateOfBirth;

/// At most this many name words take part in a search; more narrow nothing
/// a person could read and only lengthen the query.
const MAX_NAME_WORDS: usize = 5;

/// A patient search, parsed once from the typed text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatientQuery {
    /// Nothing typed: every record, alphabetically.
    Everyone,
    /// Every word must appear in the name, in any order: "wong mia" finds
    /// Mia Wong. Lower-cased.
    Name(Vec<String>),
    /// `YYYY-MM-DD`, or `MM/DD/YYYY` as US clinics write it.
    BirthDate(DateOfBirth),
    /// Anything with an `@`: part of an email address, lower-cased.
    Email(String),
    /// Only digits and phone punctuation, at least four digits: the digits,
    /// matched anywhere in the number however it was written.
    Phone(String),
}

impl PatientQuery {
    pub fn parse(typed: &str) -> Self {
        let typed = typed.trim();
        if typed.is_empty() {
            return Self::Everyone;
        }
        if let Some(date) = birth_date(typed) {
            return Self::BirthDate(date);
        }
        if typed.contains('@') {
            return Self::Email(typed.to_lowercase());
        }
        let digits: String = typed.chars().filter(char::is_ascii_digit).collect();
        let phone_like = typed
            .chars()
            .all(|c| c.is_ascii_digit() || " -.()+".contains(c));
        if phone_like && digits.len() >= 4 {
            return Self::Phone(digits);
        }
        let words: Vec<String> = typed
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|w| !w.is_empty())
            .take(MAX_NAME_WORDS)
            .map(str::to_lowercase)
            .collect();
        Self::Name(words)
    }
}

/// A date as a person at a US front desk writes one, or as the console
/// shows it.
fn birth_date(typed: &str) -> Option<DateOfBirth> {
    if let Ok(date) = DateOfBirth::parse(typed) {
        return Some(date);
    }
    let mut parts = typed.split('/');
    let (month, day, year) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || year.len() != 4 {
        return None;
    }
    let number = |s: &str| s.parse::<u8>().ok().filter(|_| (1..=2).contains(&s.len()));
    let (month, day) = (number(month)?, number(day)?);
    DateOfBirth::parse(&format!("{year}-{month:02}-{day:02}")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> PatientQuery {
        PatientQuery::Name(list.iter().map(|w| (*w).to_owned()).collect())
    }

    #[test]
    fn names_are_words_in_any_order() {
        assert_eq!(PatientQuery::parse("  Wong  Mia "), words(&["wong", "mia"]));
        assert_eq!(PatientQuery::parse("Wong, Mia"), words(&["wong", "mia"]));
        assert_eq!(PatientQuery::parse("o'brien"), words(&["o'brien"]));
        assert_eq!(PatientQuery::parse(""), PatientQuery::Everyone);
        assert_eq!(
            PatientQuery::parse("a b c d e f g"),
            words(&["a", "b", "c", "d", "e"])
        );
    }

    #[test]
    fn dates_of_birth_in_either_common_form() {
        let want = PatientQuery::BirthDate(DateOfBirth::parse("1984-03-07").unwrap());
        assert_eq!(PatientQuery::parse("1984-03-07"), want);
        assert_eq!(PatientQuery::parse("3/7/1984"), want);
        assert_eq!(PatientQuery::parse("03/07/1984"), want);
        // Not a real date: read as digits of a phone number instead.
        assert_eq!(
            PatientQuery::parse("1984-02-30"),
            PatientQuery::Phone("19840230".into())
        );
        assert_eq!(PatientQuery::parse("13/40/1984"), words(&["13/40/1984"]));
    }

    #[test]
    fn emails_and_phones() {
        assert_eq!(
            PatientQuery::parse("Anita@Example"),
            PatientQuery::Email("anita@example".into())
        );
        assert_eq!(
            PatientQuery::parse("(555) 010-0199"),
            PatientQuery::Phone("5550100199".into())
        );
        assert_eq!(
            PatientQuery::parse("0199"),
            PatientQuery::Phone("0199".into())
        );
        assert_eq!(
            PatientQuery::parse("199"),
            words(&["199"]),
            "too short for a phone"
        );
    }
}
