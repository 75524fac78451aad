//! The reverse of conversion: a table of weights (our names) written as a
//! diffusers folder, the way RoentGen's authors distribute it. Used to make
//! full-size random models that diffusers itself can load (the full-size
//! golden) and realistic inputs for the converter's own tests.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use half::{bf16, f16};
use safetensors::{Dtype, View};
use serde_json::{Value, json};

use crate::error::{ConvertError, Result};

/// How the folder spells things.
#[derive(Clone, Copy, Debug)]
pub struct LayoutOptions {
    /// F32, F16 or BF16.
    pub dtype: Dtype,
    /// Old VAE attention names (`query`, `proj_attn`) with 1x1-conv shapes,
    /// as diffusers < 0.14 saved them.
    pub old_vae_attention: bool,
}

/// A tensor whose bytes are made only when the safetensors writer asks, so
/// a 3.4 GB UNet file is written with one tensor in memory.
struct Lazy<'f> {
    dtype: Dtype,
    shape: Vec<usize>,
    make: Box<dyn Fn() -> Vec<f32> + 'f>,
}

impl View for Lazy<'_> {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        let v = (self.make)();
        Cow::Owned(match self.dtype {
            Dtype::F16 => v
                .iter()
                .flat_map(|x| f16::from_f32(*x).to_le_bytes())
                .collect(),
            Dtype::BF16 => v
                .iter()
                .flat_map(|x| bf16::from_f32(*x).to_le_bytes())
                .collect(),
            _ => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        })
    }
    fn data_len(&self) -> usize {
        self.shape.iter().product::<usize>() * self.dtype.bitsize() / 8
    }
}

/// Our stored name -> the component, its diffusers name and shape.
fn diffusers_name(ours: &str, shape: &[usize], o: LayoutOptions) -> (String, String, Vec<usize>) {
    let (component, rest) = ours.split_once('.').expect("component.name");
    let mut name = rest.to_string();
    let mut shape = shape.to_vec();
    if component == "text_encoder" {
        name = format!("text_model.{name}");
    }
    if component == "vae" && o.old_vae_attention && name.contains(".attentions.") {
        for (new, old) in [
            (".to_q.", ".query."),
            (".to_k.", ".key."),
            (".to_v.", ".value."),
            (".to_out.0.", ".proj_attn."),
        ] {
            name = name.replace(new, old);
        }
        if name.ends_with(".weight") && shape.len() == 2 {
            shape.extend([1, 1]);
        }
    }
    (component.to_string(), name, shape)
}

/// The weight file each component's tensors go to.
pub fn weight_file(component: &str) -> &'static str {
    match component {
        "text_encoder" => "text_encoder/model.safetensors",
        "unet" => "unet/diffusion_pytorch_model.safetensors",
        _ => "vae/diffusion_pytorch_model.safetensors",
    }
}

/// vocab.json and merges.txt from a CLIP tokenizer.json (what
/// `CLIPTokenizer.from_pretrained` reads).
pub fn vocab_and_merges(tokenizer_json: &str) -> Result<(String, String)> {
    let bad = |what: &str| ConvertError::malformed("tokenizer.json", what);
    let t: Value = serde_json::from_str(tokenizer_json).map_err(|_| bad("not JSON"))?;
    let vocab = t["model"]["vocab"].clone();
    if !vocab.is_object() {
        return Err(bad("no BPE vocab"));
    }
    let mut merges = String::from("#version: 0.2\n");
    for m in t["model"]["merges"]
        .as_array()
        .ok_or_else(|| bad("no merges"))?
    {
        match m {
            Value::String(s) => merges += s,
            Value::Array(pair) => {
                let parts: Vec<&str> = pair.iter().filter_map(Value::as_str).collect();
                merges += &parts.join(" ");
            }
            _ => return Err(bad("a merge is neither a string nor a pair")),
        }
        merges.push('\n');
    }
    Ok((
        serde_json::to_string(&vocab).expect("a JSON value serializes"),
        merges,
    ))
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).expect("a JSON value serializes")
}

/// Writes `table` (our names and shapes, `values(i)` the f32 values of entry
/// i) with `configs` (text_encoder, unet, vae, scheduler) and a CLIP
/// tokenizer.json as a diffusers folder in `out`.
pub fn write(
    out: &Path,
    table: &[(String, Vec<usize>)],
    values: &(dyn Fn(usize) -> Vec<f32> + Sync),
    configs: &BTreeMap<String, Value>,
    tokenizer_json: &str,
    o: LayoutOptions,
) -> Result<()> {
    let mk = |d: &Path| std::fs::create_dir_all(d).map_err(ConvertError::at(d));
    let write_text = |p: &Path, text: &str| std::fs::write(p, text).map_err(ConvertError::at(p));
    for c in ["text_encoder", "unet", "vae", "scheduler", "tokenizer"] {
        mk(&out.join(c))?;
    }
    let config = |k: &str| {
        configs
            .get(k)
            .ok_or_else(|| ConvertError::malformed("the configs", format!("no {k} config")))
    };
    for c in ["text_encoder", "unet", "vae"] {
        write_text(&out.join(c).join("config.json"), &pretty(config(c)?))?;
    }
    write_text(
        &out.join("scheduler/scheduler_config.json"),
        &pretty(config("scheduler")?),
    )?;
    write_text(
        &out.join("model_index.json"),
        &pretty(&json!({
            "_class_name": "StableDiffusionPipeline",
            "_diffusers_version": "0.30.0",
            "feature_extractor": [null, null],
            "requires_safety_checker": false,
            "safety_checker": [null, null],
            "scheduler": ["diffusers", config("scheduler")?["_class_name"].as_str().unwrap_or("PNDMScheduler")],
            "text_encoder": ["transformers", "CLIPTextModel"],
            "tokenizer": ["transformers", "CLIPTokenizer"],
            "unet": ["diffusers", "UNet2DConditionModel"],
            "vae": ["diffusers", "AutoencoderKL"],
        })),
    )?;
    let (vocab, merges) = vocab_and_merges(tokenizer_json)?;
    write_text(&out.join("tokenizer/vocab.json"), &vocab)?;
    write_text(&out.join("tokenizer/merges.txt"), &merges)?;
    write_text(&out.join("tokenizer/tokenizer.json"), tokenizer_json)?;
    // The padding the tokenizer names (SD 2.x: "!"), as transformers reads it.
    let pad = serde_json::from_str::<Value>(tokenizer_json)
        .ok()
        .and_then(|t| t.pointer("/padding/pad_token")?.as_str().map(String::from))
        .unwrap_or_else(|| "<|endoftext|>".into());
    write_text(
        &out.join("tokenizer/tokenizer_config.json"),
        &json!({"model_max_length": 77, "tokenizer_class": "CLIPTokenizer",
                "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": pad,
                "unk_token": "<|endoftext|>", "do_lower_case": true})
        .to_string(),
    )?;
    for component in ["text_encoder", "unet", "vae"] {
        let tensors: Vec<(String, Lazy)> = table
            .iter()
            .enumerate()
            .filter(|(_, (n, _))| n.split('.').next() == Some(component))
            .map(|(i, (n, shape))| {
                let (_, name, shape) = diffusers_name(n, shape, o);
                (
                    name,
                    Lazy {
                        dtype: o.dtype,
                        shape,
                        make: Box::new(move || values(i)),
                    },
                )
            })
            .collect();
        let path = out.join(weight_file(component));
        safetensors::serialize_to_file(tensors, None, &path).map_err(ConvertError::at(&path))?;
    }
    Ok(())
}
