//! What goes into a hook and what comes out, independent of the interface
//! version a plugin was built against.
//!
//! The host speaks these types; each version's binding module converts them
//! to and from its generated types. They are also the JSON of
//! `portico plugin run --input` and of a dry run.

use serde::{Deserialize, Serialize};

use crate::hooks::Hook;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailKind {
    AccessLink,
    SmartformInvitation,
    EmailChangeNotice,
    PasswordReset,
    EmailVerification,
    /// Interface 3.0.0 and later; the mail of a family's sharing.
    CaregiverInvitation,
    ProxyAdded,
    ProxyNarrowed,
    ProxyEnded,
    ComingOfAge,
}

/// A named value a kind of mail needs beyond the shared fields
/// (interface 3.0.0 and later).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detail {
    pub name: String,
    pub value: String,
}

/// A clinic's own setting for its plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Setting {
    pub name: String,
    pub value: String,
}

/// Settings in JSON are an object of names to values
/// (`{"refused_domains": "gmail.com"}`), as the API's activation and the
/// console write them. The interface's list of `{name, value}` records is
/// read too, so inputs written that way keep working.
pub mod settings_json {
    use std::collections::BTreeMap;
    use std::fmt;

    use serde::de::{MapAccess, SeqAccess, Visitor};
    use serde::ser::SerializeMap;
    use serde::{Deserializer, Serializer};

    use super::Setting;

    pub fn serialize<S: Serializer>(settings: &[Setting], s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(settings.len()))?;
        for setting in settings {
            map.serialize_entry(&setting.name, &setting.value)?;
        }
        map.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Setting>, D::Error> {
        d.deserialize_any(SettingsVisitor)
    }

    struct SettingsVisitor;

    impl<'de> Visitor<'de> for SettingsVisitor {
        type Value = Vec<Setting>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object of setting names to text values, such as {\"refused_domains\": \"gmail.com\"}")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            // Sorted by name, and a repeated name keeps its last value, as
            // a JSON object reads.
            let mut sorted = BTreeMap::new();
            while let Some((name, value)) = map.next_entry::<String, String>()? {
                sorted.insert(name, value);
            }
            Ok(sorted
                .into_iter()
                .map(|(name, value)| Setting { name, value })
                .collect())
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut settings = Vec::new();
            while let Some(setting) = seq.next_element::<Setting>()? {
                settings.push(setting);
            }
            Ok(settings)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Branding {
    pub clinic_name: String,
    pub primary_colour: String,
    pub accent_colour: String,
    #[serde(default)]
    pub logo_url: Option<String>,
    #[serde(default)]
    pub reply_to: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailContext {
    pub kind: MailKind,
    pub branding: Branding,
    /// `None` for a plugin whose manifest does not read the patient's
    /// name (see [`crate::manifest`]).
    #[serde(default)]
    pub patient_display_name: Option<String>,
    #[serde(default)]
    pub link: Option<String>,
    /// RFC 3339.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// The clinic's IANA time zone (`Europe/Berlin`); UTC when not given.
    #[serde(default)]
    pub time_zone: Option<String>,
    pub locale: String,
    #[serde(default, with = "settings_json")]
    pub settings: Vec<Setting>,
    /// The clinic's patient portal (interface 2.0.0 and later).
    #[serde(default)]
    pub portal_url: Option<String>,
    /// What the kind needs beyond the fields above (interface 3.0.0 and
    /// later).
    #[serde(default)]
    pub details: Vec<Detail>,
}

/// A moment on the clinic's clock, as interface 4.0.0 hands it to a mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocalTime {
    /// `2026-12-02T17:00:00+01:00`.
    pub rfc3339: String,
    /// `2 December 2026`.
    pub date: String,
    /// `17:00`.
    pub time: String,
    /// `CET`.
    pub zone: String,
}

impl MailContext {
    /// The clinic's time zone, UTC when the context names none or one the
    /// bundled database does not know.
    pub fn zone(&self) -> (String, jiff::tz::TimeZone) {
        self.time_zone
            .as_deref()
            .and_then(|name| {
                let zone = jiff::tz::db().get(name).ok()?;
                Some((zone.iana_name().unwrap_or(name).to_owned(), zone))
            })
            .unwrap_or_else(|| ("UTC".to_owned(), jiff::tz::TimeZone::UTC))
    }

    /// When the link stops working, on the clinic's clock; written as the
    /// built-in mail writes it.
    pub fn expires_local(&self) -> Option<LocalTime> {
        let instant: jiff::Timestamp = self.expires_at.as_deref()?.parse().ok()?;
        let zoned = instant.to_zoned(self.zone().1);
        Some(LocalTime {
            rfc3339: zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
            date: zoned.strftime("%-d %B %Y").to_string(),
            time: zoned.strftime("%H:%M").to_string(),
            zone: zoned.strftime("%Z").to_string(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderedMail {
    pub subject: String,
    pub html: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordFacts {
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub date_of_birth: Option<String>,
    #[serde(default)]
    pub home_zip_code: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    Date,
    Text,
    ZipCode,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldRequest {
    pub name: String,
    pub label: String,
    pub kind: InputKind,
}

/// A verification rule's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    Allow,
    /// Refused, with a reason written for the patient.
    Deny {
        reason: String,
    },
    /// The portal must ask the patient for these fields, then try again.
    AskFor {
        fields: Vec<FieldRequest>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redemption {
    #[serde(default)]
    pub answers: Vec<Answer>,
    #[serde(default)]
    pub facts: RecordFacts,
    #[serde(default, with = "settings_json")]
    pub settings: Vec<Setting>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortalAccess {
    #[serde(default)]
    pub facts: RecordFacts,
    #[serde(default, with = "settings_json")]
    pub settings: Vec<Setting>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailAcceptance {
    pub email: String,
    #[serde(default, with = "settings_json")]
    pub settings: Vec<Setting>,
}

/// The input of one call: which hook, with what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookInput {
    RenderEmail(MailContext),
    CheckRedemption(Redemption),
    CheckPortalAccess(PortalAccess),
    CheckEmail(EmailAcceptance),
}

impl HookInput {
    pub fn hook(&self) -> Hook {
        match self {
            Self::RenderEmail(_) => Hook::RenderEmail,
            Self::CheckRedemption(_) => Hook::CheckRedemption,
            Self::CheckPortalAccess(_) => Hook::CheckPortalAccess,
            Self::CheckEmail(_) => Hook::CheckEmail,
        }
    }

    /// The same input with the clinic's settings in place of its own.
    pub fn with_settings(mut self, settings: Vec<Setting>) -> Self {
        *self.settings_mut() = settings;
        self
    }

    /// The settings the input carries.
    pub fn settings(&self) -> &[Setting] {
        match self {
            Self::RenderEmail(c) => &c.settings,
            Self::CheckRedemption(r) => &r.settings,
            Self::CheckPortalAccess(p) => &p.settings,
            Self::CheckEmail(e) => &e.settings,
        }
    }

    fn settings_mut(&mut self) -> &mut Vec<Setting> {
        match self {
            Self::RenderEmail(c) => &mut c.settings,
            Self::CheckRedemption(r) => &mut r.settings,
            Self::CheckPortalAccess(p) => &mut p.settings,
            Self::CheckEmail(e) => &mut e.settings,
        }
    }

    /// Reads the JSON input of `hook`, as a dry run or `portico plugin run`
    /// receives it.
    pub fn from_json(hook: Hook, json: &str) -> Result<Self, serde_json::Error> {
        Ok(match hook {
            Hook::RenderEmail => Self::RenderEmail(serde_json::from_str(json)?),
            Hook::CheckRedemption => Self::CheckRedemption(serde_json::from_str(json)?),
            Hook::CheckPortalAccess => Self::CheckPortalAccess(serde_json::from_str(json)?),
            Hook::CheckEmail => Self::CheckEmail(serde_json::from_str(json)?),
        })
    }

    /// The bytes of text handed to the plugin: what the input limit counts.
    pub fn text_bytes(&self) -> usize {
        fn settings(s: &[Setting]) -> usize {
            s.iter().map(|s| s.name.len() + s.value.len()).sum()
        }
        fn facts(f: &RecordFacts) -> usize {
            [&f.date_of_birth, &f.home_zip_code, &f.email]
                .iter()
                .map(|v| v.as_deref().map_or(0, str::len))
                .sum()
        }
        match self {
            Self::RenderEmail(c) => {
                let b = &c.branding;
                b.clinic_name.len()
                    + b.primary_colour.len()
                    + b.accent_colour.len()
                    + b.logo_url.as_deref().map_or(0, str::len)
                    + b.reply_to.as_deref().map_or(0, str::len)
                    + c.patient_display_name.as_deref().map_or(0, str::len)
                    + c.link.as_deref().map_or(0, str::len)
                    + c.expires_at.as_deref().map_or(0, str::len)
                    + c.time_zone.as_deref().map_or(0, str::len)
                    + c.locale.len()
                    + c.portal_url.as_deref().map_or(0, str::len)
                    + c.details
                        .iter()
                        .map(|d| d.name.len() + d.value.len())
                        .sum::<usize>()
                    + settings(&c.settings)
            }
            Self::CheckRedemption(r) => {
                r.answers
                    .iter()
                    .map(|a| a.name.len() + a.value.len())
                    .sum::<usize>()
                    + facts(&r.facts)
                    + settings(&r.settings)
            }
            Self::CheckPortalAccess(p) => facts(&p.facts) + settings(&p.settings),
            Self::CheckEmail(e) => e.email.len() + settings(&e.settings),
        }
    }
}

/// What a call returned, once checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HookOutput {
    Rendered(RenderedMail),
    /// The rendering plugin declined this mail with a message for the
    /// clinic; the built-in template is used instead.
    RenderDeclined {
        message: String,
    },
    Decision(Decision),
}

impl HookOutput {
    /// What kind of answer it is, as call records count them: `allow`,
    /// `deny`, `ask_for`, `rendered` or `declined`.
    pub fn answer(&self) -> &'static str {
        match self {
            Self::Rendered(_) => "rendered",
            Self::RenderDeclined { .. } => "declined",
            Self::Decision(Decision::Allow) => "allow",
            Self::Decision(Decision::Deny { .. }) => "deny",
            Self::Decision(Decision::AskFor { .. }) => "ask_for",
        }
    }
}

/// Why a plugin's answer cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadOutput {
    #[error("{field} is {len} bytes, over the limit of {max}")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{0} is empty")]
    Empty(&'static str),
    #[error("the subject holds a line break or control character")]
    SubjectControlCharacter,
    #[error("ask-for names no field")]
    NoFields,
    #[error("ask-for names {0} fields; at most {MAX_FIELDS} may be asked at once")]
    TooManyFields(usize),
    #[error("field name {0:?} is not lowercase letters, digits and _ (at most 40)")]
    BadFieldName(String),
}

const MAX_SUBJECT: usize = 200;
const MAX_REASON: usize = 500;
const MAX_FIELDS: usize = 8;
const MAX_LABEL: usize = 120;

impl HookOutput {
    /// Checks an answer against the output limit and the shapes the portal
    /// and the mail can carry safely.
    pub fn check(self, max_output_bytes: usize) -> Result<Self, BadOutput> {
        match &self {
            Self::Rendered(mail) => {
                if mail.subject.trim().is_empty() {
                    return Err(BadOutput::Empty("subject"));
                }
                longest("subject", &mail.subject, MAX_SUBJECT)?;
                if mail.subject.chars().any(char::is_control) {
                    return Err(BadOutput::SubjectControlCharacter);
                }
                if mail.text.trim().is_empty() {
                    return Err(BadOutput::Empty("text"));
                }
                longest("html", &mail.html, max_output_bytes)?;
                longest("text", &mail.text, max_output_bytes)?;
            }
            Self::RenderDeclined { message } => longest("message", message, MAX_REASON)?,
            Self::Decision(Decision::Allow) => {}
            Self::Decision(Decision::Deny { reason }) => {
                if reason.trim().is_empty() {
                    return Err(BadOutput::Empty("reason"));
                }
                longest("reason", reason, MAX_REASON)?;
            }
            Self::Decision(Decision::AskFor { fields }) => {
                if fields.is_empty() {
                    return Err(BadOutput::NoFields);
                }
                if fields.len() > MAX_FIELDS {
                    return Err(BadOutput::TooManyFields(fields.len()));
                }
                for field in fields {
                    if !is_field_name(&field.name) {
                        return Err(BadOutput::BadFieldName(field.name.clone()));
                    }
                    if field.label.trim().is_empty() {
                        return Err(BadOutput::Empty("label"));
                    }
                    longest("label", &field.label, MAX_LABEL)?;
                }
            }
        }
        Ok(self)
    }
}

fn longest(field: &'static str, value: &str, max: usize) -> Result<(), BadOutput> {
    if value.len() > max {
        return Err(BadOutput::TooLong {
            field,
            len: value.len(),
            max,
        });
    }
    Ok(())
}

fn is_field_name(name: &str) -> bool {
    (1..=40).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(subject: &str, html: &str) -> HookOutput {
        HookOutput::Rendered(RenderedMail {
            subject: subject.into(),
            html: html.into(),
            text: "Hello".into(),
        })
    }

    #[test]
    fn rendered_mail_is_bounded_and_has_a_one_line_subject() {
        assert!(mail("Your access", "<p>hi</p>").check(1024).is_ok());
        assert_eq!(
            mail("Your access", &"x".repeat(1025)).check(1024),
            Err(BadOutput::TooLong {
                field: "html",
                len: 1025,
                max: 1024
            })
        );
        assert_eq!(
            mail("Hi\r\nBcc: all@example.org", "").check(1024),
            Err(BadOutput::SubjectControlCharacter)
        );
        assert_eq!(mail(" ", "").check(1024), Err(BadOutput::Empty("subject")));
    }

    #[test]
    fn asked_fields_have_names_the_portal_can_carry() {
        let ask = |name: &str| {
            HookOutput::Decision(Decision::AskFor {
                fields: vec![FieldRequest {
                    name: name.into(),
                    label: "Your date of birth".into(),
                    kind: InputKind::Date,
                }],
            })
            .check(1024)
        };
        assert!(ask("date_of_birth").is_ok());
        assert_eq!(
            ask("Date of birth"),
            Err(BadOutput::BadFieldName("Date of birth".into()))
        );
        assert_eq!(
            HookOutput::Decision(Decision::AskFor { fields: vec![] }).check(1024),
            Err(BadOutput::NoFields)
        );
    }

    #[test]
    fn inputs_read_from_json_per_hook() {
        let input = HookInput::from_json(
            Hook::CheckEmail,
            r#"{"email": "mia@example.org", "settings": [{"name": "refused_domains", "value": "gmail.com"}]}"#,
        )
        .unwrap();
        assert_eq!(input.hook(), Hook::CheckEmail);
        assert_eq!(input.text_bytes(), "mia@example.org".len() + 15 + 9);
        assert!(HookInput::from_json(Hook::CheckEmail, r#"{"facts": {}}"#).is_err());
    }

    #[test]
    fn expiry_is_told_on_the_clinics_clock() {
        let HookInput::RenderEmail(mut mail) =
            HookInput::from_json(Hook::RenderEmail, Hook::RenderEmail.sample_input()).unwrap()
        else {
            unreachable!()
        };
        mail.expires_at = Some("2026-12-02T16:00:00Z".into());
        mail.time_zone = Some("Europe/Berlin".into());
        let local = mail.expires_local().unwrap();
        assert_eq!(local.rfc3339, "2026-12-02T17:00:00+01:00");
        assert_eq!(local.date, "2 December 2026");
        assert_eq!(local.time, "17:00");
        assert_eq!(local.zone, "CET");
        mail.time_zone = Some("Mars/Olympus".into());
        assert_eq!(mail.zone().0, "UTC");
        assert_eq!(mail.expires_local().unwrap().time, "16:00");
    }

    #[test]
    fn every_hook_has_a_sample_input_that_reads() {
        for hook in Hook::ALL {
            let input = HookInput::from_json(hook, hook.sample_input())
                .unwrap_or_else(|e| panic!("the {hook} sample: {e}"));
            assert_eq!(input.hook(), hook);
        }
    }

    #[test]
    fn settings_are_an_object_and_the_old_list_still_reads() {
        let object = HookInput::from_json(
            Hook::CheckEmail,
            r#"{"email": "a@b.org", "settings": {"z": "1", "refused_domains": "gmail.com"}}"#,
        )
        .unwrap();
        let list = HookInput::from_json(
            Hook::CheckEmail,
            r#"{"email": "a@b.org", "settings": [{"name": "refused_domains", "value": "gmail.com"}, {"name": "z", "value": "1"}]}"#,
        )
        .unwrap();
        assert_eq!(object, list);
        let HookInput::CheckEmail(e) = &object else {
            unreachable!()
        };
        assert_eq!(
            serde_json::to_value(e).unwrap()["settings"],
            serde_json::json!({"refused_domains": "gmail.com", "z": "1"})
        );
        let err = HookInput::from_json(
            Hook::CheckEmail,
            r#"{"email": "a@b.org", "settings": {"n": 3}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("expected a string"), "{err}");
    }
}
