//! Who the radiograph is of, for models trained with it. RoentGen-v2's
//! captions open with the patient's age, race/ethnicity and sex before the
//! findings ("50 year old White female. Normal chest radiograph."); a model
//! trained that way draws them, and a teacher can vary one with the same
//! seed and findings. Whether a model was trained so is a field of its
//! manifest (`demographic_prompts`), set at conversion: this module only
//! composes and checks the sentence.

use serde::{Deserialize, Serialize};

/// The most years an age may say.
pub const MAX_AGE: u32 = 120;
/// The longest race/ethnicity text (MIMIC's categories are short).
pub const MAX_RACE: usize = 40;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sex {
    Female,
    Male,
}

impl Sex {
    pub fn name(self) -> &'static str {
        match self {
            Sex::Female => "female",
            Sex::Male => "male",
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "female" | "f" => Ok(Sex::Female),
            "male" | "m" => Ok(Sex::Male),
            other => Err(format!("sex: female or male, not {other:?}")),
        }
    }
}

/// The patient a prompt describes; every part optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    pub age: Option<u32>,
    pub sex: Option<Sex>,
    /// As the training captions spell it ("White", "Black", "Asian",
    /// "Hispanic/Latino", ...).
    pub race: Option<String>,
}

impl Subject {
    pub fn is_empty(&self) -> bool {
        self.age.is_none() && self.sex.is_none() && self.race.is_none()
    }

    pub fn parse_age(s: &str) -> Result<Option<u32>, String> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(None);
        }
        match s.parse::<u32>() {
            Ok(a) if (1..=MAX_AGE).contains(&a) => Ok(Some(a)),
            _ => Err(format!(
                "age: a whole number of years from 1 to {MAX_AGE}, not {s:?}"
            )),
        }
    }

    /// Letters, spaces, `/` and `-` only: it becomes part of a prompt and a
    /// link, and the captions' categories need no more.
    pub fn parse_race(s: &str) -> Result<Option<String>, String> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(None);
        }
        if s.chars().count() > MAX_RACE
            || !s
                .chars()
                .all(|c| c.is_alphabetic() || c == ' ' || c == '/' || c == '-')
        {
            return Err(format!(
                "race/ethnicity: up to {MAX_RACE} letters, spaces, '/' or '-', not {s:?}"
            ));
        }
        Ok(Some(s.split_whitespace().collect::<Vec<_>>().join(" ")))
    }

    /// The caption's opening sentence ("50 year old White female."), or ""
    /// with nothing set; "patient" stands in for a sex not given.
    pub fn sentence(&self) -> String {
        if self.is_empty() {
            return String::new();
        }
        let mut words = Vec::new();
        if let Some(a) = self.age {
            words.push(format!("{a} year old"));
        }
        if let Some(r) = &self.race {
            words.push(r.clone());
        }
        words.push(self.sex.map_or("patient", Sex::name).to_string());
        format!("{}.", words.join(" "))
    }

    /// The prompt a model trained with demographics reads: the sentence,
    /// then the findings (`findings` alone when nothing is set).
    pub fn compose(&self, findings: &str) -> String {
        let findings = findings.trim();
        match (self.sentence(), findings.is_empty()) {
            (s, _) if s.is_empty() => findings.to_string(),
            (s, true) => s,
            (s, false) => format!("{s} {findings}"),
        }
    }
}

/// One part of the patient changed, the rest kept: the compare view's
/// fairness lesson (the same seed and findings, another age, sex or
/// race/ethnicity).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Varied {
    Age(u32),
    Sex(Sex),
    Race(String),
}

impl Varied {
    /// The link parameter that carries it (`compare_age=`, ...).
    pub fn key(&self) -> &'static str {
        match self {
            Varied::Age(_) => "compare_age",
            Varied::Sex(_) => "compare_sex",
            Varied::Race(_) => "compare_race",
        }
    }

    /// Its value as a link and a form write it.
    pub fn value(&self) -> String {
        match self {
            Varied::Age(a) => a.to_string(),
            Varied::Sex(x) => x.name().to_string(),
            Varied::Race(r) => r.clone(),
        }
    }

    /// What varies, by the name of its form field: "age", "sex" or "race".
    pub fn field(&self) -> &'static str {
        match self {
            Varied::Age(_) => "age",
            Varied::Sex(_) => "sex",
            Varied::Race(_) => "race",
        }
    }

    /// The value for `field` ("age", "sex" or "race"): None when `value` is
    /// empty, an error naming the field when it does not parse.
    pub fn parse(field: &str, value: &str) -> Result<Option<Self>, String> {
        Ok(match field {
            "age" => Subject::parse_age(value)?.map(Varied::Age),
            "sex" => (!value.trim().is_empty())
                .then(|| Sex::parse(value))
                .transpose()?
                .map(Varied::Sex),
            "race" => Subject::parse_race(value)?.map(Varied::Race),
            other => return Err(format!("compare: age, sex or race varies, not {other:?}")),
        })
    }

    /// `subject` with this part changed.
    pub fn apply(&self, subject: &Subject) -> Subject {
        let mut s = subject.clone();
        match self {
            Varied::Age(a) => s.age = Some(*a),
            Varied::Sex(x) => s.sex = Some(*x),
            Varied::Race(r) => s.race = Some(r.clone()),
        }
        s
    }

    /// A caption's words for the part of `subject` this varies: its value
    /// there ("50 years", "female", "White"), or "not given".
    pub fn describe_in(&self, subject: &Subject) -> String {
        match self {
            Varied::Age(_) => subject.age.map(|a| format!("{a} years")),
            Varied::Sex(_) => subject.sex.map(|x| x.name().to_string()),
            Varied::Race(_) => subject.race.clone(),
        }
        .unwrap_or_else(|| "not given".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composes_the_captions_of_roentgen_v2() {
        let s = Subject {
            age: Some(50),
            sex: Some(Sex::Female),
            race: Some("White".into()),
        };
        assert_eq!(
            s.compose("Normal chest radiograph."),
            "50 year old White female. Normal chest radiograph."
        );
        let only_sex = Subject {
            sex: Some(Sex::Male),
            ..Default::default()
        };
        assert_eq!(
            only_sex.compose("small left pneumothorax"),
            "male. small left pneumothorax"
        );
        let only_age = Subject {
            age: Some(7),
            ..Default::default()
        };
        assert_eq!(only_age.compose(""), "7 year old patient.");
        assert_eq!(Subject::default().compose(" effusion "), "effusion");
    }

    #[test]
    fn a_varied_part_changes_only_that_part() {
        let s = Subject {
            age: Some(50),
            sex: Some(Sex::Female),
            race: Some("White".into()),
        };
        let male = Varied::parse("sex", "male").unwrap().unwrap();
        assert_eq!(
            male.apply(&s).compose("Normal chest radiograph."),
            "50 year old White male. Normal chest radiograph."
        );
        assert_eq!(male.describe_in(&s), "female");
        assert_eq!(male.describe_in(&male.apply(&s)), "male");
        let old = Varied::parse("age", " 80 ").unwrap().unwrap();
        assert_eq!(old.apply(&s).compose(""), "80 year old White female.");
        assert_eq!(old.describe_in(&Subject::default()), "not given");
        let race = Varied::parse("race", "Black").unwrap().unwrap();
        assert_eq!(
            (race.key(), race.value(), race.field()),
            ("compare_race", "Black".to_string(), "race")
        );
        assert_eq!(race.apply(&s).compose("x"), "50 year old Black female. x");
    }

    #[test]
    fn values_are_checked_by_name() {
        assert_eq!(Subject::parse_age(" 64 ").unwrap(), Some(64));
        assert_eq!(Subject::parse_age("").unwrap(), None);
        for bad in ["0", "121", "-3", "4.5", "old"] {
            assert!(
                Subject::parse_age(bad).unwrap_err().starts_with("age:"),
                "{bad}"
            );
        }
        assert_eq!(
            Subject::parse_race(" Hispanic/Latino ").unwrap().as_deref(),
            Some("Hispanic/Latino")
        );
        assert_eq!(
            Subject::parse_race("Black  or African-American")
                .unwrap()
                .as_deref(),
            Some("Black or African-American")
        );
        for bad in ["<b>", "x".repeat(41).as_str(), "White."] {
            assert!(
                Subject::parse_race(bad).unwrap_err().starts_with("race"),
                "{bad}"
            );
        }
        assert_eq!(Sex::parse("F").unwrap(), Sex::Female);
        assert_eq!(Varied::parse("age", "").unwrap(), None);
        assert!(Varied::parse("age", "200").unwrap_err().starts_with("age:"));
        assert!(
            Varied::parse("height", "2")
                .unwrap_err()
                .starts_with("compare:")
        );
        assert_eq!(Sex::parse("male").unwrap(), Sex::Male);
        assert!(Sex::parse("x").is_err());
    }
}
