//! Families: who may see what of a patient's record through the portal.
//! A grant stands for a [`Relation`] (the patient's own account, a
//! parent's proxy, a caregiver's proxy); with the patient's age on the
//! clinic's calendar and the clinic's [`AgeRules`], it gives the
//! [`View`] an account has of the record today. Nothing here is stored:
//! a view is worked out on every request, so a birthday counts at once.

mod age;
mod day;
mod relation;
pub(crate) mod store;
mod view;

pub use age::{ADULT_AGES, AgeRules, LimitedParts, Stage, age_on, birthday};
pub use day::ClinicDay;
pub use relation::Relation;
pub use view::{Access, View, access_of};
