//! What a phantom shows: the patient's anatomy (varied from seed to seed)
//! and the findings, sampled with the frequencies the demo model is trained
//! on.

use rand::Rng;
use serde::{Deserialize, Serialize};

/// The patient's side. `Right` is drawn on the image's left.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Right,
    Left,
}

impl Side {
    pub const BOTH: [Side; 2] = [Side::Right, Side::Left];

    /// -1 for the patient's right (image left), +1 for the left.
    pub fn sign(self) -> f32 {
        match self {
            Side::Right => -1.0,
            Side::Left => 1.0,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Side::Right => "right",
            Side::Left => "left",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Size {
    Small,
    Moderate,
    Large,
}

impl Size {
    pub const ALL: [Size; 3] = [Size::Small, Size::Moderate, Size::Large];

    pub fn word(self) -> &'static str {
        match self {
            Size::Small => "small",
            Size::Moderate => "moderate",
            Size::Large => "large",
        }
    }
}

/// Upper or lower zone of a lung.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Zone {
    Upper,
    Lower,
}

/// Radiopaque lines and boxes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Device {
    EndotrachealTube,
    NasogastricTube,
    /// Internal jugular central venous catheter from that side's neck.
    CentralLine(Side),
    /// Peripherally inserted central catheter from that side's arm.
    Picc(Side),
    /// Generator over the left upper chest, leads into the right heart.
    Pacemaker,
}

/// The findings of one study. Empty = a normal chest.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Findings {
    /// Pleural effusion per side (both = bilateral).
    pub effusion: Vec<(Side, Size)>,
    /// Pneumothorax: `Small` is apical, `Large` collapses the lung toward
    /// the hilum.
    pub pneumothorax: Option<(Side, Size)>,
    pub cardiomegaly: bool,
    pub consolidation: Option<(Side, Zone)>,
    /// Bilateral perihilar haze.
    pub edema: bool,
    /// Plate-like basilar atelectasis on these sides.
    pub atelectasis: Vec<Side>,
    pub devices: Vec<Device>,
}

impl Findings {
    pub fn is_normal(&self) -> bool {
        *self == Findings::default()
    }

    /// The effusion on `side`, if any.
    pub fn effusion_on(&self, side: Side) -> Option<Size> {
        self.effusion
            .iter()
            .find(|(s, _)| *s == side)
            .map(|(_, z)| *z)
    }

    /// A mix of findings as the training set holds them: about a quarter
    /// normal, effusions most common (the page's presets lead with them),
    /// several findings together now and then.
    pub fn sample(rng: &mut impl Rng) -> Self {
        let mut f = Findings::default();
        if rng.random::<f32>() < 0.22 {
            return f;
        }
        let size = |rng: &mut dyn rand::RngCore| Size::ALL[rng.random_range(0..3)];
        let side = |rng: &mut dyn rand::RngCore| Side::BOTH[rng.random_range(0..2)];
        if rng.random::<f32>() < 0.45 {
            match rng.random_range(0..10) {
                0..=3 => f.effusion.push((Side::Right, size(rng))),
                4..=7 => f.effusion.push((Side::Left, size(rng))),
                _ => {
                    let z = size(rng);
                    f.effusion.push((Side::Right, z));
                    // Bilateral effusions are mostly of one size.
                    let other = if rng.random::<f32>() < 0.7 {
                        z
                    } else {
                        size(rng)
                    };
                    f.effusion.push((Side::Left, other));
                }
            }
        }
        if rng.random::<f32>() < 0.18 {
            let z = if rng.random::<f32>() < 0.5 {
                Size::Small
            } else {
                Size::Large
            };
            f.pneumothorax = Some((side(rng), z));
        }
        f.cardiomegaly = rng.random::<f32>() < 0.2;
        if rng.random::<f32>() < 0.12 {
            let zone = if rng.random::<f32>() < 0.5 {
                Zone::Upper
            } else {
                Zone::Lower
            };
            f.consolidation = Some((side(rng), zone));
        }
        f.edema = rng.random::<f32>() < 0.1;
        if rng.random::<f32>() < 0.1 {
            f.atelectasis = match rng.random_range(0..3) {
                0 => vec![Side::Right],
                1 => vec![Side::Left],
                _ => vec![Side::Right, Side::Left],
            };
        }
        for (p, d) in [
            (0.1, Device::EndotrachealTube),
            (0.1, Device::NasogastricTube),
            (0.06, Device::CentralLine(Side::Right)),
            (0.03, Device::CentralLine(Side::Left)),
            (0.03, Device::Picc(Side::Right)),
            (0.03, Device::Picc(Side::Left)),
            (0.06, Device::Pacemaker),
        ] {
            if rng.random::<f32>() < p {
                f.devices.push(d);
            }
        }
        f
    }
}

/// The patient and the exposure, in fractions of the image side.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Anatomy {
    /// Midline (spine) x.
    pub cx: f32,
    /// Rotation about the image centre, radians.
    pub tilt: f32,
    /// Half the inner width of the rib cage at its widest.
    pub half_width: f32,
    /// Lung apices' y.
    pub apex_y: f32,
    /// Hemidiaphragm dome tops' y (right, left); deeper inspiration = lower.
    pub dome_y: [f32; 2],
    /// Heart width over rib cage width (cardiothoracic ratio).
    pub ctr: f32,
    /// Heart's lower border y.
    pub heart_base_y: f32,
    /// Soft-tissue half-width beyond the ribs.
    pub soft_tissue: f32,
    /// Overall film density and contrast.
    pub exposure: f32,
    pub contrast: f32,
    /// Quantum noise amplitude.
    pub noise: f32,
    /// Seed of the vessel trees and other fine structure.
    pub detail_seed: u64,
}

impl Anatomy {
    pub fn sample(rng: &mut impl Rng, cardiomegaly: bool) -> Self {
        let half_width = rng.random_range(0.33..0.38);
        let apex_y = rng.random_range(0.11..0.16);
        let right_dome = rng.random_range(0.66..0.74);
        Anatomy {
            cx: 0.5 + rng.random_range(-0.015..0.015),
            tilt: rng.random_range(-0.035..0.035),
            half_width,
            apex_y,
            dome_y: [right_dome, right_dome + rng.random_range(0.01..0.035)],
            ctr: if cardiomegaly {
                rng.random_range(0.58..0.66)
            } else {
                rng.random_range(0.39..0.47)
            },
            heart_base_y: right_dome + rng.random_range(0.0..0.02),
            soft_tissue: rng.random_range(0.04..0.08),
            exposure: rng.random_range(0.9..1.1),
            contrast: rng.random_range(0.9..1.1),
            noise: rng.random_range(0.008..0.02),
            detail_seed: rng.random(),
        }
    }
}

/// Anatomy and findings: everything a phantom is drawn from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Study {
    pub anatomy: Anatomy,
    pub findings: Findings,
}

impl Study {
    pub fn sample(rng: &mut impl Rng) -> Self {
        let findings = Findings::sample(rng);
        Study {
            anatomy: Anatomy::sample(rng, findings.cardiomegaly),
            findings,
        }
    }
}
