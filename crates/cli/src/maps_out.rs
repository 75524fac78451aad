//! `--attention-maps DIR`: where the model put each word of the prompt, as a
//! heat overlay on the image per word (NN-word.png) and the numbers behind
//! them (maps.json: each word's mean map over the steps on the latent grid,
//! its peak, how its mass splits between the image's left and right halves,
//! and its total per step).

use std::path::Path;

use anyhow::Context;
use roentgen_model::Output;
use roentgen_model::attention_maps::{AttentionMaps, overlay_rgb8};
use serde_json::json;

/// A word as a file-name part: letters and digits, the rest as '-'.
fn slug(word: &str) -> String {
    let s: String = word
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '-' })
        .collect();
    let s = s.trim_matches('-').to_string();
    if s.is_empty() { "word".into() } else { s }
}

/// (left, right) halves' share of a map's mass, by image column.
pub fn halves(map: &[f32], (h, w): (usize, usize)) -> (f32, f32) {
    let (mut l, mut r) = (0.0, 0.0);
    for y in 0..h {
        for x in 0..w {
            let v = map[y * w + x];
            if x < w / 2 {
                l += v;
            } else {
                r += v;
            }
        }
    }
    let t = (l + r).max(1e-12);
    (l / t, r / t)
}

pub fn write(dir: &Path, out: &Output, maps: &AttentionMaps) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let rgb = out.rgb8();
    let (h, w) = maps.latent_hw;
    let mut words = Vec::new();
    for (i, (word, mean)) in maps.words.iter().zip(&maps.mean).enumerate() {
        let file = format!("{i:02}-{}.png", slug(&word.text));
        let over = overlay_rgb8(&rgb, (out.width, out.height), mean, maps.latent_hw);
        let png = roentgen_model::png::encode_rgb8(
            out.width,
            out.height,
            &over,
            &[
                ("word", word.text.clone()),
                (
                    "Comment",
                    "cross-attention map over a synthetic image — not for diagnosis".into(),
                ),
            ],
        )
        .map_err(anyhow::Error::msg)?;
        std::fs::write(dir.join(&file), png).with_context(|| format!("writing {file}"))?;
        let peak = mean
            .iter()
            .enumerate()
            .fold((0, f32::MIN), |a, (j, &v)| if v > a.1 { (j, v) } else { a })
            .0;
        let (left, right) = halves(mean, maps.latent_hw);
        words.push(json!({
            "word": word.text,
            "tokens": word.tokens,
            "file": file,
            "peak": [peak / w, peak % w],
            "image_left_half": left,
            "image_right_half": right,
            "mass_per_step": maps.steps.iter().map(|s| s[i].iter().sum::<f32>() / (h * w) as f32).collect::<Vec<_>>(),
            "mean": mean,
        }));
    }
    let doc = json!({
        "what": "per word of the prompt: the cross-attention probability of its tokens at each latent pixel, averaged over heads, over every cross-attention layer (upsampled to the latent grid) and over the steps; row-major",
        "latent_hw": [h, w],
        "image_hw": [out.height, out.width],
        "steps": maps.steps.len(),
        "words": words,
    });
    std::fs::write(dir.join("maps.json"), serde_json::to_vec_pretty(&doc)?)
        .with_context(|| format!("writing {}", dir.join("maps.json").display()))?;
    Ok(())
}
