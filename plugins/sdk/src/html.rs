//! Writing HTML safely: every value from the context is text, never markup.

/// Escapes `text` for use in HTML element content and quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A CSS colour from the clinic's branding if it is a plain `#rrggbb` or
/// `#rgb`, else `fallback`: a value that reaches a `style` attribute must
/// not be able to close it.
pub fn colour<'a>(value: &'a str, fallback: &'a str) -> &'a str {
    let hex = value.strip_prefix('#').unwrap_or("");
    if matches!(hex.len(), 3 | 6) && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        value
    } else {
        fallback
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_values_stays_text() {
        assert_eq!(
            escape(r#"<a href="x">O'Brien & Co</a>"#),
            "&lt;a href=&quot;x&quot;&gt;O&#39;Brien &amp; Co&lt;/a&gt;"
        );
    }

    #[test]
    fn only_hex_colours_reach_a_style() {
        assert_eq!(colour("#0b6e4f", "#000"), "#0b6e4f");
        assert_eq!(colour("red;background:url(x)", "#000"), "#000");
        assert_eq!(colour("#12345g", "#000"), "#000");
    }
}
