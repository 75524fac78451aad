//! diffusers folder -> manifest + shards.
//!
//! Naming variants are fixed here, once, never at run time: old VAE attention
//! names (`query/key/value/proj_attn`) become `to_q/to_k/to_v/to_out.0`, and
//! 1x1-convolution attention weights become linear ones. Only what
//! text-to-image needs is kept: no safety checker, no VAE encoder unless asked.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::torch_bin::BinTensor;
use anyhow::{Context, bail};
use half::{bf16, f16};
use roentgen_weights::TensorDType;
use roentgen_weights::folder::write_dir;
use roentgen_weights::writer::ShardWriter;
use safetensors::{Dtype, SafeTensors};

/// The components a text-to-image pipeline loads, in loading order.
pub const COMPONENTS: [&str; 3] = ["text_encoder", "unet", "vae"];

#[derive(Clone, Debug)]
pub struct ConvertOptions {
    pub dtype: TensorDType,
    pub shard_bytes: u64,
    pub keep_encoder: bool,
}

/// What went into one component.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ComponentSummary {
    pub tensors: usize,
    pub parameters: usize,
    pub bytes: u64,
    /// Non-float buffers such as `position_ids`, dropped.
    pub skipped: Vec<String>,
}

/// The diffusers name as this project stores it, or None to drop the tensor.
pub fn normalize_name(component: &str, name: &str, keep_encoder: bool) -> Option<String> {
    if component == "vae"
        && !keep_encoder
        && (name.starts_with("encoder.") || name.starts_with("quant_conv."))
    {
        return None;
    }
    let mut n = name.to_string();
    // transformers 4 saves CLIPTextModel under `text_model.`; transformers 5
    // without it. One spelling in our format: without.
    if component == "text_encoder"
        && let Some(rest) = n.strip_prefix("text_model.")
    {
        n = rest.to_string();
    }
    if component == "vae" && n.contains(".attentions.") {
        for (old, new) in [
            (".query.", ".to_q."),
            (".key.", ".to_k."),
            (".value.", ".to_v."),
            (".proj_attn.", ".to_out.0."),
        ] {
            n = n.replace(old, new);
        }
    }
    Some(format!("{component}.{n}"))
}

/// Attention projections saved as 1x1 convolutions become linear weights.
fn normalize_shape(name: &str, shape: &[usize]) -> Vec<usize> {
    let is_attn_proj = [
        ".to_q.weight",
        ".to_k.weight",
        ".to_v.weight",
        ".to_out.0.weight",
    ]
    .iter()
    .any(|s| name.ends_with(s));
    if is_attn_proj && shape.len() == 4 && shape[2] == 1 && shape[3] == 1 {
        return shape[..2].to_vec();
    }
    shape.to_vec()
}

fn to_f32(dtype: Dtype, data: &[u8]) -> Option<Vec<f32>> {
    Some(match dtype {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::F16 => data
            .chunks_exact(2)
            .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        Dtype::BF16 => data
            .chunks_exact(2)
            .map(|b| bf16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
            .collect(),
        _ => return None,
    })
}

/// One tensor as stored for a target dtype: (stored dtype, bytes, q8 scales).
/// A q8 conversion keeps what `q8::eligible` rejects in f16.
pub fn encode_tensor(
    name: &str,
    shape: &[usize],
    values: &[f32],
    dtype: TensorDType,
) -> (TensorDType, Vec<u8>, Option<Vec<u8>>) {
    match dtype {
        TensorDType::F32 => (
            dtype,
            values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            None,
        ),
        TensorDType::Q8 if roentgen_weights::q8::eligible(name, shape) => {
            let (q, s) = roentgen_weights::q8::quantize(values, shape[0]);
            (dtype, q, Some(s))
        }
        _ => (
            TensorDType::F16,
            values
                .iter()
                .flat_map(|v| f16::from_f32(*v).to_le_bytes())
                .collect(),
            None,
        ),
    }
}

/// The `.safetensors` files of a component: the plain ones if present, else
/// a variant such as `.fp16.safetensors`.
fn weight_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut all: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
        .collect();
    if all.is_empty() {
        // Older folders: PyTorch checkpoints, read by `torch_bin` (no code runs).
        all = fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "bin"))
            .collect();
    }
    all.sort();
    if all.is_empty() {
        bail!("{} holds no .safetensors or .bin weights", dir.display());
    }
    let plain: Vec<PathBuf> = all
        .iter()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.matches('.').count() == 1)
        })
        .cloned()
        .collect();
    Ok(if plain.is_empty() { all } else { plain })
}

/// Every tensor (f32 values, or None for non-float) in a
/// `.safetensors` or PyTorch `.bin` file, sorted by name.
fn read_tensors(file: &Path) -> anyhow::Result<Vec<BinTensor>> {
    let mut out: Vec<BinTensor> = if file.extension().is_some_and(|e| e == "bin") {
        crate::torch_bin::read(file)?
    } else {
        let bytes = fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        read_safetensors(&bytes).with_context(|| file.display().to_string())?
    };
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Every tensor of a `.safetensors` file's bytes, in header order.
pub fn read_safetensors(bytes: &[u8]) -> anyhow::Result<Vec<BinTensor>> {
    let st = SafeTensors::deserialize(bytes).context("not a safetensors file")?;
    Ok(st
        .tensors()
        .into_iter()
        .map(|(name, view)| BinTensor {
            values: to_f32(view.dtype(), view.data()),
            shape: view.shape().to_vec(),
            name,
        })
        .collect())
}

fn read_json(path: &Path) -> anyhow::Result<serde_json::Value> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

/// Converts `from` (a diffusers folder) into `out`; `progress` hears each file.
pub fn convert(
    from: &Path,
    out: &Path,
    opts: &ConvertOptions,
    mut progress: impl FnMut(&str),
) -> anyhow::Result<BTreeMap<String, ComponentSummary>> {
    let tok_dir = from.join("tokenizer");
    let tokenizer = tok_dir.join("tokenizer.json");
    // The folder's own tokenizer.json where newer tools saved one, else built
    // from the vocab.json + merges.txt every SD v1 folder has.
    let tokenizer_text = if tokenizer.exists() {
        fs::read_to_string(&tokenizer)
            .with_context(|| format!("reading {}", tokenizer.display()))?
    } else {
        let (vocab, merges) = (tok_dir.join("vocab.json"), tok_dir.join("merges.txt"));
        if !vocab.exists() || !merges.exists() {
            bail!(
                "{} has neither tokenizer.json nor vocab.json + merges.txt",
                tok_dir.display()
            );
        }
        let read =
            |p: &Path| fs::read_to_string(p).with_context(|| format!("reading {}", p.display()));
        crate::clip_tokenizer::tokenizer_json(&read(&vocab)?, &read(&merges)?)
            .with_context(|| format!("building tokenizer.json from {}", tok_dir.display()))?
    };
    let mut configs = BTreeMap::new();
    configs.insert(
        "scheduler".to_string(),
        read_json(&from.join("scheduler").join("scheduler_config.json"))?,
    );
    let mut writer = ShardWriter::new(opts.shard_bytes);
    let mut summary = BTreeMap::new();
    for component in COMPONENTS {
        let dir = from.join(component);
        configs.insert(component.to_string(), read_json(&dir.join("config.json"))?);
        let mut s = ComponentSummary::default();
        for file in weight_files(&dir)? {
            progress(&file.display().to_string());
            for BinTensor {
                name,
                shape: source_shape,
                values,
            } in read_tensors(&file)?
            {
                let Some(stored) = normalize_name(component, &name, opts.keep_encoder) else {
                    continue;
                };
                let Some(values) = values else {
                    s.skipped.push(name);
                    continue;
                };
                let shape = normalize_shape(&stored, &source_shape);
                let (dtype, data, scales) = encode_tensor(&stored, &shape, &values, opts.dtype);
                s.tensors += 1;
                s.parameters += values.len();
                s.bytes += (data.len() + scales.as_ref().map_or(0, Vec::len)) as u64;
                writer.add(&stored, dtype, &shape, &data, scales.as_deref())?;
            }
        }
        summary.insert(component.to_string(), s);
    }
    let (manifest, shards) = writer.finish("sd-v1-txt2img", configs, "tokenizer.json")?;
    write_dir(out, &manifest, &shards)?;
    let dest = out.join("tokenizer.json");
    fs::write(&dest, tokenizer_text).with_context(|| format!("writing {}", dest.display()))?;
    Ok(summary)
}
