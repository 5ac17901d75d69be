use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::{DateOfBirth, DisplayName, InvalidValue};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    /// One line of text.
    Text,
    /// A paragraph.
    LongText,
    /// `yes` or `no`.
    YesNo,
    /// A date, `YYYY-MM-DD`.
    Date,
}

impl QuestionKind {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        match raw {
            "text" => Ok(Self::Text),
            "long_text" => Ok(Self::LongText),
            "yes_no" => Ok(Self::YesNo),
            "date" => Ok(Self::Date),
            _ => Err(InvalidValue::new(
                "questions",
                "a question's kind must be text, long_text, yes_no or date",
            )),
        }
    }

    fn max_len(self) -> usize {
        match self {
            Self::LongText => 10_000,
            _ => 1_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    /// Stable within the form: `q1`, `q2`, ...
    pub id: String,
    pub label: String,
    pub kind: QuestionKind,
    pub required: bool,
}

/// A form as a clinic defines it: a title and 1 to 100 questions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormDefinition {
    pub title: DisplayName,
    pub questions: Vec<Question>,
}

impl FormDefinition {
    pub const MAX_QUESTIONS: usize = 100;

    /// Numbers the questions `q1`, `q2`, ... in the order given.
    pub fn new(
        title: DisplayName,
        questions: Vec<(String, QuestionKind, bool)>,
    ) -> Result<Self, InvalidValue> {
        if questions.is_empty() || questions.len() > Self::MAX_QUESTIONS {
            return Err(InvalidValue::new(
                "questions",
                "a form needs 1 to 100 questions",
            ));
        }
        let questions = questions
            .into_iter()
            .enumerate()
            .map(|(i, (label, kind, required))| {
                let label = label.trim().to_owned();
                if label.is_empty() || label.chars().count() > 300 {
                    return Err(InvalidValue::new(
                        "questions",
                        "each question needs a label of 1 to 300 characters",
                    ));
                }
                Ok(Question {
                    id: format!("q{}", i + 1),
                    label,
                    kind,
                    required,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { title, questions })
    }
}

/// A patient's answers, checked against the form: only its questions, each
/// of the right kind and length.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answers(pub BTreeMap<String, String>);

impl Answers {
    pub fn parse(
        questions: &[Question],
        raw: BTreeMap<String, String>,
    ) -> Result<Self, InvalidValue> {
        let mut out = BTreeMap::new();
        for (id, value) in raw {
            let question = questions.iter().find(|q| q.id == id).ok_or_else(|| {
                InvalidValue::new("answers", format!("this form has no question {id:?}"))
            })?;
            let value = value.trim().to_owned();
            if value.is_empty() {
                continue;
            }
            if value.chars().count() > question.kind.max_len() {
                return Err(InvalidValue::new(
                    "answers",
                    format!("the answer to {id} is too long"),
                ));
            }
            match question.kind {
                QuestionKind::YesNo if value != "yes" && value != "no" => {
                    return Err(InvalidValue::new(
                        "answers",
                        format!("the answer to {id} must be yes or no"),
                    ));
                }
                QuestionKind::Date if DateOfBirth::parse(&value).is_err() && !is_date(&value) => {
                    return Err(InvalidValue::new(
                        "answers",
                        format!("the answer to {id} must be a date, YYYY-MM-DD"),
                    ));
                }
                _ => {}
            }
            out.insert(id, value);
        }
        Ok(Self(out))
    }

    /// The required questions still unanswered.
    pub fn missing<'q>(&self, questions: &'q [Question]) -> Vec<&'q str> {
        questions
            .iter()
            .filter(|q| q.required && !self.0.contains_key(&q.id))
            .map(|q| q.id.as_str())
            .collect()
    }
}

fn is_date(raw: &str) -> bool {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(raw, &format).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> FormDefinition {
        FormDefinition::new(
            DisplayName::parse("title", "Intake").unwrap(),
            vec![
                ("Any allergies?".into(), QuestionKind::YesNo, true),
                ("Which?".into(), QuestionKind::Text, false),
                ("Last visit".into(), QuestionKind::Date, false),
            ],
        )
        .unwrap()
    }

    #[test]
    fn answers_are_checked_against_the_form() {
        let f = form();
        let ok =
            Answers::parse(&f.questions, [("q1".to_owned(), "yes".to_owned())].into()).unwrap();
        assert!(ok.missing(&f.questions).is_empty());
        assert!(
            Answers::parse(&f.questions, [("q1".to_owned(), "maybe".to_owned())].into()).is_err()
        );
        assert!(Answers::parse(&f.questions, [("q9".to_owned(), "x".to_owned())].into()).is_err());
        assert!(
            Answers::parse(
                &f.questions,
                [("q3".to_owned(), "last week".to_owned())].into()
            )
            .is_err()
        );
        let partial = Answers::parse(
            &f.questions,
            [("q2".to_owned(), "pollen".to_owned())].into(),
        )
        .unwrap();
        assert_eq!(partial.missing(&f.questions), ["q1"]);
    }

    #[test]
    fn forms_need_questions() {
        assert!(
            FormDefinition::new(DisplayName::parse("title", "Empty").unwrap(), vec![]).is_err()
        );
        assert_eq!(form().questions[2].id, "q3");
    }
}
