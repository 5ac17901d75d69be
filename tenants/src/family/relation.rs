//! Why an account holds a record.

use crate::domain::InvalidValue;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// The patient's own account.
    Own,
    /// A parent or guardian's proxy for a minor.
    Parent,
    /// A caregiver's proxy for an adult, given with the adult's consent.
    Caregiver,
}

impl Relation {
    /// As stored and in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Own => "self",
            Self::Parent => "parent",
            Self::Caregiver => "caregiver",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        match raw.trim() {
            "self" => Ok(Self::Own),
            "parent" => Ok(Self::Parent),
            "caregiver" => Ok(Self::Caregiver),
            _ => Err(InvalidValue::new(
                "relation",
                "must be self, parent or caregiver",
            )),
        }
    }

    /// The relations a code may grant on the record of a patient at
    /// `stage`: a child's is opened by a parent, a teenager's by herself or
    /// a parent, an adult's by themself or a caregiver.
    pub fn allowed_for(stage: super::Stage) -> &'static [Self] {
        match stage {
            super::Stage::Child => &[Self::Parent],
            super::Stage::Teen => &[Self::Own, Self::Parent],
            super::Stage::Adult => &[Self::Own, Self::Caregiver],
        }
    }

    /// The relation presumed when none is named: a child's record is
    /// held by a parent, anyone else's by the patient.
    pub fn presumed_for(stage: super::Stage) -> Self {
        match stage {
            super::Stage::Child => Self::Parent,
            _ => Self::Own,
        }
    }

    /// "you are her parent": how the portal tells an account what it is
    /// to the patient, with the patient's pronoun left to the caller.
    pub fn to_the_patient(self) -> &'static str {
        match self {
            Self::Own => "your own record",
            Self::Parent => "you are their parent or guardian",
            Self::Caregiver => "you are their caregiver",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Relation;

    #[test]
    fn relations_read_back_and_others_are_refused_by_name() {
        for r in [Relation::Own, Relation::Parent, Relation::Caregiver] {
            assert_eq!(Relation::parse(r.as_str()).unwrap(), r);
        }
        assert_eq!(Relation::parse("uncle").unwrap_err().field, "relation");
    }
}
