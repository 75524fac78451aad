//! diffusers folder -> manifest + shards, a tensor at a time.
//!
//! [`Converter::new`] reads the small files (configs, tokenizer) and refuses
//! a folder that is not a text-to-image model this project builds, before
//! any weight is read; each [`Converter::step`] converts one tensor and
//! hands out the shards that closed; [`Converter::finish`] checks the table
//! is complete and returns the manifest. Only what text-to-image needs is
//! kept: no safety checker, no VAE encoder unless asked.

use std::collections::BTreeMap;

use half::f16;
use roentgen_model::spec::Spec;
use roentgen_weights::TensorDType;
use roentgen_weights::manifest::Manifest;
use roentgen_weights::writer::{ALIGN, ShardFiles, ShardWriter};

use crate::error::{ConvertError, Result};
use crate::folder::{Folder, ReadSeek, read_small};
use crate::names::{normalize_name, normalize_shape};
use crate::tensor_file::TensorFile;

/// The components a text-to-image pipeline loads, in loading order.
pub const COMPONENTS: [&str; 3] = ["text_encoder", "unet", "vae"];

#[derive(Clone, Debug)]
pub struct ConvertOptions {
    pub dtype: TensorDType,
    pub shard_bytes: u64,
    /// Keep the VAE encoder (image-to-image); the default. Dropping it
    /// saves 34 M parameters at SD v1's size (68 MB in f16).
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

/// How far a conversion is, in bytes of weight files.
#[derive(Clone, Debug, PartialEq)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
    /// The weight file being read (relative path).
    pub file: String,
}

/// What a finished conversion hands over besides the shards it handed out
/// along the way.
pub struct Converted {
    pub manifest: Manifest,
    /// The shards not handed out yet (the last ones).
    pub shards: ShardFiles,
    /// tokenizer.json's text, saved beside the manifest.
    pub tokenizer: String,
    pub summary: BTreeMap<String, ComponentSummary>,
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

/// Bytes a table takes stored as `dtype` (with alignment): what a
/// conversion will write, known before it starts.
pub fn stored_bytes(table: &[(String, Vec<usize>)], dtype: TensorDType) -> u64 {
    let pad = |n: u64| n.div_ceil(ALIGN) * ALIGN;
    table
        .iter()
        .map(|(name, shape)| {
            let n = shape.iter().product::<usize>() as u64;
            match dtype {
                TensorDType::F32 => pad(4 * n),
                TensorDType::Q8 if roentgen_weights::q8::eligible(name, shape) => {
                    pad(n) + pad(2 * shape[0] as u64)
                }
                _ => pad(2 * n),
            }
        })
        .sum()
}

/// The weight files of one component: `.safetensors` if there are any, else
/// PyTorch `.bin`; the plain ones when a variant (`.fp16.safetensors`) sits
/// beside them.
fn weight_files(files: &[(String, u64)], component: &str) -> Vec<(String, u64)> {
    let prefix = format!("{component}/");
    let of = |ext: &str| -> Vec<(String, u64)> {
        files
            .iter()
            .filter(|(p, _)| {
                p.strip_prefix(&prefix)
                    .is_some_and(|rest| !rest.contains('/') && rest.ends_with(ext))
            })
            .cloned()
            .collect()
    };
    let mut all = of(".safetensors");
    if all.is_empty() {
        all = of(".bin");
    }
    let plain: Vec<(String, u64)> = all
        .iter()
        .filter(|(p, _)| p[prefix.len()..].matches('.').count() == 1)
        .cloned()
        .collect();
    if plain.is_empty() { all } else { plain }
}

/// A conversion in progress.
pub struct Converter<'a> {
    folder: &'a dyn Folder,
    opts: ConvertOptions,
    spec: Spec,
    expected: BTreeMap<String, Vec<usize>>,
    configs: BTreeMap<String, serde_json::Value>,
    tokenizer: String,
    /// (component, relative path, size), in loading order.
    files: Vec<(&'static str, String, u64)>,
    /// How many of `files` were opened.
    opened: usize,
    open: Option<(TensorFile<Box<dyn ReadSeek + 'a>>, usize)>,
    writer: ShardWriter,
    written: Vec<(String, Vec<usize>)>,
    summary: BTreeMap<String, ComponentSummary>,
    done_files: u64,
    done_in_file: u64,
}

/// Refuses, naming it, a folder of another family than SD 1.x/2.x: what
/// its `model_index.json` says it is (SDXL, SD 3, ...), or a LoRA alone;
/// otherwise a missing file or an unsupported config field would be the
/// first thing the user reads.
fn other_family(files: &[(String, u64)], text: &dyn Fn(&str) -> Result<String>) -> Result<()> {
    let has = |p: &str| files.iter().any(|(f, _)| f == p);
    if has("model_index.json") {
        let index: serde_json::Value = serde_json::from_str(&text("model_index.json")?)
            .map_err(|e| ConvertError::malformed("model_index.json", format!("not JSON: {e}")))?;
        let class = index
            .get("_class_name")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("");
        let what = match class {
            c if c.starts_with("StableDiffusionXL") => {
                "an SDXL pipeline (two text encoders, a larger UNet at 1024x1024)"
            }
            c if c.starts_with("StableDiffusion3") => {
                "a Stable Diffusion 3 pipeline (a transformer, not a UNet)"
            }
            c if c.starts_with("Flux") => "a FLUX pipeline (a transformer, not a UNet)",
            c if c.starts_with("StableCascade") || c.starts_with("Wuerstchen") => {
                "a Stable Cascade pipeline"
            }
            c if c.starts_with("Kandinsky") || c.starts_with("PixArt") || c.starts_with("Sana") => {
                "another family's pipeline"
            }
            _ => return Ok(()),
        };
        return Err(ConvertError::OtherFamily {
            what: format!("model_index.json names {class:?}: {what}"),
        });
    }
    // No pipeline index and no UNet config, but a LoRA's weights file.
    let lora = files.iter().find(|(f, _)| {
        let name = f.rsplit('/').next().unwrap_or(f).to_ascii_lowercase();
        name.contains("lora") && (name.ends_with(".safetensors") || name.ends_with(".bin"))
    });
    if let (Some((f, _)), false) = (lora, has("unet/config.json")) {
        return Err(ConvertError::OtherFamily {
            what: format!(
                "{f} is a LoRA (weights that adapt a model), not a model: convert the model it \
                 was trained on"
            ),
        });
    }
    Ok(())
}

impl<'a> Converter<'a> {
    /// Reads the folder's configs and tokenizer and lists its weight files;
    /// refuses, naming what is wrong, a folder this project cannot run.
    pub fn new(folder: &'a dyn Folder, opts: ConvertOptions) -> Result<Self> {
        let files = folder.files()?;
        let size = |p: &str| files.iter().find(|(f, _)| f == p).map(|(_, s)| *s);
        let small = |p: &str| -> Result<Vec<u8>> {
            let s = size(p).ok_or_else(|| ConvertError::Missing {
                path: folder.describe(p),
            })?;
            read_small(folder, p, s)
        };
        let text = |p: &str| -> Result<String> {
            String::from_utf8(small(p)?)
                .map_err(|_| ConvertError::malformed(folder.describe(p), "not UTF-8 text"))
        };
        other_family(&files, &text)?;
        // The folder's own tokenizer.json where newer tools saved one, else
        // built from the vocab.json + merges.txt every SD v1 folder has.
        let tokenizer = if size("tokenizer/tokenizer.json").is_some() {
            text("tokenizer/tokenizer.json")?
        } else if size("tokenizer/vocab.json").is_some() && size("tokenizer/merges.txt").is_some() {
            crate::clip_tokenizer::tokenizer_json(
                &text("tokenizer/vocab.json")?,
                &text("tokenizer/merges.txt")?,
                &folder.describe("tokenizer"),
            )?
        } else {
            return Err(ConvertError::NoTokenizer {
                dir: folder.describe("tokenizer"),
            });
        };
        // Padding as transformers' CLIPTokenizer reads it from the folder
        // (SD 2.x pads with "!", not SD v1's <|endoftext|>).
        let optional = |p: &str| -> Result<Option<String>> {
            match size(p) {
                Some(_) => text(p).map(Some),
                None => Ok(None),
            }
        };
        let dir = folder.describe("tokenizer");
        let pad = crate::clip_tokenizer::pad_token(
            optional("tokenizer/special_tokens_map.json")?.as_deref(),
            optional("tokenizer/tokenizer_config.json")?.as_deref(),
            &dir,
        )?;
        let tokenizer = crate::clip_tokenizer::with_padding(&tokenizer, &pad, &dir)?;
        let json = |p: &str| -> Result<serde_json::Value> {
            serde_json::from_str(&text(p)?)
                .map_err(|e| ConvertError::malformed(folder.describe(p), format!("not JSON: {e}")))
        };
        let mut configs = BTreeMap::new();
        configs.insert(
            "scheduler".to_string(),
            json("scheduler/scheduler_config.json")?,
        );
        let mut weight_list = Vec::new();
        for component in COMPONENTS {
            configs.insert(
                component.to_string(),
                json(&format!("{component}/config.json"))?,
            );
            let found = weight_files(&files, component);
            if found.is_empty() {
                return Err(ConvertError::NoWeights {
                    dir: folder.describe(component),
                });
            }
            weight_list.extend(found.into_iter().map(|(p, s)| (component, p, s)));
        }
        let spec = Spec::from_configs(&configs).map_err(|why| ConvertError::Unsupported { why })?;
        let expected = spec.full_table(opts.keep_encoder).into_iter().collect();
        Ok(Self {
            folder,
            writer: ShardWriter::new(opts.shard_bytes),
            opts,
            spec,
            expected,
            configs,
            tokenizer,
            files: weight_list,
            opened: 0,
            open: None,
            written: Vec::new(),
            summary: BTreeMap::new(),
            done_files: 0,
            done_in_file: 0,
        })
    }

    /// Bytes the converted model will take (without the VAE encoder).
    pub fn output_bytes(&self) -> u64 {
        stored_bytes(&self.spec.table(), self.opts.dtype)
    }

    /// The weight files that will be read, with their sizes.
    pub fn weight_files(&self) -> impl Iterator<Item = (&str, u64)> {
        self.files.iter().map(|(_, p, s)| (p.as_str(), *s))
    }

    pub fn progress(&self) -> Progress {
        let total = self.files.iter().map(|f| f.2).sum();
        let file = self
            .opened
            .checked_sub(1)
            .map(|i| self.files[i].1.clone())
            .unwrap_or_default();
        Progress {
            done: (self.done_files + self.done_in_file).min(total),
            total,
            file,
        }
    }

    /// Converts the next tensor and returns the shards that closed (often
    /// none); None once every tensor is done.
    pub fn step(&mut self) -> Result<Option<ShardFiles>> {
        loop {
            if let Some((file, next)) = &mut self.open {
                if *next < file.tensors().len() {
                    let i = *next;
                    *next += 1;
                    let (component, path, _) = &self.files[self.opened - 1];
                    let meta = file.tensors()[i].clone();
                    self.done_in_file += meta.bytes;
                    let Some(stored) =
                        normalize_name(component, &meta.name, self.opts.keep_encoder)
                    else {
                        return Ok(Some(Vec::new()));
                    };
                    let s = self.summary.entry(component.to_string()).or_default();
                    if !meta.float {
                        s.skipped.push(meta.name);
                        return Ok(Some(Vec::new()));
                    }
                    let shape = normalize_shape(&stored, &meta.shape);
                    match self.expected.get(&stored) {
                        None => {
                            return Err(ConvertError::NotInArchitecture {
                                file: self.folder.describe(path),
                                tensor: meta.name,
                                stored,
                            });
                        }
                        Some(want) if *want != shape => {
                            return Err(ConvertError::ShapeMismatch {
                                file: self.folder.describe(path),
                                tensor: meta.name,
                                got: shape,
                                expected: want.clone(),
                            });
                        }
                        _ => {}
                    }
                    let values = file.read(i)?.expect("a float tensor has values");
                    let (dtype, data, scales) =
                        encode_tensor(&stored, &shape, &values, self.opts.dtype);
                    s.tensors += 1;
                    s.parameters += values.len();
                    s.bytes += (data.len() + scales.as_ref().map_or(0, Vec::len)) as u64;
                    drop(values);
                    self.writer
                        .add(&stored, dtype, &shape, &data, scales.as_deref())?;
                    self.written.push((stored, shape));
                    return Ok(Some(self.writer.take_closed()));
                }
                self.open = None;
                self.done_files += self.files[self.opened - 1].2;
                self.done_in_file = 0;
            }
            let Some((_, path, size)) = self.files.get(self.opened) else {
                return Ok(None);
            };
            let reader = self.folder.open(path)?;
            let file = TensorFile::open(reader, &self.folder.describe(path), *size)?;
            self.opened += 1;
            self.open = Some((file, 0));
        }
    }

    /// Checks that every tensor the configs need arrived, and returns the
    /// manifest with the last shards.
    pub fn finish(self) -> Result<Converted> {
        self.spec
            .check_table(self.written.iter().map(|(n, s)| (n.as_str(), s.as_slice())))
            .map_err(|why| ConvertError::Incomplete { why })?;
        let (manifest, shards) = self.writer.finish(
            self.spec.family().model_kind(),
            self.configs,
            "tokenizer.json",
        )?;
        Ok(Converted {
            manifest,
            shards,
            tokenizer: self.tokenizer,
            summary: self.summary,
        })
    }
}

/// Converts the diffusers folder `from` into `out` on disk, writing each
/// shard as it closes; `progress` hears each tensor.
#[cfg(not(target_arch = "wasm32"))]
pub fn convert(
    from: &std::path::Path,
    out: &std::path::Path,
    opts: &ConvertOptions,
    mut progress: impl FnMut(&Progress),
) -> Result<BTreeMap<String, ComponentSummary>> {
    use std::fs;
    let folder = crate::folder::DirFolder(from.to_path_buf());
    let mut conv = Converter::new(&folder, opts.clone())?;
    fs::create_dir_all(out).map_err(ConvertError::at(out))?;
    let write = |(name, bytes): (String, Vec<u8>)| -> Result<()> {
        let path = out.join(&name);
        fs::write(&path, bytes).map_err(ConvertError::at(&path))
    };
    while let Some(shards) = conv.step()? {
        shards.into_iter().try_for_each(write)?;
        progress(&conv.progress());
    }
    let done = conv.finish()?;
    done.shards.into_iter().try_for_each(write)?;
    roentgen_weights::folder::write_dir(out, &done.manifest, &[])?;
    let dest = out.join("tokenizer.json");
    fs::write(&dest, done.tokenizer).map_err(ConvertError::at(&dest))?;
    Ok(done.summary)
}
