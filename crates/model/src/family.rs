//! Which Stable Diffusion family a model's configs describe. SD 2.x (and
//! RoentGen-v2, fine-tuned from SD 2.1-base) swapped CLIP ViT-L/14 for
//! OpenCLIP ViT-H (a `gelu` text encoder, 1024 wide) and the transformers'
//! convolution projections for linear ones; the graph follows the configs
//! either way, so this names the family for people (the page's model note,
//! the manifest's `model_kind`) and decides nothing in the graph.

use crate::config::{TextConfig, UnetConfig};
use crate::scheduler::{Prediction, SchedulerConfig};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// SD v1.x: RoentGen, the demo model.
    Sd1,
    /// SD 2.x: RoentGen-v2 (from SD 2.1-base), SD 2.1 at 768.
    Sd2,
}

impl Family {
    pub fn of(text: &TextConfig, unet: &UnetConfig) -> Self {
        if text.hidden_act == "gelu" || unet.use_linear_projection {
            Family::Sd2
        } else {
            Family::Sd1
        }
    }

    /// The manifest's `model_kind`.
    pub fn model_kind(self) -> &'static str {
        match self {
            Family::Sd1 => "sd-v1-txt2img",
            Family::Sd2 => "sd-v2-txt2img",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Family::Sd1 => "Stable Diffusion 1.x",
            Family::Sd2 => "Stable Diffusion 2.x",
        }
    }
}

/// One line for people: family, text encoder, native size, what the UNet
/// predicts ("Stable Diffusion 2.x: 1024-wide text encoder (23 layers),
/// 768x768, v-prediction").
pub fn describe(
    text: &TextConfig,
    unet: &UnetConfig,
    scheduler: &SchedulerConfig,
    side: usize,
) -> String {
    let prediction = match scheduler.prediction() {
        Some(Prediction::V) => "v-prediction",
        _ => "epsilon-prediction",
    };
    format!(
        "{}: {}-wide text encoder ({} layers), {side}x{side}, {prediction}",
        Family::of(text, unet).name(),
        text.hidden_size,
        text.num_hidden_layers
    )
}
