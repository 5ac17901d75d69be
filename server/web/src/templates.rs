//! The one template environment: the mail, the console and the portal
//! pages each add their own templates to an environment made here, so
//! escaping and filters are the same everywhere.

use minijinja::Environment;

/// A fresh environment with HTML escaping on (for `.html` names) and the
/// filters every template set uses. Templates are part of the binary; a
/// broken one is a bug the owning crate's tests catch.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // Our own paths and links: escape what HTML needs but keep the slashes
    // readable (minijinja's own escaping also escapes `/`, which leaves a
    // link readable only to browsers).
    let link = |value: String| {
        minijinja::Value::from_safe_string(
            value
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
                .replace('\'', "&#39;"),
        )
    };
    env.add_filter("path", link);
    env.add_filter("url", link);
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_their_slashes_and_lose_their_quotes() {
        let mut env = environment();
        env.add_template("t.html", "<a href=\"{{ to | url }}\">{{ to }}</a>")
            .unwrap();
        let html = env
            .get_template("t.html")
            .unwrap()
            .render(minijinja::context! { to => "https://x.example/a?b=1&c=\"2\"" })
            .unwrap();
        assert_eq!(
            html,
            "<a href=\"https://x.example/a?b=1&amp;c=&quot;2&quot;\">https:&#x2f;&#x2f;x.example&#x2f;a?b=1&amp;c=&quot;2&quot;</a>"
        );
    }
}
