//! Builders for a 4.0.0 manifest, so a plugin declares itself in a few
//! readable lines:
//!
//! ```ignore
//! PluginManifest::reading([PatientFact::DateOfBirth])
//!     .setting(
//!         SettingSpec::choice("strictness", "How strict", &["lenient", "strict"])
//!             .described("Strict refuses a date off by a day.")
//!             .with_default("strict"),
//!     )
//! ```
//!
//! Each family module has its own copy of the generated types, so the
//! builders are written once here and expanded into both.

macro_rules! builders {
    () => {
        impl PluginManifest {
            /// A manifest that reads `facts` and takes no settings yet.
            pub fn reading(facts: impl IntoIterator<Item = PatientFact>) -> Self {
                Self {
                    reads: facts.into_iter().collect(),
                    settings: Vec::new(),
                }
            }

            /// Adds a setting the clinic gives at activation.
            pub fn setting(mut self, spec: SettingSpec) -> Self {
                self.settings.push(spec);
                self
            }
        }

        impl SettingSpec {
            /// A setting of `kind`, named `name` in the input and `label`
            /// in the clinic's form. Without a default it must be given.
            pub fn new(name: &str, label: &str, kind: SettingType) -> Self {
                Self {
                    name: name.into(),
                    label: label.into(),
                    description: String::new(),
                    kind,
                    default: None,
                }
            }

            /// One line of text.
            pub fn text(name: &str, label: &str) -> Self {
                Self::new(name, label, SettingType::Text)
            }

            /// Several values, one per line or separated by commas; the
            /// plugin gets them one per line (read them with
            /// [`crate::settings::list`]).
            pub fn text_list(name: &str, label: &str) -> Self {
                Self::new(name, label, SettingType::TextList)
            }

            /// A whole number from `min` to `max`.
            pub fn whole_number(name: &str, label: &str, min: i64, max: i64) -> Self {
                Self::new(
                    name,
                    label,
                    SettingType::WholeNumber(NumberRange { min, max }),
                )
            }

            /// `yes` or `no` (read it with [`crate::settings::yes`]).
            pub fn yes_no(name: &str, label: &str) -> Self {
                Self::new(name, label, SettingType::YesNo)
            }

            /// One of `values`.
            pub fn choice(name: &str, label: &str, values: &[&str]) -> Self {
                Self::new(
                    name,
                    label,
                    SettingType::Choice(values.iter().map(|v| (*v).into()).collect()),
                )
            }

            /// A sentence for the clinic on what the setting changes.
            pub fn described(mut self, description: &str) -> Self {
                self.description = description.into();
                self
            }

            /// The value taken when the clinic gives none.
            pub fn with_default(mut self, value: &str) -> Self {
                self.default = Some(value.into());
                self
            }
        }
    };
}

pub(crate) use builders;
