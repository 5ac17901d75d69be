//! What an account sees of a record, from its relation, the patient's
//! stage and the clinic's rules.

use super::{AgeRules, Relation, Stage};

/// The parts of a record an account may open. Anything not in its view
/// answers "not found", as a record it does not hold would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View {
    pub notes: bool,
    pub documents: bool,
    pub appointments: bool,
    pub messages: bool,
    /// Items the clinic marked confidential.
    pub confidential: bool,
}

impl View {
    pub const WHOLE: Self = Self {
        notes: true,
        documents: true,
        appointments: true,
        messages: true,
        confidential: true,
    };

    /// Whether an item with this confidentiality may be shown.
    pub fn shows(&self, confidential: bool) -> bool {
        !confidential || self.confidential
    }
}

/// What a grant gives today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Sees(View),
    /// A parent's proxy of a patient now grown up: it ended on the
    /// birthday, whether or not the job has recorded it yet.
    Ended,
}

/// The access a grant of `relation` gives to the record of a patient at
/// `stage`. A caregiver sees confidential items only if the patient
/// allowed it (`caregiver_sees_confidential`).
pub fn access_of(
    relation: Relation,
    stage: Stage,
    rules: &AgeRules,
    caregiver_sees_confidential: bool,
) -> Access {
    match (relation, stage) {
        (Relation::Own, _) => Access::Sees(View::WHOLE),
        (Relation::Parent, Stage::Child) => Access::Sees(View::WHOLE),
        (Relation::Parent, Stage::Teen) => {
            let parts = rules.limited_parts();
            Access::Sees(View {
                notes: false,
                documents: parts.documents,
                appointments: parts.appointments,
                messages: parts.messages,
                confidential: false,
            })
        }
        (Relation::Parent, Stage::Adult) => Access::Ended,
        (Relation::Caregiver, _) => Access::Sees(View {
            confidential: caregiver_sees_confidential,
            ..View::WHOLE
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parent_sees_all_of_a_child_part_of_a_teen_and_nothing_of_an_adult() {
        let rules = AgeRules::default();
        assert_eq!(
            access_of(Relation::Parent, Stage::Child, &rules, false),
            Access::Sees(View::WHOLE)
        );
        let Access::Sees(teen) = access_of(Relation::Parent, Stage::Teen, &rules, true) else {
            panic!("a teenager's parent still sees something");
        };
        assert!(!teen.notes && !teen.confidential, "{teen:?}");
        assert!(teen.appointments && teen.messages && teen.documents);
        assert!(teen.shows(false) && !teen.shows(true));
        assert_eq!(
            access_of(Relation::Parent, Stage::Adult, &rules, false),
            Access::Ended
        );
    }

    #[test]
    fn the_clinic_narrows_the_limited_view_and_the_patient_opens_confidential_items() {
        let parts = crate::family::LimitedParts {
            documents: false,
            ..Default::default()
        };
        let rules = AgeRules::new(12, 18, parts).unwrap();
        let Access::Sees(teen) = access_of(Relation::Parent, Stage::Teen, &rules, false) else {
            panic!();
        };
        assert!(!teen.documents && teen.appointments);
        let Access::Sees(helper) = access_of(Relation::Caregiver, Stage::Adult, &rules, false)
        else {
            panic!();
        };
        assert!(helper.notes && !helper.confidential);
        let Access::Sees(trusted) = access_of(Relation::Caregiver, Stage::Adult, &rules, true)
        else {
            panic!();
        };
        assert_eq!(trusted, View::WHOLE);
        assert_eq!(
            access_of(Relation::Own, Stage::Teen, &rules, false),
            Access::Sees(View::WHOLE),
            "a teenager's own account sees everything"
        );
    }
}
