//! Every tensor an SD v1 model must have, with its shape: what the modules
//! record while they are built from the configs (`vb`), so the topology is
//! written once, in each module's `build`. The model checks a weight table
//! against it before any work, `weights-tools verify` reports against it, and
//! `weights-tools random` writes exactly it, in this order.

use crate::clip::TextEncoder;
use crate::config::{TextConfig, UnetConfig, VaeConfig};
use crate::unet::Unet;
use crate::vae::{VaeDecoder, VaeEncoder};
use crate::vb::Vb;

/// (name, shape) in table order.
pub type Table = Vec<(String, Vec<usize>)>;

/// The table the modules record while `build` runs under `root`.
fn recorded(root: &str, build: impl FnOnce(&Vb)) -> Table {
    let vb = Vb::root();
    build(&vb.pp(root));
    vb.table()
}

/// transformers' `CLIPTextModel` under `text_encoder.`.
pub fn text_encoder(c: &TextConfig) -> Table {
    recorded("text_encoder", |vb| {
        TextEncoder::build(vb, c.clone());
    })
}

/// diffusers' `UNet2DConditionModel` under `unet.`.
pub fn unet(c: &UnetConfig) -> Table {
    recorded("unet", |vb| {
        Unet::build(vb, c.clone());
    })
}

/// The decoder half of diffusers' `AutoencoderKL` under `vae.`.
pub fn vae_decoder(c: &VaeConfig) -> Table {
    recorded("vae", |vb| {
        VaeDecoder::build(vb, c.clone());
    })
}

/// Whether a stored name belongs to the VAE encoder: optional in a model
/// (image-to-image needs it, text-to-image never runs it), all or none.
pub fn is_vae_encoder(name: &str) -> bool {
    name.starts_with("vae.encoder.") || name.starts_with("vae.quant_conv.")
}

/// The encoder half of diffusers' `AutoencoderKL` under `vae.` (with
/// quant_conv): optional in a model, all or none.
pub fn vae_encoder(c: &VaeConfig) -> Table {
    recorded("vae", |vb| {
        VaeEncoder::build(vb, c.clone());
    })
}

/// The text-to-image model's table (without the optional VAE encoder).
pub fn expected(text: &TextConfig, u: &UnetConfig, v: &VaeConfig) -> Table {
    let mut all = text_encoder(text);
    all.extend(unet(u));
    all.extend(vae_decoder(v));
    all
}

/// Differences between a weight table and the expected one, each naming the
/// tensor: missing, unexpected, or of another shape. Empty when they match.
pub fn compare<'a>(
    expected: &Table,
    actual: impl IntoIterator<Item = (&'a str, &'a [usize])>,
) -> Vec<String> {
    let want: std::collections::HashMap<&str, &[usize]> = expected
        .iter()
        .map(|(n, s)| (n.as_str(), s.as_slice()))
        .collect();
    let mut problems = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (name, shape) in actual {
        seen.insert(name.to_string());
        match want.get(name) {
            None => problems.push(format!("{name}: not part of this architecture")),
            Some(w) if *w != shape => {
                problems.push(format!("{name}: shape {shape:?}, the config needs {w:?}"))
            }
            _ => {}
        }
    }
    for (name, shape) in expected {
        if !seen.contains(name) {
            problems.push(format!("{name}: missing (shape {shape:?})"));
        }
    }
    problems
}
