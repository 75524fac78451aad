//! A data set's spec: what to draw, how many of each, and the sampler
//! settings, as TOML. Image k's prompt and seed are a pure function of the
//! spec and k, so any machine, any shard and any rerun makes the same image
//! k; nothing here depends on the model or the clock.
//!
//! ```toml
//! base_seed = 1000          # image k has seed base_seed + k
//! steps = 50
//! guidance = 4.0
//! scheduler = "pndm"        # optional: the model's own
//! size = "512"              # optional: the model's own
//! negative = ""             # optional
//!
//! [[group]]                 # groups follow one another in k
//! prompt = "{size} {side} pleural effusion."
//! side = ["left", "right"]  # every {name} in the prompt has a list
//! size = ["small", "large"]
//! count = 10                # images per combination (here 4 of them)
//!
//! [[group]]
//! prompt = "No acute cardiopulmonary process."
//! count = 40
//! age = [40, 70]            # for models trained with demographic captions:
//! sex = ["female", "male"]  # the caption opens "40 year old female."
//! ```
//!
//! Within a group, combinations run in the order of their lists' names
//! (alphabetical, with age, race and sex last), the last name changing
//! fastest, each combination's images one after another.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use roentgen_model::demographics::{Sex, Subject};
use roentgen_model::{ImageSize, SchedulerKind};
use serde::{Deserialize, Serialize};

/// The spec as written (serialised back into `dataset.json`, and its
/// hash there, so a rerun with another spec is refused).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub base_seed: u64,
    #[serde(default = "default_steps")]
    pub steps: usize,
    #[serde(default = "default_guidance")]
    pub guidance: f32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    #[serde(default)]
    pub negative: String,
    #[serde(rename = "group")]
    pub groups: Vec<Group>,
}

fn default_steps() -> usize {
    50
}

fn default_guidance() -> f32 {
    4.0
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Group {
    pub prompt: String,
    /// Images per combination of the lists.
    pub count: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub age: Vec<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub race: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sex: Vec<String>,
    /// Every other key: a list of words for `{key}` in the prompt.
    #[serde(flatten)]
    pub fill: BTreeMap<String, Vec<String>>,
}

/// Most images one spec may describe (a 565,000-image set fits many times).
const MAX_IMAGES: u64 = 100_000_000;
/// CLIP reads 77 tokens; a prompt this long is surely a mistake.
const MAX_PROMPT_CHARS: usize = 2_000;

/// One image of the data set.
#[derive(Clone, Debug, PartialEq)]
pub struct Planned {
    pub k: u64,
    pub group: usize,
    /// What CLIP reads: the demographic sentence, if any, then the findings.
    pub prompt: String,
    pub subject: Subject,
    pub seed: u64,
}

/// The spec, checked, with everything a run needs parsed.
#[derive(Clone, Debug)]
pub struct Checked {
    pub spec: Spec,
    pub scheduler: Option<SchedulerKind>,
    pub size: Option<ImageSize>,
    /// Images in each group (combinations x count).
    group_images: Vec<u64>,
    pub total: u64,
}

/// One list a group varies: `{name}` words, or a demographic.
enum Axis<'a> {
    Fill(&'a str, &'a [String]),
    Age(&'a [u32]),
    Race(&'a [String]),
    Sex(&'a [String]),
}

impl Axis<'_> {
    fn len(&self) -> usize {
        match self {
            Axis::Fill(_, v) | Axis::Race(v) | Axis::Sex(v) => v.len(),
            Axis::Age(v) => v.len(),
        }
    }
}

impl Group {
    fn axes(&self) -> Vec<Axis<'_>> {
        let mut axes: Vec<Axis> = self
            .fill
            .iter()
            .map(|(k, v)| Axis::Fill(k.as_str(), v.as_slice()))
            .collect();
        if !self.age.is_empty() {
            axes.push(Axis::Age(&self.age));
        }
        if !self.race.is_empty() {
            axes.push(Axis::Race(&self.race));
        }
        if !self.sex.is_empty() {
            axes.push(Axis::Sex(&self.sex));
        }
        axes
    }

    fn combinations(&self) -> u64 {
        self.axes().iter().map(|a| a.len() as u64).product()
    }

    fn varies_subject(&self) -> bool {
        !(self.age.is_empty() && self.race.is_empty() && self.sex.is_empty())
    }

    /// Combination `c`'s prompt and subject.
    fn combination(&self, mut c: u64) -> anyhow::Result<(String, Subject)> {
        let mut prompt = self.prompt.clone();
        let mut subject = Subject::default();
        for axis in self.axes().iter().rev() {
            let n = axis.len() as u64;
            let i = (c % n) as usize;
            c /= n;
            match axis {
                Axis::Fill(name, words) => {
                    prompt = prompt.replace(&format!("{{{name}}}"), &words[i]);
                }
                Axis::Age(ages) => subject.age = Some(ages[i]),
                Axis::Race(races) => {
                    subject.race = Subject::parse_race(&races[i]).map_err(anyhow::Error::msg)?
                }
                Axis::Sex(sexes) => {
                    subject.sex = Some(Sex::parse(&sexes[i]).map_err(anyhow::Error::msg)?)
                }
            }
        }
        Ok((subject.compose(&capitalised(&prompt)), subject))
    }
}

fn capitalised(s: &str) -> String {
    let s = s.trim();
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// The `{name}`s a prompt uses.
fn placeholders(prompt: &str) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = prompt;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .with_context(|| format!("an unclosed {{ in {prompt:?}"))?;
        let name = &after[..close];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            bail!("{{{name}}} in {prompt:?}: a name of letters, digits and _");
        }
        out.push(name.to_string());
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        bail!("a }} without {{ in {prompt:?}");
    }
    Ok(out)
}

impl Spec {
    pub fn parse(text: &str) -> anyhow::Result<Spec> {
        toml::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// Every check that needs no model: lists against placeholders, counts,
    /// demographic words, the sampler's name and the size.
    pub fn check(self) -> anyhow::Result<Checked> {
        if self.groups.is_empty() {
            bail!("no [[group]]: the spec must list at least one prompt");
        }
        let scheduler = match &self.scheduler {
            Some(name) => Some(SchedulerKind::from_name(name).with_context(|| {
                format!("scheduler {name:?}: use pndm, ddim, euler, euler-a or dpm++2m")
            })?),
            None => None,
        };
        let size = match &self.size {
            Some(s) => Some(ImageSize::parse(s).map_err(anyhow::Error::msg)?),
            None => None,
        };
        if self.steps == 0 || self.steps > 1000 {
            bail!("steps {}: from 1 to 1000", self.steps);
        }
        if !self.guidance.is_finite() {
            bail!("guidance must be a number");
        }
        let mut group_images = Vec::new();
        for (g, group) in self.groups.iter().enumerate() {
            let at = || format!("group {} ({:?})", g + 1, group.prompt);
            check_group(group).with_context(at)?;
            let images = group
                .combinations()
                .checked_mul(group.count)
                .filter(|&n| n <= MAX_IMAGES)
                .with_context(|| format!("{}: more than {MAX_IMAGES} images", at()))?;
            group_images.push(images);
        }
        let total: u64 = group_images.iter().sum();
        if total > MAX_IMAGES {
            bail!("{total} images: at most {MAX_IMAGES} in one spec");
        }
        Ok(Checked {
            spec: self,
            scheduler,
            size,
            group_images,
            total,
        })
    }
}

fn check_group(group: &Group) -> anyhow::Result<()> {
    if group.count == 0 {
        bail!("count must be at least 1");
    }
    if group.prompt.contains(['\n', '\r']) || group.prompt.chars().count() > MAX_PROMPT_CHARS {
        bail!("a prompt is one line of at most {MAX_PROMPT_CHARS} characters");
    }
    let used = placeholders(&group.prompt)?;
    for name in &used {
        if !group.fill.contains_key(name) {
            bail!("the prompt uses {{{name}}} but the group has no list {name} = [...]");
        }
    }
    for (name, words) in &group.fill {
        if !used.contains(name) {
            bail!(
                "{name} = [...] is not a setting of a group and the prompt has no {{{name}}} \
                 (a group holds prompt, count, age, sex, race and the prompt's lists)"
            );
        }
        if words.is_empty() {
            bail!("{name} = []: a list needs at least one word");
        }
    }
    for age in &group.age {
        Subject::parse_age(&age.to_string()).map_err(anyhow::Error::msg)?;
    }
    for race in &group.race {
        Subject::parse_race(race).map_err(anyhow::Error::msg)?;
    }
    for sex in &group.sex {
        Sex::parse(sex).map_err(anyhow::Error::msg)?;
    }
    Ok(())
}

impl Checked {
    /// Image k (k < total).
    pub fn image(&self, k: u64) -> anyhow::Result<Planned> {
        let mut j = k;
        for (g, (group, &n)) in self.spec.groups.iter().zip(&self.group_images).enumerate() {
            if j < n {
                let (prompt, subject) = group.combination(j / group.count)?;
                return Ok(Planned {
                    k,
                    group: g,
                    prompt,
                    subject,
                    seed: self.spec.base_seed.wrapping_add(k),
                });
            }
            j -= n;
        }
        bail!("image {k}: the spec holds {} images", self.total)
    }

    /// Whether any group names the patient (then the model must have been
    /// trained with demographic captions).
    pub fn varies_subject(&self) -> bool {
        self.spec.groups.iter().any(Group::varies_subject)
    }

    /// Each distinct prompt once, with the first image that uses it.
    pub fn distinct_prompts(&self) -> anyhow::Result<Vec<(u64, String)>> {
        let mut out: Vec<(u64, String)> = Vec::new();
        let mut first = 0;
        for (group, &n) in self.spec.groups.iter().zip(&self.group_images) {
            for c in 0..group.combinations() {
                let prompt = group.combination(c)?.0;
                if !out.iter().any(|(_, p)| *p == prompt) {
                    out.push((first + c * group.count, prompt));
                }
            }
            first += n;
        }
        Ok(out)
    }

    /// A fingerprint of what the spec asks for (not of its comments or
    /// layout): sha256 of its JSON form.
    pub fn sha256(&self) -> String {
        let json = serde_json::to_vec(&self.spec).expect("a spec serialises");
        roentgen_weights::sha256_hex(&json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"
base_seed = 1000
steps = 20

[[group]]
prompt = "{size} {side} pleural effusion."
side = ["left", "right"]
size = ["small", "large"]
count = 2

[[group]]
prompt = "No acute cardiopulmonary process."
count = 3
age = [40, 70]
sex = ["female", "male"]
"#;

    #[test]
    fn image_k_is_a_function_of_the_spec_and_k() {
        let c = Spec::parse(SPEC).unwrap().check().unwrap();
        assert_eq!(c.total, 2 * 2 * 2 + 2 * 2 * 3);
        let prompts: Vec<String> = (0..c.total).map(|k| c.image(k).unwrap().prompt).collect();
        // Lists in alphabetical order (side, then size), size fastest; each
        // combination's images together.
        assert_eq!(
            &prompts[..8],
            [
                "Small left pleural effusion.",
                "Small left pleural effusion.",
                "Large left pleural effusion.",
                "Large left pleural effusion.",
                "Small right pleural effusion.",
                "Small right pleural effusion.",
                "Large right pleural effusion.",
                "Large right pleural effusion.",
            ]
        );
        assert_eq!(
            prompts[8],
            "40 year old female. No acute cardiopulmonary process."
        );
        assert_eq!(
            prompts[11],
            "40 year old male. No acute cardiopulmonary process."
        );
        assert_eq!(
            prompts[19],
            "70 year old male. No acute cardiopulmonary process."
        );
        assert_eq!(c.image(19).unwrap().seed, 1019);
        assert_eq!(c.image(19).unwrap().group, 1);
        assert!(c.image(20).is_err());
        assert_eq!(c.distinct_prompts().unwrap().len(), 4 + 4);
        assert_eq!(c.distinct_prompts().unwrap()[5].0, 11);
        assert!(c.varies_subject());
        // Comments and layout do not change the fingerprint; a setting does.
        let again = Spec::parse(&format!("# a comment\n{SPEC}"))
            .unwrap()
            .check()
            .unwrap();
        assert_eq!(again.sha256(), c.sha256());
        let other = Spec::parse(&SPEC.replace("steps = 20", "steps = 21"))
            .unwrap()
            .check()
            .unwrap();
        assert_ne!(other.sha256(), c.sha256());
    }

    #[test]
    fn mistakes_are_named() {
        let err =
            |text: &str| format!("{:#}", Spec::parse(text).and_then(Spec::check).unwrap_err());
        let base = "base_seed = 1\n[[group]]\n";
        assert!(
            err(&format!(
                "{base}prompt = \"{{side}} effusion.\"\ncount = 1\n"
            ))
            .contains("no list side")
        );
        assert!(err(&format!("{base}prompt = \"Effusion.\"\ncout = 1\n")).contains("count"));
        assert!(
            err(&format!(
                "{base}prompt = \"Effusion.\"\ncount = 1\nsides = [\"left\"]\n"
            ))
            .contains("sides = [...] is not a setting")
        );
        assert!(err(&format!("{base}prompt = \"Effusion.\"\ncount = 0\n")).contains("at least 1"));
        assert!(
            err(&format!(
                "{base}prompt = \"Effusion.\"\ncount = 1\nsex = [\"x\"]\n"
            ))
            .contains("female or male")
        );
        assert!(
            err(&format!(
                "{base}prompt = \"Effusion.\"\ncount = 1\nage = [0]\n"
            ))
            .contains("age")
        );
        assert!(
            err("base_seed = 1\nscheduler = \"pmdn\"\n[[group]]\nprompt = \"E.\"\ncount = 1\n")
                .contains("pmdn")
        );
        assert!(
            err("base_seed = 1\nsize = \"51x\"\n[[group]]\nprompt = \"E.\"\ncount = 1\n")
                .contains("size")
        );
        assert!(
            err("base_seed = 1\nstep = 3\n[[group]]\nprompt = \"E.\"\ncount = 1\n")
                .contains("step")
        );
        assert!(err("base_seed = 1\n").contains("group"));
        assert!(err(&format!("{base}prompt = \"{{a\"\ncount = 1\n")).contains("unclosed"));
    }
}
