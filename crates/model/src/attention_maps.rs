//! Where the model puts each word of the prompt: the cross-attention
//! probability of the word's tokens at every latent pixel, averaged over
//! heads and over every cross-attention layer (each upsampled, nearest, from
//! its resolution to the latent grid), per sampler step and over the run.
//! Only the conditional half of a guidance batch is mapped (the negative
//! prompt's maps say nothing about the prompt). The per-layer maps are a
//! kernel of their own (`Backend::attention_maps`); they are summed on the
//! device and read back once per step.

use std::cell::{Cell, RefCell};

use crate::ModelError;
use crate::backend::{Backend, Binary, Unary};
use crate::tokenizer::{ClipTokenizer, Tokens};

/// Collects one step's maps while the UNet runs.
pub struct MapRecorder<B: Backend> {
    latent_hw: (usize, usize),
    /// The batch item whose maps count (1: the prompt in [negative, prompt]).
    item: usize,
    sum: RefCell<Option<B::Tensor>>,
    layers: Cell<usize>,
}

impl<B: Backend> MapRecorder<B> {
    pub fn new(latent_hw: (usize, usize), item: usize) -> Self {
        Self {
            latent_hw,
            item,
            sum: RefCell::new(None),
            layers: Cell::new(0),
        }
    }

    /// Adds one cross-attention layer's maps (`q` of the pixels at grid
    /// `(gh, gw)`, `k` of the text tokens).
    pub fn record(
        &self,
        b: &B,
        q: &B::Tensor,
        k: &B::Tensor,
        heads: usize,
        scale: f32,
        (gh, gw): (usize, usize),
    ) -> Result<(), ModelError> {
        let maps = b.attention_maps(q, k, heads, scale, self.item)?;
        let keys = b.shape(&maps)[0];
        let mut maps = b.reshape(maps, &[1, keys, gh, gw])?;
        let mut size = gh;
        while size < self.latent_hw.0 {
            maps = b.upsample_nearest2x(&maps)?;
            size *= 2;
        }
        if size != self.latent_hw.0 {
            return Err(ModelError::Shape {
                op: "attention maps",
                expected: format!("a grid that doubles up to {:?}", self.latent_hw),
                got: format!("{gh}x{gw}"),
            });
        }
        let mut sum = self.sum.borrow_mut();
        *sum = Some(match sum.take() {
            Some(s) => b.binary(Binary::Add, &s, &maps)?,
            None => maps,
        });
        self.layers.set(self.layers.get() + 1);
        Ok(())
    }

    /// Forgets what was recorded (a profiled step keeps no maps).
    pub fn clear(&self) {
        self.sum.borrow_mut().take();
        self.layers.set(0);
    }

    /// This step's maps averaged over layers, [keys, h, w] values, and a
    /// fresh start for the next step; None when no layer was recorded.
    pub async fn take(&self, b: &B) -> Result<Option<Vec<f32>>, ModelError> {
        let Some(sum) = self.sum.borrow_mut().take() else {
            return Ok(None);
        };
        let layers = self.layers.replace(0).max(1);
        let mean = b.unary(Unary::Scale(1.0 / layers as f32), &sum)?;
        Ok(Some(b.read(&mean).await?))
    }
}

/// One word of the prompt and the token positions (in the 77) it spans.
#[derive(Clone, Debug, PartialEq)]
pub struct Word {
    pub text: String,
    pub tokens: Vec<usize>,
}

/// The prompt's words as CLIP split them: BPE tokens up to the one ending a
/// word (`</w>`), without the start and end tokens or what was cut.
pub fn words(tokenizer: &ClipTokenizer, tokens: &Tokens) -> Vec<Word> {
    let last = tokens.used.min(tokens.ids.len()).saturating_sub(1);
    let mut words = Vec::new();
    let mut current = Vec::new();
    for pos in 1..last {
        current.push(pos);
        let ends = tokenizer
            .token_text(tokens.ids[pos])
            .is_none_or(|t| t.ends_with("</w>"));
        if ends {
            let ids: Vec<u32> = current.iter().map(|&p| tokens.ids[p]).collect();
            words.push(Word {
                text: tokenizer.decode(&ids),
                tokens: std::mem::take(&mut current),
            });
        }
    }
    if !current.is_empty() {
        let ids: Vec<u32> = current.iter().map(|&p| tokens.ids[p]).collect();
        words.push(Word {
            text: tokenizer.decode(&ids),
            tokens: current,
        });
    }
    words
}

/// A run's maps, per word of the prompt.
#[derive(Clone, Debug, PartialEq)]
pub struct AttentionMaps {
    /// (h, w) of every map: the latent grid.
    pub latent_hw: (usize, usize),
    pub words: Vec<Word>,
    /// Per word, the mean over steps of its attention mass at each latent
    /// pixel (row-major, h * w values in [0, 1]).
    pub mean: Vec<Vec<f32>>,
    /// Per step, per word, the same for that step alone.
    pub steps: Vec<Vec<Vec<f32>>>,
}

impl AttentionMaps {
    pub fn new(latent_hw: (usize, usize), words: Vec<Word>) -> Self {
        let plane = latent_hw.0 * latent_hw.1;
        Self {
            mean: vec![vec![0.0; plane]; words.len()],
            latent_hw,
            words,
            steps: Vec::new(),
        }
    }

    /// Adds a step's [keys, h, w] maps: each word's tokens summed.
    pub fn push_step(&mut self, keys_maps: &[f32]) {
        let plane = self.latent_hw.0 * self.latent_hw.1;
        let step: Vec<Vec<f32>> = self
            .words
            .iter()
            .map(|w| {
                let mut m = vec![0.0; plane];
                for &t in &w.tokens {
                    for (acc, v) in m.iter_mut().zip(&keys_maps[t * plane..(t + 1) * plane]) {
                        *acc += v;
                    }
                }
                m
            })
            .collect();
        let n = self.steps.len() as f32 + 1.0;
        for (mean, s) in self.mean.iter_mut().zip(&step) {
            for (a, v) in mean.iter_mut().zip(s) {
                *a += (v - *a) / n;
            }
        }
        self.steps.push(step);
    }
}

/// `rgb` (width x height RGB8) with `map` (a latent-grid map, h * w) laid
/// over it as heat: scaled by its own maximum, nearest-upsampled, red to
/// yellow with opacity 0.7 m^2 (the peaks show, the low floor stays clear).
/// What the CLI writes per word and the page shows when a word is chosen.
pub fn overlay_rgb8(
    rgb: &[u8],
    (width, height): (usize, usize),
    map: &[f32],
    (h, w): (usize, usize),
) -> Vec<u8> {
    let max = map.iter().cloned().fold(0.0f32, f32::max).max(1e-12);
    let mut out = Vec::with_capacity(rgb.len());
    for y in 0..height {
        for x in 0..width {
            let m = map[(y * h / height) * w + x * w / width] / max;
            let a = 0.7 * m.clamp(0.0, 1.0).powi(2);
            let p = &rgb[(y * width + x) * 3..][..3];
            let heat = [255.0, 40.0 + 180.0 * m, 0.0];
            for c in 0..3 {
                out.push((p[c] as f32 * (1.0 - a) + heat[c] * a).round() as u8);
            }
        }
    }
    out
}
