//! Procedural chest phantoms: frontal (PA) radiograph-like images drawn from
//! a seeded description of a patient's anatomy and findings, each with a
//! caption in report language.
//!
//! Why procedural: RoentGen's weights and MIMIC-CXR are gated, so the demo
//! model that ships with the page is trained on images we can make and label
//! exactly. Every finding the page's presets name (effusion side and size,
//! pneumothorax, cardiomegaly, consolidation, edema, atelectasis, support
//! devices) is drawn from geometry we know, so a reader can check whether a
//! generated image shows what its prompt asked for.
//!
//! Conventions: images are square, row-major, values in [0, 1] (bright =
//! dense, as on a film); coordinates are fractions of the image side, x to
//! the image's right, y down. The patient faces the viewer, so the
//! patient's right is on the image's left.

pub mod caption;
pub mod control;
pub mod geometry;
pub mod labels;
pub mod reader;
pub mod render;
pub mod report;
pub mod study;

pub use caption::caption;
pub use reader::{Reader, Reading};
pub use render::render;
pub use study::{Anatomy, Device, Findings, Side, Size, Study};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// One phantom: the study it was drawn from, its image and its caption.
pub struct Phantom {
    pub study: Study,
    pub size: usize,
    pub pixels: Vec<f32>,
    pub caption: String,
}

/// The phantom with this seed: the same image and caption on every machine.
pub fn phantom(seed: u64, size: usize) -> Phantom {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let study = Study::sample(&mut rng);
    draw(study, size, &mut rng)
}

/// A phantom of given findings (for the examples and the reader's tests):
/// anatomy and rendering noise still come from `seed`.
pub fn phantom_with(findings: Findings, seed: u64, size: usize) -> Phantom {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let study = Study {
        anatomy: Anatomy::sample(&mut rng, findings.cardiomegaly),
        findings,
    };
    draw(study, size, &mut rng)
}

fn draw(study: Study, size: usize, rng: &mut ChaCha8Rng) -> Phantom {
    let pixels = render(&study, size, rng);
    let caption = caption(&study.findings, rng);
    Phantom {
        study,
        size,
        pixels,
        caption,
    }
}

/// 8-bit grayscale, `round(clamp(v, 0, 1) * 255)`.
pub fn to_u8(pixels: &[f32]) -> Vec<u8> {
    pixels
        .iter()
        .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect()
}
