//! The printed access-code handout, for a code given in person. A document
//! of its own, printed from the console and from the API alike, so it lives
//! here rather than in either.

use portico_tenants::acts::codes::IssuedCode;
use serde::Serialize;

use crate::Links;
use crate::page_session::Pages;
use crate::tenancy::ResolvedTenant;

/// What the handout shows.
#[derive(Debug, Serialize)]
pub struct HandoutView {
    pub clinic_name: String,
    /// Where the console's stylesheet (with the print styles) is served.
    pub console_path: String,
    pub patient_name: String,
    /// The four words, spaced for reading aloud and typing.
    pub words: String,
    /// The registration page's address, without the code.
    pub register_url: String,
    pub expires_at: String,
}

impl HandoutView {
    /// The handout of a code just issued for print.
    pub fn of(links: &Links, tenant: &ResolvedTenant, issued: &IssuedCode) -> Self {
        let clinic = &tenant.tenant;
        Self {
            clinic_name: clinic.display_name.to_string(),
            console_path: Pages::Console.root(tenant),
            patient_name: issued.patient.full_name.to_string(),
            words: issued.code.display().replace('-', " "),
            register_url: links.registration(clinic),
            expires_at: clinic.settings.time_zone.human(issued.record.expires_at),
        }
    }
}

/// The handout's policy: our own stylesheet and print script only, never
/// framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The handout as HTML.
pub fn render(view: &HandoutView) -> Result<String, minijinja::Error> {
    let mut env = crate::templates::environment();
    env.add_template("handout.html", include_str!("../templates/handout.html"))?;
    env.get_template("handout.html")?
        .render(minijinja::context! { page => minijinja::value::Serde(view) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handout_shows_the_words_and_escapes_the_names() {
        let html = render(&HandoutView {
            clinic_name: "North <Clinic>".into(),
            console_path: "/t/north/console".into(),
            patient_name: "Mia \"Wong\"".into(),
            words: "abacus zoom tidy plant".into(),
            register_url: "https://north.example.org/portal/register".into(),
            expires_at: "Tuesday 1 December, 09:00".into(),
        })
        .unwrap();
        assert!(html.contains("<p class=\"handout-code\">abacus zoom tidy plant</p>"));
        assert!(html.contains("North &lt;Clinic&gt;"));
        assert!(html.contains("Mia &quot;Wong&quot;"));
        assert!(html.contains("https://north.example.org/portal/register"));
    }
}
