//! `weights-tools random`: a model of a known architecture with random
//! weights, for benchmarks, memory plans and load tests without the gated
//! weights. The tensor table comes from the configs (`roentgen_model::arch`),
//! so it is exactly what a converted real model of that architecture holds.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use roentgen_model::arch;
use roentgen_model::config::{TextConfig, UnetConfig, VaeConfig};
use roentgen_model::noise::gaussian;
use roentgen_weights::TensorDType;
use roentgen_weights::folder::write_dir;
use roentgen_weights::writer::ShardWriter;
use serde_json::Value;

/// Padding an architecture's tokenizer uses: SD 2.x pads with "!", SD v1
/// with `<|endoftext|>` (see `roentgen_convert::clip_tokenizer::pad_token`).
pub fn pad_token(configs: &BTreeMap<String, Value>) -> anyhow::Result<&'static str> {
    let spec = roentgen_model::Spec::from_configs(configs)?;
    Ok(match spec.family() {
        roentgen_model::Family::Sd1 => "<|endoftext|>",
        roentgen_model::Family::Sd2 => "!",
    })
}

/// `tokenizer_json` with the padding of the family `configs` describe (as a
/// converted folder of that family has it); `name` is where it came from.
pub fn family_tokenizer(
    configs: &BTreeMap<String, Value>,
    tokenizer_json: &str,
    name: &str,
) -> anyhow::Result<String> {
    Ok(roentgen_convert::clip_tokenizer::with_padding(
        tokenizer_json,
        pad_token(configs)?,
        name,
    )?)
}

/// The configs of a named architecture: runwayml/stable-diffusion-v1-5's,
/// verbatim (RoentGen fine-tuned that model, so it shares them), and
/// stabilityai/stable-diffusion-2-1-base's (RoentGen-v2's base) and
/// stable-diffusion-2-1's (768x768, v-prediction), with the fields that
/// shape the graph as those repositories publish them (diffusers builds
/// 865,910,724 UNet and 340,387,840 text-encoder parameters from them, the
/// published SD 2 counts).
pub fn arch_configs(name: &str) -> anyhow::Result<BTreeMap<String, Value>> {
    macro_rules! arch {
        ($dir:literal) => {
            [
                (
                    "text_encoder",
                    include_str!(concat!("../configs/", $dir, "/text_encoder.json")),
                ),
                (
                    "unet",
                    include_str!(concat!("../configs/", $dir, "/unet.json")),
                ),
                (
                    "vae",
                    include_str!(concat!("../configs/", $dir, "/vae.json")),
                ),
                (
                    "scheduler",
                    include_str!(concat!("../configs/", $dir, "/scheduler.json")),
                ),
            ]
        };
    }
    let files: [(&str, &str); 4] = match name {
        "sd-2.1-base" => arch!("sd-2.1-base"),
        "sd-2.1" => arch!("sd-2.1"),
        "sd-v1.5" => [
            (
                "text_encoder",
                include_str!("../configs/sd-v1.5/text_encoder.json"),
            ),
            ("unet", include_str!("../configs/sd-v1.5/unet.json")),
            ("vae", include_str!("../configs/sd-v1.5/vae.json")),
            (
                "scheduler",
                include_str!("../configs/sd-v1.5/scheduler.json"),
            ),
        ],
        other => bail!("unknown architecture {other:?} (known: sd-v1.5, sd-2.1-base, sd-2.1)"),
    };
    files
        .into_iter()
        .map(|(k, text)| Ok((k.to_string(), serde_json::from_str(text)?)))
        .collect()
}

/// The whole tensor table the configs describe.
pub fn table(configs: &BTreeMap<String, Value>) -> anyhow::Result<arch::Table> {
    let get = |k: &str| configs.get(k).with_context(|| format!("no {k} config"));
    Ok(arch::expected(
        &TextConfig::from_json(get("text_encoder")?)?,
        &UnetConfig::from_json(get("unet")?)?,
        &VaeConfig::from_json(get("vae")?)?,
    ))
}

/// A trained UNet predicts noise of unit variance; with PyTorch's init scale
/// everywhere, the full-size random UNet predicts noise of std 0.597 (at
/// t=981 on N(0,1) latents, measured by tests/goldens/full_size.py, which
/// prints it), and sampled latents drift out of any realistic range. Its
/// output convolution is scaled by this gain so the prediction has std ~1.
const EPS_GAIN: f32 = 1.0 / 0.597;

/// Values for one tensor: norm scales 1, biases 0, embeddings N(0, 0.02),
/// other weights N(0, 1/fan_in) (PyTorch's default init has that scale).
fn values(name: &str, shape: &[usize], seed: u64) -> Vec<f32> {
    let n: usize = shape.iter().product();
    if shape.len() == 1 {
        let one = name.ends_with(".weight");
        return vec![if one { 1.0 } else { 0.0 }; n];
    }
    let std = if name.contains("embedding") {
        0.02
    } else if name == "unet.conv_out.weight" {
        EPS_GAIN / (shape[1..].iter().product::<usize>() as f32).sqrt()
    } else {
        1.0 / (shape[1..].iter().product::<usize>() as f32).sqrt()
    };
    let mut v = gaussian(seed, n);
    v.iter_mut().for_each(|x| *x *= std);
    v
}

/// The values of entry `i` of `table` for `seed`: the same in either layout.
fn tensor_values(table: &arch::Table, i: usize, seed: u64) -> Vec<f32> {
    let (name, shape) = &table[i];
    values(
        name,
        shape,
        seed.wrapping_mul(0x1_0000_0001).wrapping_add(i as u64),
    )
}

/// Writes the same random model as `write_random` (same seed, same values)
/// as a diffusers folder, stored as `dtype` (F32, F16 or BF16): what
/// diffusers loads for the full-size golden, and what the converter (here
/// and in the page) takes as RoentGen's own folder.
pub fn write_random_diffusers(
    configs: BTreeMap<String, Value>,
    tokenizer_json: &str,
    out: &Path,
    dtype: safetensors::Dtype,
    seed: u64,
) -> anyhow::Result<()> {
    let table = table(&configs)?;
    roentgen_convert::diffusers_layout::write(
        out,
        &table,
        &|i| tensor_values(&table, i, seed),
        &configs,
        tokenizer_json,
        roentgen_convert::diffusers_layout::LayoutOptions {
            dtype,
            old_vae_attention: false,
        },
    )?;
    Ok(())
}

/// Writes a random model of `configs` to `out`; `progress(done, total)` in tensors.
/// Returns (tensors, parameters, bytes) per component.
pub fn write_random(
    configs: BTreeMap<String, Value>,
    tokenizer_json: &[u8],
    out: &Path,
    dtype: TensorDType,
    shard_bytes: u64,
    seed: u64,
    mut progress: impl FnMut(usize, usize),
) -> anyhow::Result<BTreeMap<String, (usize, usize, u64)>> {
    let table = table(&configs)?;
    let mut writer = ShardWriter::new(shard_bytes);
    let mut summary: BTreeMap<String, (usize, usize, u64)> = BTreeMap::new();
    for (i, (name, shape)) in table.iter().enumerate() {
        let v = tensor_values(&table, i, seed);
        let (stored, bytes, scales) = roentgen_convert::encode_tensor(name, shape, &v, dtype);
        let s = summary
            .entry(name.split('.').next().unwrap_or("").to_string())
            .or_default();
        s.0 += 1;
        s.1 += v.len();
        s.2 += (bytes.len() + scales.as_ref().map_or(0, Vec::len)) as u64;
        writer.add(name, stored, shape, &bytes, scales.as_deref())?;
        progress(i + 1, table.len());
    }
    let kind = roentgen_model::Spec::from_configs(&configs)?
        .family()
        .model_kind();
    let (manifest, shards) = writer.finish(kind, configs, "tokenizer.json")?;
    write_dir(out, &manifest, &shards)?;
    let dest = out.join("tokenizer.json");
    std::fs::write(&dest, tokenizer_json).with_context(|| format!("writing {}", dest.display()))?;
    Ok(summary)
}
