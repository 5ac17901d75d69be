//! Reading the clinic's settings and the patient's answers, which both
//! arrive as name/value lists.

/// Anything with a name and a value: a setting or an answer.
pub trait Named {
    fn name(&self) -> &str;
    fn value(&self) -> &str;
}

/// The value named `name`, trimmed, if present and not blank.
pub fn get<'a, T: Named>(items: &'a [T], name: &str) -> Option<&'a str> {
    items
        .iter()
        .find(|item| item.name() == name)
        .map(|item| item.value().trim())
        .filter(|value| !value.is_empty())
}

/// A list setting, written one per line or separated by commas or spaces,
/// lowercased: `"gmail.com, Yahoo.com"` gives `["gmail.com", "yahoo.com"]`.
pub fn list<T: Named>(items: &[T], name: &str) -> Vec<String> {
    get(items, name)
        .map(|value| {
            value
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|part| !part.is_empty())
                .map(str::to_lowercase)
                .collect()
        })
        .unwrap_or_default()
}

/// A `yes-no` setting (interface 4.0.0): true for `yes`, false for `no` or
/// when absent.
pub fn yes<T: Named>(items: &[T], name: &str) -> bool {
    get(items, name).is_some_and(|value| value.eq_ignore_ascii_case("yes"))
}

/// A `whole-number` setting (interface 4.0.0), when present.
pub fn number<T: Named>(items: &[T], name: &str) -> Option<i64> {
    get(items, name)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Pair(&'static str, &'static str);

    impl Named for Pair {
        fn name(&self) -> &str {
            self.0
        }
        fn value(&self) -> &str {
            self.1
        }
    }

    #[test]
    fn values_are_found_by_name_and_blank_ones_are_absent() {
        let items = [Pair("a", " 1 "), Pair("b", "  ")];
        assert_eq!(get(&items, "a"), Some("1"));
        assert_eq!(get(&items, "b"), None);
        assert_eq!(get(&items, "c"), None);
    }

    #[test]
    fn yes_no_and_numbers_read_as_the_host_writes_them() {
        let items = [Pair("notify", "yes"), Pair("max", "18"), Pair("off", "no")];
        assert!(yes(&items, "notify"));
        assert!(!yes(&items, "off"));
        assert!(!yes(&items, "absent"));
        assert_eq!(number(&items, "max"), Some(18));
        assert_eq!(number(&items, "notify"), None);
    }

    #[test]
    fn lists_split_on_commas_spaces_and_lines() {
        let items = [Pair("refused", "gmail.com, Yahoo.com\nouTlook.com")];
        assert_eq!(
            list(&items, "refused"),
            ["gmail.com", "yahoo.com", "outlook.com"]
        );
    }
}
