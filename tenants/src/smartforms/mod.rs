//! SmartForms: questionnaires a clinic assigns to patients. A form reaches
//! a patient's portal account directly when the account is known; otherwise
//! a SmartForm Access Code is issued and mailed automatically. That code
//! unlocks the one form and nothing else.

pub(crate) mod model;
pub(crate) mod store;

pub use model::{Answers, FormDefinition, Question, QuestionKind};
pub use store::{AssignmentRecord, AssignmentStatus, Form};
pub(crate) use store::{assignment_for_code, link_account};
