//! Rows in PostgreSQL's COPY text format: fields split by tabs, rows by
//! newlines, `\N` for NULL, and a backslash before any of those characters
//! inside a value.

use std::fmt::Write;

/// One table's rows, written in the order of its COPY column list.
pub struct CopyRows {
    text: String,
    rows: u64,
    in_row: bool,
}

impl CopyRows {
    pub fn new() -> Self {
        Self {
            text: String::new(),
            rows: 0,
            in_row: false,
        }
    }

    fn separate(&mut self) {
        if self.in_row {
            self.text.push('\t');
        }
        self.in_row = true;
    }

    pub fn text(&mut self, value: &str) -> &mut Self {
        self.separate();
        for c in value.chars() {
            match c {
                '\\' => self.text.push_str("\\\\"),
                '\t' => self.text.push_str("\\t"),
                '\n' => self.text.push_str("\\n"),
                '\r' => self.text.push_str("\\r"),
                c => self.text.push(c),
            }
        }
        self
    }

    pub fn maybe(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            Some(v) => self.text(v),
            None => {
                self.separate();
                self.text.push_str("\\N");
                self
            }
        }
    }

    pub fn number(&mut self, value: i64) -> &mut Self {
        self.separate();
        write!(self.text, "{value}").expect("writing to a String");
        self
    }

    pub fn maybe_number(&mut self, value: Option<i64>) -> &mut Self {
        match value {
            Some(v) => self.number(v),
            None => self.maybe(None),
        }
    }

    pub fn end_row(&mut self) {
        self.text.push('\n');
        self.rows += 1;
        self.in_row = false;
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_that_hold_separators_are_escaped_and_none_is_null() {
        let mut rows = CopyRows::new();
        rows.text("a\tb\\c\nd")
            .maybe(None)
            .number(-4)
            .maybe_number(None);
        rows.end_row();
        rows.text("x");
        rows.end_row();
        assert_eq!(
            std::str::from_utf8(rows.as_bytes()).unwrap(),
            "a\\tb\\\\c\\nd\t\\N\t-4\t\\N\nx\n"
        );
        assert_eq!(rows.rows(), 2);
    }
}
