//! Words the domain and the API write in lower case (`the session has
//! expired`), made ready for a page: a capital, and a sentence's end.

/// `see patients` as `See patients`.
pub fn capitalised(words: &str) -> String {
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `the session has expired` as `The session has expired.`
pub fn sentence(said: &str) -> String {
    let mut out = capitalised(said.trim());
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capital_and_one_full_stop() {
        assert_eq!(
            sentence(" the session has expired "),
            "The session has expired."
        );
        assert_eq!(sentence("Done."), "Done.");
        assert_eq!(sentence("why?"), "Why?");
        assert_eq!(capitalised("élan"), "Élan");
        assert_eq!(capitalised(""), "");
    }
}
