//! Report-style captions. Every finding a phantom shows is named (so that a
//! finding the prompt leaves out is one the model learns to leave out), in
//! one of several phrasings; absent findings are sometimes negated ("No
//! pneumothorax."), and normal studies get the impressions radiologists
//! write for them. Every prompt of the page's presets is one of these
//! captions word for word.

use rand::Rng;
use rand::seq::IndexedRandom;

use crate::study::{Device, Findings, Side, Size, Zone};

fn cap(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn pick<'a>(rng: &mut impl Rng, options: &[&'a str]) -> &'a str {
    options.choose(rng).copied().unwrap_or("")
}

/// Fills `{side}`, `{size}` and `{zone}`, and capitalizes the sentence.
fn fill(template: &str, side: Option<Side>, size: Option<Size>, zone: Option<Zone>) -> String {
    let mut s = template.to_string();
    if let Some(side) = side {
        s = s.replace("{side}", side.word());
    }
    if let Some(size) = size {
        s = s.replace("{size}", size.word());
    }
    if let Some(zone) = zone {
        s = s.replace(
            "{zone}",
            match zone {
                Zone::Upper => "upper",
                Zone::Lower => "lower",
            },
        );
    }
    cap(&s)
}

fn effusion(f: &Findings, rng: &mut impl Rng) -> Option<String> {
    let r = f.effusion_on(Side::Right);
    let l = f.effusion_on(Side::Left);
    Some(match (r, l) {
        (None, None) => return None,
        (Some(z), Some(z2)) if z == z2 => fill(
            pick(
                rng,
                &[
                    "{size} bilateral pleural effusions.",
                    "{size} bilateral pleural effusions.",
                    "{size} bilateral effusions.",
                    "bilateral {size} pleural effusions.",
                ],
            ),
            None,
            Some(z),
            None,
        ),
        (Some(zr), Some(zl)) => cap(&format!(
            "{} right and {} left pleural effusions.",
            zr.word(),
            zl.word()
        )),
        (Some(z), None) | (None, Some(z)) => {
            let side = if r.is_some() { Side::Right } else { Side::Left };
            fill(
                pick(
                    rng,
                    &[
                        "{size} {side} pleural effusion.",
                        "{size} {side} pleural effusion.",
                        "{size} {side}-sided pleural effusion.",
                        "there is a {size} {side} pleural effusion.",
                        "{size} {side} effusion.",
                    ],
                ),
                Some(side),
                Some(z),
                None,
            )
        }
    })
}

fn device(d: Device, rng: &mut impl Rng) -> String {
    match d {
        Device::EndotrachealTube => pick(
            rng,
            &[
                "Endotracheal tube in place.",
                "ET tube terminates above the carina.",
                "Endotracheal tube.",
            ],
        )
        .into(),
        Device::NasogastricTube => pick(
            rng,
            &[
                "Nasogastric tube courses below the diaphragm.",
                "NG tube in the stomach.",
                "Nasogastric tube in place.",
            ],
        )
        .into(),
        Device::CentralLine(side) => fill(
            pick(
                rng,
                &[
                    "{side} internal jugular central line in place.",
                    "{side} IJ catheter tip in the SVC.",
                    "{side} central venous catheter.",
                ],
            ),
            Some(side),
            None,
            None,
        ),
        Device::Picc(side) => fill(
            pick(
                rng,
                &[
                    "{side} PICC terminates in the SVC.",
                    "{side} arm PICC line.",
                    "{side} PICC in place.",
                ],
            ),
            Some(side),
            None,
            None,
        ),
        Device::Pacemaker => pick(
            rng,
            &[
                "Left-sided pacemaker with leads in the right heart.",
                "Pacemaker in place.",
                "Cardiac pacemaker.",
            ],
        )
        .into(),
    }
}

/// A caption for `f`.
///
/// Long: the phrase tables are the function, one per finding in the order a
/// report reads; the rng draws happen in this order, and the demo model was
/// trained on the captions they make, so it stays one sequence.
pub fn caption(f: &Findings, rng: &mut impl Rng) -> String {
    if f.is_normal() {
        return pick(
            rng,
            &[
                "No acute cardiopulmonary process.",
                "No acute cardiopulmonary process.",
                "No acute cardiopulmonary abnormality.",
                "Normal chest radiograph.",
                "No pleural effusion.",
                "No pneumothorax.",
                "The lungs are clear. Heart size is normal.",
                "Heart size is normal. The lungs are clear. No pleural effusion or pneumothorax.",
            ],
        )
        .into();
    }
    let mut s: Vec<String> = Vec::new();
    s.extend(effusion(f, rng));
    if let Some((side, size)) = f.pneumothorax {
        let t = match size {
            Size::Small => pick(
                rng,
                &[
                    "small {side} apical pneumothorax.",
                    "small {side} pneumothorax.",
                    "{side} apical pneumothorax.",
                    "{side} pneumothorax.",
                ],
            ),
            _ => pick(
                rng,
                &[
                    "large {side} pneumothorax.",
                    "{side} pneumothorax.",
                    "large {side}-sided pneumothorax.",
                ],
            ),
        };
        s.push(fill(t, Some(side), None, None));
    }
    if f.cardiomegaly {
        s.push(
            pick(
                rng,
                &[
                    "Cardiomegaly.",
                    "Cardiomegaly.",
                    "The heart is enlarged.",
                    "Enlarged cardiac silhouette.",
                ],
            )
            .into(),
        );
    }
    if let Some((side, zone)) = f.consolidation {
        s.push(fill(
            pick(
                rng,
                &[
                    "{side} {zone} lobe consolidation.",
                    "consolidation in the {side} {zone} lung zone.",
                    "{side} {zone} lobe opacity, concerning for pneumonia.",
                ],
            ),
            Some(side),
            None,
            Some(zone),
        ));
    }
    if f.edema {
        s.push(
            pick(
                rng,
                &[
                    "Pulmonary edema.",
                    "Bilateral perihilar opacities consistent with pulmonary edema.",
                    "Mild pulmonary edema.",
                ],
            )
            .into(),
        );
    }
    match f.atelectasis.as_slice() {
        [] => {}
        [side] => s.push(fill(
            pick(
                rng,
                &[
                    "{side} basilar atelectasis.",
                    "plate-like atelectasis at the {side} base.",
                ],
            ),
            Some(*side),
            None,
            None,
        )),
        _ => s.push("Bibasilar atelectasis.".into()),
    }
    for &d in &f.devices {
        s.push(device(d, rng));
    }
    // Now and then, what is not there.
    let mut negations: Vec<&str> = Vec::new();
    if f.pneumothorax.is_none() {
        negations.push("No pneumothorax.");
    }
    if f.effusion.is_empty() {
        negations.push("No pleural effusion.");
    }
    if !f.cardiomegaly {
        negations.push("Heart size is normal.");
    }
    if f.consolidation.is_none() {
        negations.push("No focal consolidation.");
    }
    for n in negations {
        if rng.random::<f32>() < 0.2 {
            s.push(n.into());
        }
    }
    s.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// Every preset prompt of the page is a caption the generator writes.
    #[test]
    fn the_page_presets_are_captions() {
        let mut seen = std::collections::HashSet::new();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..20_000 {
            let f = Findings::sample(&mut rng);
            seen.insert(caption(&f, &mut rng));
        }
        for want in [
            "Large left pleural effusion.",
            "Large right pleural effusion.",
            "Small right pleural effusion.",
            "Moderate bilateral pleural effusions.",
            "No pleural effusion.",
            "Right pneumothorax.",
            "Cardiomegaly.",
            "No acute cardiopulmonary process.",
        ] {
            assert!(seen.contains(want), "{want:?} never written");
        }
    }

    #[test]
    fn every_finding_is_named() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let f = Findings {
            effusion: vec![(Side::Left, Size::Large)],
            pneumothorax: Some((Side::Right, Size::Small)),
            cardiomegaly: true,
            devices: vec![Device::Pacemaker],
            ..Default::default()
        };
        for _ in 0..50 {
            let c = caption(&f, &mut rng).to_lowercase();
            assert!(c.contains("left") && c.contains("effusion"), "{c}");
            assert!(c.contains("right") && c.contains("pneumothorax"), "{c}");
            assert!(
                c.contains("cardiomegaly")
                    || c.contains("heart is enlarged")
                    || c.contains("enlarged cardiac"),
                "{c}"
            );
            assert!(c.contains("pacemaker"), "{c}");
        }
    }
}
