//! Reading a report-style prompt back into the findings it states or
//! negates, with side, size and zone: the labels a synthetic data set
//! carries beside each image (`roentgen dataset`).
//!
//! Why a reader of our own and not a general radiology NLP tool: the prompts
//! a data set is made from are written in the grammar of [`crate::caption`]
//! (the demo model's training captions) or in the same short report
//! sentences RoentGen was fine-tuned on ("Small left apical pneumothorax.").
//! A reader that knows that grammar reads every caption the generator writes
//! back to its findings exactly (tested below on 20,000 of them), and a
//! data set's prompt column is always there for anything it does not know.
//!
//! Conventions follow CheXpert's label files: a finding is 1 when stated, 0
//! when negated ("No pneumothorax."), blank when the prompt does not mention
//! it.

use crate::study::{Side, Size, Zone};

/// A finding a label column can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Finding {
    Effusion,
    Pneumothorax,
    Cardiomegaly,
    Consolidation,
    Edema,
    Atelectasis,
    EndotrachealTube,
    NasogastricTube,
    CentralLine,
    Picc,
    Pacemaker,
}

impl Finding {
    pub const ALL: [Finding; 11] = [
        Finding::Effusion,
        Finding::Pneumothorax,
        Finding::Cardiomegaly,
        Finding::Consolidation,
        Finding::Edema,
        Finding::Atelectasis,
        Finding::EndotrachealTube,
        Finding::NasogastricTube,
        Finding::CentralLine,
        Finding::Picc,
        Finding::Pacemaker,
    ];

    /// The label column's name.
    pub fn column(self) -> &'static str {
        match self {
            Finding::Effusion => "effusion",
            Finding::Pneumothorax => "pneumothorax",
            Finding::Cardiomegaly => "cardiomegaly",
            Finding::Consolidation => "consolidation",
            Finding::Edema => "edema",
            Finding::Atelectasis => "atelectasis",
            Finding::EndotrachealTube => "endotracheal_tube",
            Finding::NasogastricTube => "nasogastric_tube",
            Finding::CentralLine => "central_line",
            Finding::Picc => "picc",
            Finding::Pacemaker => "pacemaker",
        }
    }

    /// Findings whose side a report states (a pacemaker's generator is
    /// always left here, and edema is bilateral by nature).
    fn has_side(self) -> bool {
        matches!(
            self,
            Finding::Effusion
                | Finding::Pneumothorax
                | Finding::Consolidation
                | Finding::Atelectasis
                | Finding::CentralLine
                | Finding::Picc
        )
    }

    fn has_size(self) -> bool {
        matches!(self, Finding::Effusion | Finding::Pneumothorax)
    }

    fn has_zone(self) -> bool {
        self == Finding::Consolidation
    }

    /// Whether a clause (lower case) names this finding. `sentence` is the
    /// whole sentence, for the one rule that needs it: opacities "consistent
    /// with pulmonary edema" are edema, not consolidation.
    fn named_in(self, clause: &str, sentence: &str) -> bool {
        let any = |words: &[&str]| words.iter().any(|w| clause.contains(w));
        match self {
            Finding::Effusion => any(&["effusion"]),
            Finding::Pneumothorax => any(&["pneumothora"]),
            Finding::Cardiomegaly => any(&[
                "cardiomegaly",
                "heart is enlarged",
                "enlarged heart",
                "enlarged cardiac",
                "heart size",
                "cardiac silhouette is enlarged",
            ]),
            Finding::Consolidation => {
                any(&["consolidation", "pneumonia"])
                    || (any(&["opacity", "opacities"]) && !sentence.contains("edema"))
            }
            Finding::Edema => any(&["edema"]),
            Finding::Atelectasis => any(&["atelectasis"]),
            Finding::EndotrachealTube => any(&["endotracheal", "et tube"]),
            Finding::NasogastricTube => any(&["nasogastric", "ng tube"]),
            Finding::CentralLine => any(&[
                "central line",
                "central venous",
                "internal jugular",
                "ij catheter",
                "ij line",
            ]),
            Finding::Picc => any(&["picc"]),
            Finding::Pacemaker => any(&["pacemaker"]),
        }
    }
}

/// One finding as one clause states or negates it. A bilateral finding is
/// two statements, one per side (each with its own size when the report
/// gives two: "small right and large left pleural effusions").
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    pub finding: Finding,
    pub present: bool,
    pub side: Option<Side>,
    pub size: Option<Size>,
    pub zone: Option<Zone>,
}

/// What a prompt says.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    pub statements: Vec<Statement>,
    /// It calls the study normal ("No acute cardiopulmonary process.",
    /// "Normal chest radiograph.", "The lungs are clear.") and states no
    /// finding.
    pub normal: bool,
}

const NORMAL: &[&str] = &[
    "no acute cardiopulmonary",
    "normal chest radiograph",
    "lungs are clear",
    "no acute intrathoracic",
];

/// Reads `prompt`: sentence by sentence, clause by clause.
pub fn read(prompt: &str) -> Report {
    let text = prompt.to_lowercase();
    let mut report = Report::default();
    let mut says_normal = false;
    for sentence in text.split(['.', ';', '\n']) {
        let sentence = sentence.trim();
        if sentence.is_empty() {
            continue;
        }
        says_normal |= NORMAL.iter().any(|n| sentence.contains(n));
        let negated_sentence = starts_negated(sentence);
        for clause in clauses(sentence) {
            let negated = negated_sentence || starts_negated(&clause) || says_is_normal(&clause);
            for finding in Finding::ALL {
                if finding.named_in(&clause, sentence) {
                    state(&mut report.statements, finding, !negated, &clause);
                }
            }
        }
    }
    report.normal = says_normal && !report.statements.iter().any(|s| s.present);
    report
}

fn starts_negated(s: &str) -> bool {
    [
        "no ",
        "without ",
        "negative for ",
        "there is no ",
        "there are no ",
    ]
    .iter()
    .any(|p| s.starts_with(p))
}

/// "Heart size is normal."
fn says_is_normal(s: &str) -> bool {
    s.contains(" is normal") || s.contains(" are normal") || s.contains("normal heart size")
}

const QUALIFIERS: &[&str] = &[
    "concerning",
    "consistent",
    "compatible",
    "suggest",
    "likely",
    "which",
    "possibly",
    "may ",
];

/// A sentence cut at "and" and commas, each piece joined to the next until
/// it names a finding: "small right and large left pleural effusions" stays
/// one clause, "left pleural effusion and right pneumothorax" becomes two.
fn clauses(sentence: &str) -> Vec<String> {
    let pieces: Vec<&str> = sentence
        .split(',')
        .flat_map(|p| p.split(" and "))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let names_any = |p: &str| Finding::ALL.iter().any(|f| f.named_in(p, sentence));
    let mut out: Vec<String> = Vec::new();
    let mut pending = String::new();
    for piece in pieces {
        // "..., concerning for pneumonia" qualifies the clause before it.
        if pending.is_empty()
            && QUALIFIERS.iter().any(|q| piece.starts_with(q))
            && let Some(last) = out.last_mut()
        {
            last.push_str(", ");
            last.push_str(piece);
            continue;
        }
        if !pending.is_empty() {
            pending.push_str(" and ");
        }
        pending.push_str(piece);
        if names_any(&pending) {
            out.push(std::mem::take(&mut pending));
        }
    }
    if !pending.is_empty() {
        match out.last_mut() {
            // A trailing piece that names nothing ("... with leads in the
            // right heart") belongs to the clause before it.
            Some(last) => {
                last.push_str(" and ");
                last.push_str(&pending);
            }
            None => out.push(pending),
        }
    }
    out
}

fn words(clause: &str) -> Vec<&str> {
    clause
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty())
        .collect()
}

fn size_word(w: &str) -> Option<Size> {
    match w {
        "small" | "tiny" | "trace" => Some(Size::Small),
        "moderate" => Some(Size::Moderate),
        "large" => Some(Size::Large),
        _ => None,
    }
}

/// Adds what `clause` says of `finding`: its sides (each with the size
/// written just before it, else the clause's only size) and its zone.
fn state(out: &mut Vec<Statement>, finding: Finding, present: bool, clause: &str) {
    let w = words(clause);
    let sizes: Vec<Size> = w.iter().filter_map(|w| size_word(w)).collect();
    let only_size = match sizes.as_slice() {
        [first, rest @ ..] if rest.iter().all(|s| s == first) => Some(*first),
        _ => None,
    };
    let size = |s: Option<Size>| s.filter(|_| finding.has_size());
    let zone = if finding.has_zone() {
        w.iter().find_map(|w| match *w {
            "upper" | "apical" => Some(Zone::Upper),
            "lower" | "basilar" | "base" => Some(Zone::Lower),
            _ => None,
        })
    } else {
        None
    };
    let both = w
        .iter()
        .any(|w| matches!(*w, "bilateral" | "bibasilar" | "both"));
    let mut sides: Vec<(Side, Option<Size>)> = Vec::new();
    if finding.has_side() {
        if both {
            sides = Side::BOTH.iter().map(|&s| (s, only_size)).collect();
        } else {
            for (i, word) in w.iter().enumerate() {
                let side = match *word {
                    "right" => Side::Right,
                    "left" => Side::Left,
                    _ => continue,
                };
                let before = i.checked_sub(1).and_then(|j| size_word(w[j]));
                if !sides.iter().any(|(s, _)| *s == side) {
                    sides.push((side, before.or(only_size)));
                }
            }
        }
    }
    if sides.is_empty() {
        out.push(Statement {
            finding,
            present,
            side: None,
            size: size(only_size),
            zone,
        });
    }
    for (side, z) in sides {
        out.push(Statement {
            finding,
            present,
            side: Some(side),
            size: size(z),
            zone,
        });
    }
}

impl Report {
    /// The label columns, in the order [`Report::row`] fills them.
    pub fn columns() -> Vec<String> {
        let mut c = vec!["no_finding".to_string()];
        for f in Finding::ALL {
            c.push(f.column().into());
            if f.has_side() {
                c.push(format!("{}_side", f.column()));
            }
            if f.has_size() {
                c.push(format!("{}_size", f.column()));
            }
            if f.has_zone() {
                c.push(format!("{}_zone", f.column()));
            }
        }
        c
    }

    /// The label values: 1 stated, 0 negated, blank not mentioned; a side
    /// of left, right or bilateral; a size (per side, "right:small
    /// left:large", where the sides differ); a zone of upper or lower.
    pub fn row(&self) -> Vec<String> {
        let mut r = vec![if self.normal { "1" } else { "" }.to_string()];
        for f in Finding::ALL {
            let of: Vec<&Statement> = self.statements.iter().filter(|s| s.finding == f).collect();
            let present: Vec<&Statement> = of.iter().copied().filter(|s| s.present).collect();
            r.push(
                match (present.is_empty(), of.is_empty()) {
                    (false, _) => "1",
                    (true, false) => "0",
                    (true, true) => "",
                }
                .into(),
            );
            if f.has_side() {
                let right = present.iter().any(|s| s.side == Some(Side::Right));
                let left = present.iter().any(|s| s.side == Some(Side::Left));
                r.push(
                    match (right, left) {
                        (true, true) => "bilateral",
                        (true, false) => "right",
                        (false, true) => "left",
                        (false, false) => "",
                    }
                    .into(),
                );
            }
            if f.has_size() {
                r.push(size_label(&present));
            }
            if f.has_zone() {
                let zone = present.iter().find_map(|s| s.zone);
                r.push(match zone {
                    Some(Zone::Upper) => "upper".into(),
                    Some(Zone::Lower) => "lower".into(),
                    None => String::new(),
                });
            }
        }
        r
    }
}

fn size_label(present: &[&Statement]) -> String {
    let sized: Vec<(Option<Side>, Size)> = present
        .iter()
        .filter_map(|s| s.size.map(|z| (s.side, z)))
        .collect();
    match sized.as_slice() {
        [] => String::new(),
        [(_, first), rest @ ..] if rest.iter().all(|(_, z)| z == first) => first.word().into(),
        _ => sized
            .iter()
            .map(|(side, z)| match side {
                Some(side) => format!("{}:{}", side.word(), z.word()),
                None => z.word().into(),
            })
            .collect::<Vec<_>>()
            .join(" "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::study::{Device, Findings};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn labels(prompt: &str) -> std::collections::BTreeMap<String, String> {
        Report::columns()
            .into_iter()
            .zip(read(prompt).row())
            .filter(|(_, v)| !v.is_empty())
            .collect()
    }

    fn map(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_what_radiologists_write() {
        assert_eq!(
            labels("Small left apical pneumothorax."),
            map(&[
                ("pneumothorax", "1"),
                ("pneumothorax_side", "left"),
                ("pneumothorax_size", "small"),
            ])
        );
        assert_eq!(
            labels("Small right and large left pleural effusions."),
            map(&[
                ("effusion", "1"),
                ("effusion_side", "bilateral"),
                ("effusion_size", "right:small left:large"),
            ])
        );
        assert_eq!(
            labels("Left pleural effusion and right pneumothorax."),
            map(&[
                ("effusion", "1"),
                ("effusion_side", "left"),
                ("pneumothorax", "1"),
                ("pneumothorax_side", "right"),
            ])
        );
        assert_eq!(
            labels(
                "Heart size is normal. The lungs are clear. No pleural effusion or pneumothorax."
            ),
            map(&[
                ("no_finding", "1"),
                ("cardiomegaly", "0"),
                ("effusion", "0"),
                ("pneumothorax", "0"),
            ])
        );
        assert_eq!(
            labels("Bilateral perihilar opacities consistent with pulmonary edema."),
            map(&[("edema", "1")])
        );
        assert_eq!(
            labels("Left upper lobe opacity, concerning for pneumonia."),
            map(&[
                ("consolidation", "1"),
                ("consolidation_side", "left"),
                ("consolidation_zone", "upper"),
            ])
        );
        assert_eq!(
            labels("Left-sided pacemaker with leads in the right heart."),
            map(&[("pacemaker", "1")])
        );
        assert_eq!(labels("A chest radiograph."), map(&[]));
    }

    /// Every caption the phantom generator writes reads back to the
    /// findings it was written for: each present finding stated (with its
    /// side, and its size or zone wherever the sentence gives one), nothing
    /// absent stated.
    #[test]
    fn every_caption_reads_back_to_its_findings() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for _ in 0..20_000 {
            let f = Findings::sample(&mut rng);
            let text = crate::caption(&f, &mut rng);
            let report = read(&text);
            let present = |finding: Finding| -> Vec<&Statement> {
                report
                    .statements
                    .iter()
                    .filter(|s| s.finding == finding && s.present)
                    .collect()
            };
            let sides = |finding: Finding| -> Vec<Side> {
                let mut s: Vec<Side> = present(finding).iter().filter_map(|s| s.side).collect();
                s.sort_by_key(|s| s.word());
                s.dedup();
                s
            };
            let sorted = |mut v: Vec<Side>| {
                v.sort_by_key(|s| s.word());
                v
            };
            let ctx = format!("{text:?} for {f:?}: {report:?}");
            // Some normal studies are captioned by one negation only ("No
            // pneumothorax."), which does not call the study normal.
            assert!(!report.normal || f.is_normal(), "{ctx}");

            assert_eq!(
                sides(Finding::Effusion),
                sorted(f.effusion.iter().map(|(s, _)| *s).collect()),
                "{ctx}"
            );
            for s in present(Finding::Effusion) {
                let want = f.effusion_on(s.side.expect("effusion side"));
                assert!(s.size.is_none() || s.size == want, "{ctx}");
            }
            match f.pneumothorax {
                Some((side, size)) => {
                    assert_eq!(sides(Finding::Pneumothorax), vec![side], "{ctx}");
                    for s in present(Finding::Pneumothorax) {
                        assert!(s.size.is_none() || s.size == Some(size), "{ctx}");
                    }
                }
                None => assert!(present(Finding::Pneumothorax).is_empty(), "{ctx}"),
            }
            assert_eq!(
                !present(Finding::Cardiomegaly).is_empty(),
                f.cardiomegaly,
                "{ctx}"
            );
            match f.consolidation {
                Some((side, zone)) => {
                    assert_eq!(sides(Finding::Consolidation), vec![side], "{ctx}");
                    for s in present(Finding::Consolidation) {
                        assert_eq!(s.zone, Some(zone), "{ctx}");
                    }
                }
                None => assert!(present(Finding::Consolidation).is_empty(), "{ctx}"),
            }
            assert_eq!(!present(Finding::Edema).is_empty(), f.edema, "{ctx}");
            assert_eq!(
                sides(Finding::Atelectasis),
                sorted(f.atelectasis.clone()),
                "{ctx}"
            );
            let device = |d: Device| f.devices.contains(&d);
            assert_eq!(
                !present(Finding::EndotrachealTube).is_empty(),
                device(Device::EndotrachealTube),
                "{ctx}"
            );
            assert_eq!(
                !present(Finding::NasogastricTube).is_empty(),
                device(Device::NasogastricTube),
                "{ctx}"
            );
            assert_eq!(
                !present(Finding::Pacemaker).is_empty(),
                device(Device::Pacemaker),
                "{ctx}"
            );
            let lines = |make: fn(Side) -> Device| -> Vec<Side> {
                Side::BOTH
                    .into_iter()
                    .filter(|&s| device(make(s)))
                    .collect()
            };
            assert_eq!(
                sides(Finding::CentralLine),
                sorted(lines(Device::CentralLine)),
                "{ctx}"
            );
            assert_eq!(sides(Finding::Picc), sorted(lines(Device::Picc)), "{ctx}");
        }
    }

    #[test]
    fn row_and_columns_agree() {
        assert_eq!(Report::columns().len(), read("Cardiomegaly.").row().len());
    }
}
