//! What a plugin declares about itself (interface 4.0.0 and later): the
//! patient facts it reads and the settings it takes.
//!
//! The host reads the declaration once, at upload, and then:
//! - refuses an upload whose declaration cannot be honoured
//!   ([`Manifest::check`]);
//! - checks a clinic's settings against it at activation, filling in the
//!   defaults ([`Manifest::settle`]);
//! - hands each call only the facts declared ([`HookInput::minimised`]),
//!   in the sandbox, so no caller can forget to.
//!
//! A component built against an older interface declares nothing: it reads
//! every fact its version has, as it always did, and takes any settings.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{HookInput, RecordFacts, Setting};

/// A fact about the patient a plugin may be handed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PatientFact {
    Name,
    DateOfBirth,
    HomeZipCode,
    Email,
}

impl PatientFact {
    pub const ALL: [PatientFact; 4] = [
        Self::Name,
        Self::DateOfBirth,
        Self::HomeZipCode,
        Self::Email,
    ];

    /// As the clinic's console lists it, after "the patient's".
    pub fn in_words(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::DateOfBirth => "date of birth",
            Self::HomeZipCode => "home ZIP code",
            Self::Email => "email address on file",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::DateOfBirth => "date_of_birth",
            Self::HomeZipCode => "home_zip_code",
            Self::Email => "email",
        }
    }
}

/// What a setting's value must be.
/// In JSON it is flattened into its setting, as the API shows it:
/// `"type": "whole_number", "min": 1, "max": 5`, or `"type": "choice",
/// "choices": [...]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SettingType {
    /// One line of text.
    Text,
    /// Several values, one per line or separated by commas.
    TextList,
    WholeNumber {
        min: i64,
        max: i64,
    },
    /// `yes` or `no`.
    YesNo,
    Choice {
        #[serde(rename = "choices")]
        values: Vec<String>,
    },
}

/// One setting a plugin takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingSpec {
    pub name: String,
    pub label: String,
    pub description: String,
    #[serde(flatten)]
    pub kind: SettingType,
    /// Taken when the clinic gives no value; without one, the setting must
    /// be given. Left out of the JSON when absent, as the API shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// What a plugin declared, or that it declared nothing. Only
/// [`Manifest::check`] and [`Manifest::undeclared`] make one, and reading
/// it back from JSON checks it again, so a manifest in hand can always be
/// honoured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Stored")]
pub struct Manifest {
    /// False for a component built before interface 4.0.0.
    declared: bool,
    /// The patient facts handed to it, in [`PatientFact::ALL`]'s order.
    reads: Vec<PatientFact>,
    /// The settings it takes; empty and unchecked when undeclared.
    settings: Vec<SettingSpec>,
}

/// A declaration as the component gave it, before the host checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    pub reads: Vec<PatientFact>,
    pub settings: Vec<SettingSpec>,
}

/// A manifest as JSON holds it, before it is checked.
#[derive(Deserialize)]
struct Stored {
    declared: bool,
    #[serde(default)]
    reads: Vec<PatientFact>,
    #[serde(default)]
    settings: Vec<SettingSpec>,
}

impl TryFrom<Stored> for Manifest {
    type Error = BadManifest;

    fn try_from(stored: Stored) -> Result<Self, BadManifest> {
        if !stored.declared {
            return Ok(Self::undeclared());
        }
        Self::check(Declared {
            reads: stored.reads,
            settings: stored.settings,
        })
    }
}

/// Why an upload's declaration cannot be honoured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadManifest(String);

/// Why a clinic's settings do not fit a plugin's declaration. `setting`
/// names the one at fault; `reason` is a sentence that names it too.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct SettingRefused {
    pub setting: String,
    pub reason: String,
}

/// At most this many settings, as the clinic's activation allows.
const MAX_SETTINGS: usize = 32;
const MAX_LABEL: usize = 80;
const MAX_DESCRIPTION: usize = 400;
const MAX_CHOICES: usize = 50;

impl Manifest {
    /// The manifest of a component built before 4.0.0.
    pub fn undeclared() -> Self {
        Self {
            declared: false,
            reads: PatientFact::ALL.to_vec(),
            settings: Vec::new(),
        }
    }

    /// Whether it declared what it reads and takes (interface 4.0.0).
    pub fn is_declared(&self) -> bool {
        self.declared
    }

    /// The patient facts handed to it.
    pub fn facts(&self) -> &[PatientFact] {
        &self.reads
    }

    /// The settings it takes, in its own order; none when undeclared,
    /// which takes any.
    pub fn settings(&self) -> &[SettingSpec] {
        &self.settings
    }

    pub fn reads(&self, fact: PatientFact) -> bool {
        self.reads.contains(&fact)
    }

    /// A declaration as the component gave it, put in order, or the
    /// reason it cannot be honoured.
    pub fn check(declared: Declared) -> Result<Self, BadManifest> {
        let Declared { reads, settings } = declared;
        let bad = |reason: String| Err(BadManifest(reason));
        if settings.len() > MAX_SETTINGS {
            return bad(format!(
                "declares {} settings; at most {MAX_SETTINGS}",
                settings.len()
            ));
        }
        let mut names = BTreeSet::new();
        for spec in &settings {
            let name = &spec.name;
            if !is_setting_name(name) {
                return bad(format!(
                    "names a setting {name:?}; names are lowercase letters, digits and _, at most 40, starting with a letter"
                ));
            }
            if !names.insert(name.as_str()) {
                return bad(format!("declares the setting {name} twice"));
            }
            if spec.label.trim().is_empty() || spec.label.chars().count() > MAX_LABEL {
                return bad(format!(
                    "gives the setting {name} no label, or one over {MAX_LABEL} characters"
                ));
            }
            if spec.description.chars().count() > MAX_DESCRIPTION {
                return bad(format!(
                    "describes the setting {name} in over {MAX_DESCRIPTION} characters"
                ));
            }
            match &spec.kind {
                SettingType::WholeNumber { min, max } if min > max => {
                    return bad(format!(
                        "gives the setting {name} a range from {min} to {max}, which holds no number"
                    ));
                }
                SettingType::Choice { values } => {
                    let distinct: BTreeSet<_> = values.iter().collect();
                    if values.is_empty()
                        || values.len() > MAX_CHOICES
                        || distinct.len() != values.len()
                        || values.iter().any(|v| v.trim().is_empty() || v.trim() != v)
                    {
                        return bad(format!(
                            "gives the setting {name} no choices, more than {MAX_CHOICES}, a blank one or one twice"
                        ));
                    }
                }
                _ => {}
            }
            if let Some(default) = &spec.default
                && let Err(reason) = spec.kind.read(default)
            {
                return bad(format!(
                    "gives the setting {name} the default {default:?}, which it refuses: {reason}"
                ));
            }
        }
        let reads: BTreeSet<PatientFact> = reads.into_iter().collect();
        Ok(Self {
            declared: true,
            reads: reads.into_iter().collect(),
            settings,
        })
    }

    /// The settings a call will get, from what the clinic gave: each value
    /// checked against its type and written the one way the plugin reads
    /// it, a blank one taken as not given, the defaults filled in. An
    /// undeclared manifest takes them as they are.
    pub fn settle(&self, given: &[Setting]) -> Result<Vec<Setting>, SettingRefused> {
        if !self.declared {
            return Ok(given.to_vec());
        }
        if let Some(unknown) = given
            .iter()
            .find(|s| !self.settings.iter().any(|spec| spec.name == s.name))
        {
            return Err(SettingRefused {
                setting: unknown.name.clone(),
                reason: if self.settings.is_empty() {
                    format!(
                        "there is no setting {}; this plugin takes no settings",
                        unknown.name
                    )
                } else {
                    format!(
                        "there is no setting {}; this plugin takes {}",
                        unknown.name,
                        self.settings
                            .iter()
                            .map(|s| s.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
            });
        }
        let mut settled = Vec::with_capacity(self.settings.len());
        for spec in &self.settings {
            let value = given
                .iter()
                .find(|s| s.name == spec.name)
                .map(|s| s.value.as_str())
                .filter(|v| !v.trim().is_empty());
            let value = match (value, &spec.default) {
                (Some(value), _) => spec.kind.read(value).map_err(|reason| SettingRefused {
                    setting: spec.name.clone(),
                    reason: format!("{} ({}) {reason}", spec.label, spec.name),
                })?,
                (None, Some(default)) => default.clone(),
                (None, None) => {
                    return Err(SettingRefused {
                        setting: spec.name.clone(),
                        reason: format!(
                            "{} ({}) must be given; it has no default",
                            spec.label, spec.name
                        ),
                    });
                }
            };
            settled.push(Setting {
                name: spec.name.clone(),
                value,
            });
        }
        Ok(settled)
    }
}

impl SettingType {
    /// `raw` as the plugin reads it, or what is wrong with it, as the end
    /// of a sentence that starts with the setting's label.
    pub fn read(&self, raw: &str) -> Result<String, String> {
        let value = raw.trim();
        match self {
            Self::Text if value.contains(['\n', '\r']) => {
                Err("must be one line; it holds a line break".to_owned())
            }
            Self::Text => Ok(value.to_owned()),
            Self::TextList => Ok(value
                .split([',', '\n'])
                .map(str::trim)
                .filter(|part| !part.is_empty())
                .collect::<Vec<_>>()
                .join("\n")),
            Self::WholeNumber { min, max } => match value.parse::<i64>() {
                Ok(n) if (*min..=*max).contains(&n) => Ok(n.to_string()),
                _ => Err(format!(
                    "must be a whole number from {min} to {max}, written in digits"
                )),
            },
            Self::YesNo => match value.to_ascii_lowercase().as_str() {
                "yes" => Ok("yes".to_owned()),
                "no" => Ok("no".to_owned()),
                _ => Err("must be yes or no".to_owned()),
            },
            Self::Choice { values } => values
                .iter()
                .find(|v| v.as_str() == value)
                .cloned()
                .ok_or_else(|| format!("must be one of: {}", values.join(", "))),
        }
    }
}

impl SettingType {
    /// The type's name in JSON: `text`, `text_list`, `whole_number`,
    /// `yes_no` or `choice`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::TextList => "text_list",
            Self::WholeNumber { .. } => "whole_number",
            Self::YesNo => "yes_no",
            Self::Choice { .. } => "choice",
        }
    }
}

impl fmt::Display for SettingType {
    /// As the clinic's console names the type.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text => f.write_str("text"),
            Self::TextList => f.write_str("a list, one per line or separated by commas"),
            Self::WholeNumber { min, max } => write!(f, "a whole number from {min} to {max}"),
            Self::YesNo => f.write_str("yes or no"),
            Self::Choice { values } => write!(f, "one of {}", values.join(", ")),
        }
    }
}

fn is_setting_name(name: &str) -> bool {
    (1..=40).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl HookInput {
    /// The input with every patient fact `manifest` does not read taken
    /// out. The sandbox applies it to every call.
    pub fn minimised(mut self, manifest: &Manifest) -> Self {
        let keep = |fact: PatientFact, value: &mut Option<String>| {
            if !manifest.reads(fact) {
                *value = None;
            }
        };
        let facts = |f: &mut RecordFacts| {
            keep(PatientFact::DateOfBirth, &mut f.date_of_birth);
            keep(PatientFact::HomeZipCode, &mut f.home_zip_code);
            keep(PatientFact::Email, &mut f.email);
        };
        match &mut self {
            Self::RenderEmail(c) => keep(PatientFact::Name, &mut c.patient_display_name),
            Self::CheckRedemption(r) => facts(&mut r.facts),
            Self::CheckPortalAccess(p) => facts(&mut p.facts),
            // The address offered is the question itself.
            Self::CheckEmail(_) => {}
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::Hook;

    fn spec(name: &str, kind: SettingType, default: Option<&str>) -> SettingSpec {
        SettingSpec {
            name: name.into(),
            label: format!("The {name}"),
            description: String::new(),
            kind,
            default: default.map(str::to_owned),
        }
    }

    fn given(pairs: &[(&str, &str)]) -> Vec<Setting> {
        pairs
            .iter()
            .map(|(n, v)| Setting {
                name: (*n).into(),
                value: (*v).into(),
            })
            .collect()
    }

    fn manifest() -> Manifest {
        Manifest::check(Declared {
            reads: vec![PatientFact::DateOfBirth],
            settings: vec![
                spec("refused_domains", SettingType::TextList, Some("")),
                spec(
                    "strictness",
                    SettingType::Choice {
                        values: vec!["lenient".into(), "strict".into()],
                    },
                    Some("strict"),
                ),
                spec(
                    "max_age",
                    SettingType::WholeNumber { min: 0, max: 130 },
                    None,
                ),
                spec("notify", SettingType::YesNo, Some("no")),
            ],
        })
        .unwrap()
    }

    #[test]
    fn a_manifest_reads_back_as_it_was_written_in_the_apis_shape() {
        let json = serde_json::to_value(manifest()).unwrap();
        assert_eq!(json["reads"], serde_json::json!(["date_of_birth"]));
        assert_eq!(
            json["settings"][1],
            serde_json::json!({"name": "strictness", "label": "The strictness", "description": "",
                "type": "choice", "choices": ["lenient", "strict"], "default": "strict"})
        );
        assert_eq!(json["settings"][2]["min"], 0);
        let back: Manifest = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, manifest());
        // Read back, it is checked again: a stored declaration cannot
        // become one the host would have refused.
        let mut tampered = json;
        tampered["settings"][2]["min"] = serde_json::json!(500);
        let refused = serde_json::from_value::<Manifest>(tampered).unwrap_err();
        assert!(refused.to_string().contains("holds no number"), "{refused}");
        let undeclared: Manifest =
            serde_json::from_value(serde_json::json!({"declared": false})).unwrap();
        assert_eq!(undeclared, Manifest::undeclared());
    }

    #[test]
    fn settings_are_checked_normalised_and_defaulted() {
        let settled = manifest()
            .settle(&given(&[
                ("max_age", " 18 "),
                ("refused_domains", "gmail.com, yahoo.com\n\n"),
                ("notify", "YES"),
            ]))
            .unwrap();
        assert_eq!(
            settled,
            given(&[
                ("refused_domains", "gmail.com\nyahoo.com"),
                ("strictness", "strict"),
                ("max_age", "18"),
                ("notify", "yes"),
            ])
        );
    }

    #[test]
    fn a_wrong_setting_is_named_with_what_to_fix() {
        let m = manifest();
        let err = m.settle(&given(&[("max_age", "200")])).unwrap_err();
        assert_eq!(err.setting, "max_age");
        assert!(err.reason.contains("from 0 to 130"), "{err}");
        let err = m.settle(&given(&[])).unwrap_err();
        assert_eq!(err.setting, "max_age");
        assert!(err.reason.contains("must be given"), "{err}");
        let err = m
            .settle(&given(&[("max_age", "3"), ("colour", "red")]))
            .unwrap_err();
        assert_eq!(err.setting, "colour");
        assert!(err.reason.contains("refused_domains, strictness"), "{err}");
        let err = m
            .settle(&given(&[("max_age", "3"), ("strictness", "loose")]))
            .unwrap_err();
        assert!(err.reason.ends_with("one of: lenient, strict"), "{err}");
    }

    #[test]
    fn an_undeclared_manifest_reads_everything_and_takes_any_setting() {
        let m = Manifest::undeclared();
        assert!(PatientFact::ALL.iter().all(|f| m.reads(*f)));
        let any = given(&[("whatever", "x")]);
        assert_eq!(m.settle(&any).unwrap(), any);
    }

    #[test]
    fn declarations_that_cannot_be_honoured_are_refused() {
        let one = |s: SettingSpec| {
            Manifest::check(Declared {
                reads: vec![],
                settings: vec![s],
            })
            .unwrap_err()
            .to_string()
        };
        assert!(one(spec("Bad Name", SettingType::Text, None)).contains("lowercase"));
        assert!(
            one(spec("n", SettingType::WholeNumber { min: 5, max: 1 }, None))
                .contains("holds no number")
        );
        assert!(one(spec("n", SettingType::YesNo, Some("maybe"))).contains("yes or no"));
        assert!(
            one(spec("n", SettingType::Choice { values: vec![] }, None)).contains("no choices")
        );
        let twice = Manifest::check(Declared {
            reads: vec![],
            settings: vec![
                spec("a", SettingType::Text, None),
                spec("a", SettingType::Text, None),
            ],
        });
        assert!(twice.unwrap_err().to_string().contains("twice"));
    }

    #[test]
    fn undeclared_facts_are_taken_out_of_the_input() {
        let input =
            HookInput::from_json(Hook::CheckRedemption, Hook::CheckRedemption.sample_input())
                .unwrap();
        let HookInput::CheckRedemption(before) = input.clone() else {
            unreachable!()
        };
        assert!(before.facts.email.is_some() && before.facts.date_of_birth.is_some());
        let HookInput::CheckRedemption(after) = input.minimised(&manifest()) else {
            unreachable!()
        };
        assert_eq!(after.facts.date_of_birth, before.facts.date_of_birth);
        assert_eq!(after.facts.email, None);
        assert_eq!(after.facts.home_zip_code, None);

        let mail = HookInput::from_json(Hook::RenderEmail, Hook::RenderEmail.sample_input())
            .unwrap()
            .minimised(&manifest());
        let HookInput::RenderEmail(mail) = mail else {
            unreachable!()
        };
        assert_eq!(mail.patient_display_name, None);
    }
}
