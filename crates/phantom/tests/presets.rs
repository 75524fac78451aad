//! The page's finding presets speak the demo model's language: every sentence
//! of every preset (with and without the finding) is one the phantom
//! generator writes in captions, so the model was trained on it.

use std::collections::HashSet;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use roentgen_model::presets::PRESETS;
use roentgen_phantom::{Findings, caption};

/// The sentences of `text`: each ends with a full stop.
fn sentences(text: &str) -> Vec<String> {
    text.split_inclusive(". ")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

#[test]
fn every_preset_sentence_is_a_caption_sentence() {
    let mut seen = HashSet::new();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for _ in 0..30_000 {
        let f = Findings::sample(&mut rng);
        seen.extend(sentences(&caption(&f, &mut rng)));
    }
    // The check can fail: the old preset's wording was never written.
    assert!(!seen.contains("Moderate cardiomegaly."));
    for (label, with, without) in PRESETS {
        for s in sentences(with).into_iter().chain(sentences(without)) {
            assert!(
                seen.contains(&s),
                "preset {label:?}: {s:?} is never a caption sentence"
            );
        }
    }
}
