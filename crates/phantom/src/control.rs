//! Prompt control: the prompts a demo model must obey and what the reader
//! must find in each generated image. `roentgen bench control` generates
//! each prompt over many seeds and scores the images with these.

use crate::labels::HEADS;

/// What the reader must answer for one head: one of these classes.
pub struct Want {
    pub head: &'static str,
    pub any_of: &'static [usize],
}

pub struct ControlPrompt {
    pub prompt: &'static str,
    pub wants: &'static [Want],
}

const fn w(head: &'static str, any_of: &'static [usize]) -> Want {
    Want { head, any_of }
}

/// Every finding with its sides and sizes, negations, devices and normal
/// (the page's presets among them). Heads a prompt does not name are free.
pub const PROMPTS: &[ControlPrompt] = &[
    ControlPrompt {
        prompt: "Large left pleural effusion.",
        wants: &[w("effusion_left", &[3]), w("effusion_right", &[0])],
    },
    ControlPrompt {
        prompt: "Large right pleural effusion.",
        wants: &[w("effusion_right", &[3]), w("effusion_left", &[0])],
    },
    ControlPrompt {
        prompt: "Small right pleural effusion.",
        wants: &[w("effusion_right", &[1]), w("effusion_left", &[0])],
    },
    ControlPrompt {
        prompt: "Moderate right pleural effusion.",
        wants: &[w("effusion_right", &[2]), w("effusion_left", &[0])],
    },
    ControlPrompt {
        prompt: "Moderate left pleural effusion.",
        wants: &[w("effusion_left", &[2]), w("effusion_right", &[0])],
    },
    ControlPrompt {
        prompt: "Moderate bilateral pleural effusions.",
        wants: &[w("effusion_right", &[2]), w("effusion_left", &[2])],
    },
    ControlPrompt {
        prompt: "No pleural effusion.",
        wants: &[w("effusion_right", &[0]), w("effusion_left", &[0])],
    },
    ControlPrompt {
        prompt: "Right pneumothorax.",
        wants: &[w("pneumothorax", &[1, 2])],
    },
    ControlPrompt {
        prompt: "Large left pneumothorax.",
        wants: &[w("pneumothorax", &[4])],
    },
    ControlPrompt {
        prompt: "Small right apical pneumothorax.",
        wants: &[w("pneumothorax", &[1])],
    },
    ControlPrompt {
        prompt: "Cardiomegaly.",
        wants: &[w("cardiomegaly", &[1])],
    },
    ControlPrompt {
        prompt: "Left lower lobe consolidation.",
        wants: &[w("consolidation", &[4])],
    },
    ControlPrompt {
        prompt: "Pulmonary edema.",
        wants: &[w("edema", &[1])],
    },
    ControlPrompt {
        prompt: "Endotracheal tube in place.",
        wants: &[w("endotracheal_tube", &[1])],
    },
    ControlPrompt {
        prompt: "Right PICC in place.",
        wants: &[w("picc_right", &[1]), w("picc_left", &[0])],
    },
    ControlPrompt {
        prompt: "No acute cardiopulmonary process.",
        wants: &[
            w("effusion_right", &[0]),
            w("effusion_left", &[0]),
            w("pneumothorax", &[0]),
            w("cardiomegaly", &[0]),
            w("consolidation", &[0]),
            w("edema", &[0]),
        ],
    },
];

/// The "coarse" answer of a head: present or not and, where the head has
/// sides in its classes, which side. Sizes are left out.
fn coarse(head: &str, class: usize) -> usize {
    match head {
        // none / right / left
        "pneumothorax" | "consolidation" => {
            if class == 0 {
                0
            } else {
                1 + (class - 1) / 2
            }
        }
        _ => usize::from(class > 0),
    }
}

fn head_index(name: &str) -> usize {
    HEADS
        .iter()
        .position(|h| h.name == name)
        .unwrap_or_else(|| panic!("no reader head {name}"))
}

/// How one image scored against its prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Score {
    /// Every named finding present or absent as asked, on the side asked.
    pub presence_and_side: bool,
    /// The same, and the size too where the prompt gives one.
    pub exact: bool,
}

/// Scores the reader's `answers` for an image generated from `p`.
pub fn score(p: &ControlPrompt, answers: &[usize]) -> Score {
    let mut s = Score {
        presence_and_side: true,
        exact: true,
    };
    for want in p.wants {
        let got = answers[head_index(want.head)];
        s.exact &= want.any_of.contains(&got);
        s.presence_and_side &= want
            .any_of
            .iter()
            .any(|&c| coarse(want.head, c) == coarse(want.head, got));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::encode;
    use crate::study::{Findings, Side, Size};

    #[test]
    fn every_want_names_a_head_and_a_class_it_has() {
        for p in PROMPTS {
            for w in p.wants {
                let h = &HEADS[head_index(w.head)];
                assert!(
                    w.any_of.iter().all(|&c| c < h.classes.len()),
                    "{}",
                    p.prompt
                );
            }
        }
        assert!(PROMPTS.len() >= 12);
    }

    /// The model is trained on captions: each prompt must be one of their
    /// sentences, word for word.
    #[test]
    fn every_prompt_is_a_training_caption_sentence() {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let mut sentences = std::collections::HashSet::new();
        for _ in 0..20_000 {
            let f = Findings::sample(&mut rng);
            let c = crate::caption(&f, &mut rng);
            sentences.insert(c.clone());
            for s in c.split_inclusive(". ") {
                sentences.insert(s.trim().to_string());
            }
        }
        for p in PROMPTS {
            assert!(sentences.contains(p.prompt), "{}", p.prompt);
        }
    }

    #[test]
    fn a_wrong_side_fails_and_a_wrong_size_only_fails_exact() {
        let large_left = &PROMPTS[0];
        let mut f = Findings {
            effusion: vec![(Side::Left, Size::Large)],
            ..Findings::default()
        };
        assert_eq!(
            score(large_left, &encode(&f)),
            Score {
                presence_and_side: true,
                exact: true
            }
        );
        f.effusion = vec![(Side::Left, Size::Small)];
        assert_eq!(
            score(large_left, &encode(&f)),
            Score {
                presence_and_side: true,
                exact: false
            }
        );
        f.effusion = vec![(Side::Right, Size::Large)];
        assert!(!score(large_left, &encode(&f)).presence_and_side);
        let ptx = PROMPTS
            .iter()
            .find(|p| p.prompt == "Right pneumothorax.")
            .unwrap();
        f = Findings {
            pneumothorax: Some((Side::Left, Size::Small)),
            ..Findings::default()
        };
        assert!(!score(ptx, &encode(&f)).presence_and_side);
        f.pneumothorax = Some((Side::Right, Size::Large));
        assert!(score(ptx, &encode(&f)).exact);
    }
}
