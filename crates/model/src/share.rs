//! Share links: every parameter of an image in the URL's query, so opening
//! the link reproduces it. Parsing is strict because links come from anyone:
//! a bad or hostile value is refused with a message naming the parameter,
//! and nothing from the link is ever executed or put into the page as HTML.

use serde::{Deserialize, Serialize};

use crate::demographics::{Sex, Subject, Varied};
use crate::{ImageSize, SchedulerKind};

/// Longest prompt a link may carry (CLIP reads 77 tokens; 2,000 characters
/// is far beyond that and still a sane URL).
pub const MAX_TEXT: usize = 2000;
pub const MAX_STEPS: usize = 150;
pub const MAX_COUNT: usize = 4;
pub const MAX_GUIDANCE: f32 = 30.0;
/// Seeds stay exact in JavaScript numbers and in the URL.
pub const MAX_SEED: u64 = (1 << 53) - 1;
/// The link format this code writes (`v=`). Links are a public format: a
/// link any earlier version made keeps opening the same image
/// (tests/links/earlier.txt), and a link from a newer format is refused by
/// name rather than half-read. Links before `v=` existed are format 1.
pub const LINK_VERSION: u32 = 1;

/// What the compare view's second image changes; everything else is the
/// first image's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Compare {
    /// Another prompt (`compare=`), usually the finding left out.
    Findings(String),
    /// The same findings for a patient who differs in one way
    /// (`compare_age=`, `compare_sex=` or `compare_race=`).
    Subject(Varied),
}

impl Compare {
    /// The second image's findings and patient, from the first's.
    pub fn other(&self, findings: &str, subject: &Subject) -> (String, Subject) {
        match self {
            Compare::Findings(f) => (f.clone(), subject.clone()),
            Compare::Subject(v) => (findings.to_string(), v.apply(subject)),
        }
    }
}

/// Every setting of an image: what a share link carries, and what the page
/// sends its worker (as JSON, typed; the query string is made from it only
/// at the edge, for links).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShareParams {
    pub model: Option<String>,
    pub prompt: String,
    /// The teaching "compare" view: the same seed and settings once more,
    /// side by side, with one thing changed.
    pub compare: Option<Compare>,
    pub negative: String,
    pub seed: Option<u64>,
    pub steps: usize,
    pub guidance: f32,
    pub scheduler: Option<SchedulerKind>,
    /// The image size; None draws the model's own.
    pub size: Option<ImageSize>,
    pub count: usize,
    pub run: bool,
    /// Age, sex, race/ethnicity (`age=`, `sex=`, `race=`), for a model
    /// trained with them: composed before the findings (see
    /// [`crate::demographics`]).
    pub subject: Subject,
}

impl Default for ShareParams {
    fn default() -> Self {
        Self {
            model: None,
            prompt: String::new(),
            compare: None,
            negative: String::new(),
            seed: None,
            steps: 20,
            guidance: 4.0,
            scheduler: None,
            size: None,
            count: 1,
            run: false,
            subject: Subject::default(),
        }
    }
}

/// A query string's `name=value` pairs, still percent-encoded (with or
/// without the leading `?`; a bare `name` has an empty value).
fn query_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    let query = query.strip_prefix('?').unwrap_or(query);
    query
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3).ok_or("a broken %-escape")?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| "a broken %-escape")?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| "text that is not UTF-8".to_string())
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn text(name: &str, v: &str) -> Result<String, String> {
    if v.chars().count() > MAX_TEXT {
        return Err(format!("{name}: longer than {MAX_TEXT} characters"));
    }
    if v.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\t'))
    {
        return Err(format!("{name}: contains control characters"));
    }
    Ok(v.to_string())
}

fn number<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, String> {
    if v.len() > 24 {
        return Err(format!("{name}: not a number"));
    }
    v.trim()
        .parse()
        .map_err(|_| format!("{name}: {v:?} is not a number"))
}

/// One thing varies at a time: a second `compare*` parameter is refused.
fn set_compare(p: &mut ShareParams, c: Compare) -> Result<(), String> {
    if p.compare.is_some() {
        return Err("compare: one thing varies at a time (findings, age, sex or race)".into());
    }
    p.compare = Some(c);
    Ok(())
}

impl ShareParams {
    /// Whether `query` (a share link's, with or without `?`) chooses the
    /// sampling itself (`steps=` or `scheduler=`): a link that does keeps
    /// exactly what it says, one that does not may get the page's choice.
    pub fn link_sets_sampling(query: &str) -> bool {
        query_pairs(query)
            .any(|(k, _)| matches!(percent_decode(k).as_deref(), Ok("steps") | Ok("scheduler")))
    }

    /// Parses a query string (with or without the leading `?`).
    pub fn parse(query: &str) -> Result<Self, String> {
        let mut p = Self::default();
        for (k, v) in query_pairs(query) {
            let k = percent_decode(k).map_err(|e| format!("a parameter name has {e}"))?;
            let v = percent_decode(v).map_err(|e| format!("{k}: {e}"))?;
            match k.as_str() {
                "prompt" => p.prompt = text("prompt", &v)?,
                "negative" => p.negative = text("negative", &v)?,
                "compare" => set_compare(&mut p, Compare::Findings(text("compare", &v)?))?,
                "compare_age" | "compare_sex" | "compare_race" => {
                    if let Some(varied) = Varied::parse(&k["compare_".len()..], &v)
                        .map_err(|e| format!("{k}: {e}"))?
                    {
                        set_compare(&mut p, Compare::Subject(varied))?;
                    }
                }
                "model" => {
                    let ok_scheme = v.starts_with("https://")
                        || v.starts_with("http://")
                        || (!v.contains(':') && !v.starts_with("//"));
                    if !ok_scheme || v.len() > MAX_TEXT || v.chars().any(char::is_control) {
                        return Err("model: must be an http(s) URL or a path on this site".into());
                    }
                    p.model = Some(v);
                }
                "seed" => {
                    let s: u64 = number("seed", &v)?;
                    if s > MAX_SEED {
                        return Err(format!("seed: at most {MAX_SEED}"));
                    }
                    p.seed = Some(s);
                }
                "steps" => {
                    p.steps = number("steps", &v)?;
                    if !(1..=MAX_STEPS).contains(&p.steps) {
                        return Err(format!("steps: 1 to {MAX_STEPS}"));
                    }
                }
                "guidance" => {
                    p.guidance = number("guidance", &v)?;
                    if !p.guidance.is_finite() || !(0.0..=MAX_GUIDANCE).contains(&p.guidance) {
                        return Err(format!("guidance: a number from 0 to {MAX_GUIDANCE}"));
                    }
                }
                "scheduler" => {
                    p.scheduler = Some(SchedulerKind::from_name(&v).ok_or_else(|| {
                        "scheduler: one of pndm, ddim, euler, euler-a, dpm++2m".to_string()
                    })?);
                }
                "size" => p.size = (!v.is_empty()).then(|| ImageSize::parse(&v)).transpose()?,
                "count" => {
                    p.count = number("count", &v)?;
                    if !(1..=MAX_COUNT).contains(&p.count) {
                        return Err(format!("count: 1 to {MAX_COUNT}"));
                    }
                }
                "run" => p.run = v == "1",
                "v" => {
                    let version: u32 = number("v", &v)?;
                    if version > LINK_VERSION {
                        return Err(format!(
                            "v: this link was made by a newer RoentGen Web (link format {version}; \
                             this page reads up to {LINK_VERSION})"
                        ));
                    }
                }
                "age" => p.subject.age = Subject::parse_age(&v)?,
                "sex" => {
                    p.subject.sex = (!v.trim().is_empty()).then(|| Sex::parse(&v)).transpose()?
                }
                "race" => p.subject.race = Subject::parse_race(&v)?,
                // Unknown parameters (analytics tags, ...) are ignored.
                _ => {}
            }
        }
        Ok(p)
    }

    /// The query string that reproduces these parameters.
    pub fn to_query(&self) -> String {
        let mut parts = vec![
            format!("v={LINK_VERSION}"),
            format!("prompt={}", percent_encode(&self.prompt)),
            format!("negative={}", percent_encode(&self.negative)),
            format!("steps={}", self.steps),
            format!("guidance={}", self.guidance),
            format!("count={}", self.count),
        ];
        match &self.compare {
            Some(Compare::Findings(f)) => parts.push(format!("compare={}", percent_encode(f))),
            Some(Compare::Subject(v)) => {
                parts.push(format!("{}={}", v.key(), percent_encode(&v.value())))
            }
            None => {}
        }
        if let Some(s) = self.seed {
            parts.push(format!("seed={s}"));
        }
        if let Some(k) = self.scheduler {
            parts.push(format!("scheduler={}", percent_encode(k.name())));
        }
        if let Some(s) = self.size {
            parts.push(format!("size={s}"));
        }
        if let Some(a) = self.subject.age {
            parts.push(format!("age={a}"));
        }
        if let Some(x) = self.subject.sex {
            parts.push(format!("sex={}", x.name()));
        }
        if let Some(r) = &self.subject.race {
            parts.push(format!("race={}", percent_encode(r)));
        }
        if let Some(m) = &self.model {
            parts.push(format!("model={}", percent_encode(m)));
        }
        format!("?{}", parts.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_parameter() {
        let p = ShareParams {
            model: Some("https://cdn.example.org/roentgen/".into()),
            prompt: "small left apical pneumothorax, 2 cm; ñ & ½ + \"quotes\"".into(),
            compare: Some(Compare::Findings("no pneumothorax".into())),
            negative: "lateral view".into(),
            seed: Some(42),
            steps: 30,
            guidance: 4.5,
            scheduler: Some(SchedulerKind::DpmSolver2M),
            size: Some(ImageSize {
                width: 256,
                height: 320,
            }),
            count: 3,
            run: false,
            subject: Subject {
                age: Some(50),
                sex: Some(Sex::Female),
                race: Some("Hispanic/Latino".into()),
            },
        };
        assert_eq!(ShareParams::parse(&p.to_query()).unwrap(), p);
        // The page sends its worker the settings as JSON, not as a query.
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<ShareParams>(&json).unwrap(), p);
        for varied in [
            Varied::Age(80),
            Varied::Sex(Sex::Male),
            Varied::Race("Black or African American".into()),
        ] {
            let q = ShareParams {
                compare: Some(Compare::Subject(varied)),
                ..p.clone()
            };
            assert_eq!(ShareParams::parse(&q.to_query()).unwrap(), q);
        }
        assert!(ShareParams::parse("?run=1").unwrap().run);
        // An empty compare_* field compares nothing.
        assert_eq!(ShareParams::parse("compare_age=").unwrap().compare, None);
    }

    #[test]
    fn hostile_values_are_refused_by_name() {
        let long = format!("prompt={}", "a".repeat(100_000));
        for (q, what) in [
            ("steps=NaN", "steps"),
            ("steps=1e99", "steps"),
            ("steps=0", "steps"),
            ("steps=100000", "steps"),
            ("guidance=NaN", "guidance"),
            ("guidance=inf", "guidance"),
            ("seed=-1", "seed"),
            ("seed=99999999999999999999999", "seed"),
            ("scheduler=%3Cscript%3E", "scheduler"),
            ("count=9", "count"),
            ("size=512x", "size"),
            ("size=%3Cb%3E", "size"),
            ("size=100000", "size"),
            ("age=0", "age"),
            ("age=abc", "age"),
            ("sex=other", "sex"),
            ("race=%3Cscript%3E", "race"),
            ("compare_age=300", "compare_age"),
            ("compare_sex=x", "compare_sex"),
            ("compare=a&compare_sex=male", "compare"),
            ("compare_age=70&compare_race=White", "compare"),
            ("v=2", "v"),
            ("v=x", "v"),
            ("model=javascript:alert(1)", "model"),
            ("model=//evil.example", "model"),
            ("prompt=%ZZ", "prompt"),
            ("prompt=%00", "prompt"),
            (long.as_str(), "prompt"),
        ] {
            let err = ShareParams::parse(q).unwrap_err();
            assert!(err.starts_with(what), "{q}: {err}");
        }
        // Script text is only text: accepted as a prompt, never interpreted.
        let p = ShareParams::parse("prompt=%3Cscript%3Ealert(1)%3C/script%3E").unwrap();
        assert_eq!(p.prompt, "<script>alert(1)</script>");
    }

    #[test]
    fn a_link_sets_the_sampling_with_steps_or_scheduler_only() {
        assert!(!ShareParams::link_sets_sampling(""));
        assert!(!ShareParams::link_sets_sampling("?prompt=steps%3D3&seed=2"));
        assert!(!ShareParams::link_sets_sampling("?prompt=a&mysteps=3"));
        assert!(ShareParams::link_sets_sampling("?steps=3"));
        assert!(ShareParams::link_sets_sampling("prompt=a&scheduler=ddim"));
        assert!(ShareParams::link_sets_sampling("?prompt=a&st%65ps=3"));
    }
}
