//! The questions the phantom reader answers, one class per question, and
//! the mapping between them and [`Findings`]. The trainer
//! (`demo-model/reader.py`) reads these labels from `captions.jsonl`, so the
//! encoding is written once, here.

use crate::study::{Device, Findings, Side, Size, Zone};

/// One question with its possible answers; answer 0 is always "absent".
pub struct Head {
    pub name: &'static str,
    pub classes: &'static [&'static str],
}

const NO_YES: &[&str] = &["no", "yes"];
const EFFUSION: &[&str] = &["none", "small", "moderate", "large"];

pub const HEADS: &[Head] = &[
    Head {
        name: "effusion_right",
        classes: EFFUSION,
    },
    Head {
        name: "effusion_left",
        classes: EFFUSION,
    },
    Head {
        name: "pneumothorax",
        classes: &[
            "none",
            "right small",
            "right large",
            "left small",
            "left large",
        ],
    },
    Head {
        name: "cardiomegaly",
        classes: NO_YES,
    },
    Head {
        name: "consolidation",
        classes: &[
            "none",
            "right upper",
            "right lower",
            "left upper",
            "left lower",
        ],
    },
    Head {
        name: "edema",
        classes: NO_YES,
    },
    Head {
        name: "atelectasis_right",
        classes: NO_YES,
    },
    Head {
        name: "atelectasis_left",
        classes: NO_YES,
    },
    Head {
        name: "endotracheal_tube",
        classes: NO_YES,
    },
    Head {
        name: "nasogastric_tube",
        classes: NO_YES,
    },
    Head {
        name: "central_line_right",
        classes: NO_YES,
    },
    Head {
        name: "central_line_left",
        classes: NO_YES,
    },
    Head {
        name: "picc_right",
        classes: NO_YES,
    },
    Head {
        name: "picc_left",
        classes: NO_YES,
    },
    Head {
        name: "pacemaker",
        classes: NO_YES,
    },
];

/// The devices in the order of their heads (after the eight finding heads).
const DEVICES: [Device; 7] = [
    Device::EndotrachealTube,
    Device::NasogastricTube,
    Device::CentralLine(Side::Right),
    Device::CentralLine(Side::Left),
    Device::Picc(Side::Right),
    Device::Picc(Side::Left),
    Device::Pacemaker,
];

/// Total logits of the reader's output: the heads' classes, head after head.
pub fn logit_count() -> usize {
    HEADS.iter().map(|h| h.classes.len()).sum()
}

fn size_class(z: Option<Size>) -> usize {
    match z {
        None => 0,
        Some(Size::Small) => 1,
        Some(Size::Moderate) => 2,
        Some(Size::Large) => 3,
    }
}

fn side_class(side: Side) -> usize {
    match side {
        Side::Right => 0,
        Side::Left => 1,
    }
}

/// The answer to every head for these findings.
pub fn encode(f: &Findings) -> Vec<usize> {
    let mut out = vec![
        size_class(f.effusion_on(Side::Right)),
        size_class(f.effusion_on(Side::Left)),
        match f.pneumothorax {
            None => 0,
            // Pneumothoraces are drawn small (apical) or large.
            Some((side, z)) => 1 + 2 * side_class(side) + usize::from(z != Size::Small),
        },
        usize::from(f.cardiomegaly),
        match f.consolidation {
            None => 0,
            Some((side, zone)) => 1 + 2 * side_class(side) + usize::from(zone == Zone::Lower),
        },
        usize::from(f.edema),
        usize::from(f.atelectasis.contains(&Side::Right)),
        usize::from(f.atelectasis.contains(&Side::Left)),
    ];
    out.extend(DEVICES.iter().map(|d| usize::from(f.devices.contains(d))));
    out
}

/// The findings these answers describe (the inverse of [`encode`]).
pub fn decode(answers: &[usize]) -> Findings {
    let side = |k: usize| if k == 0 { Side::Right } else { Side::Left };
    let size = |c: usize| [Size::Small, Size::Moderate, Size::Large][c - 1];
    let mut f = Findings::default();
    for (i, s) in Side::BOTH.into_iter().enumerate() {
        if answers[i] > 0 {
            f.effusion.push((s, size(answers[i])));
        }
    }
    if answers[2] > 0 {
        let k = answers[2] - 1;
        let z = if k.is_multiple_of(2) {
            Size::Small
        } else {
            Size::Large
        };
        f.pneumothorax = Some((side(k / 2), z));
    }
    f.cardiomegaly = answers[3] == 1;
    if answers[4] > 0 {
        let k = answers[4] - 1;
        let zone = if k.is_multiple_of(2) {
            Zone::Upper
        } else {
            Zone::Lower
        };
        f.consolidation = Some((side(k / 2), zone));
    }
    f.edema = answers[5] == 1;
    for (i, s) in Side::BOTH.into_iter().enumerate() {
        if answers[6 + i] == 1 {
            f.atelectasis.push(s);
        }
    }
    for (i, d) in DEVICES.into_iter().enumerate() {
        if answers[8 + i] == 1 {
            f.devices.push(d);
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn decode_inverts_encode() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for _ in 0..500 {
            let f = Findings::sample(&mut rng);
            let a = encode(&f);
            assert_eq!(a.len(), HEADS.len());
            for (h, &c) in HEADS.iter().zip(&a) {
                assert!(c < h.classes.len(), "{}: {c}", h.name);
            }
            // The order of sides and devices is the heads' order, not the
            // sampler's: compare as answers.
            assert_eq!(encode(&decode(&a)), a);
        }
    }
}
