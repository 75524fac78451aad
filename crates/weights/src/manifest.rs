//! `manifest.json`: what a converted weight folder holds and where.
//!
//! One manifest per folder; the tensor table says which shard holds each
//! tensor and where, the shard table says how big each shard is and what its
//! sha256 must be. Tensors never span shards, so each can be written straight
//! from one verified shard into one GPU buffer.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::WeightsError;

/// Bumped on any change a reader of the previous version would misread.
pub const FORMAT_VERSION: u32 = 1;
pub const FORMAT_NAME: &str = "roentgen-weights";

/// Storage type of one tensor in a shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TensorDType {
    F16,
    F32,
    /// int8 values with one f16 scale per output channel (dimension 0),
    /// stored in `scale`.
    Q8,
}

impl TensorDType {
    /// Bytes per element of the main data.
    pub fn size(self) -> usize {
        match self {
            TensorDType::F16 => 2,
            TensorDType::F32 => 4,
            TensorDType::Q8 => 1,
        }
    }
}

/// A byte range of one shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extent {
    pub shard: usize,
    pub offset: u64,
    pub length: u64,
}

/// One tensor: its diffusers name (prefixed by component), type, shape, bytes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TensorEntry {
    pub name: String,
    pub dtype: TensorDType,
    pub shape: Vec<usize>,
    #[serde(flatten)]
    pub data: Extent,
    /// Per-output-channel f16 scales of a q8 tensor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<Extent>,
}

impl TensorEntry {
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// The component a tensor belongs to: the first dotted part of its name.
    pub fn component(&self) -> &str {
        self.name.split('.').next().unwrap_or("")
    }
}

/// One shard file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardEntry {
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
}

/// The whole manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    /// "sd-v1-txt2img" or "sd-v2-txt2img" (`roentgen_model::Family`); read
    /// by people, the graph follows the configs.
    pub model_kind: String,
    /// The diffusers configs, verbatim: `text_encoder`, `unet`, `vae`, `scheduler`.
    pub configs: BTreeMap<String, serde_json::Value>,
    /// File name of the HuggingFace-tokenizers JSON in the folder.
    pub tokenizer: String,
    pub tensors: Vec<TensorEntry>,
    pub shards: Vec<ShardEntry>,
    /// The model was trained with captions that open with the patient's
    /// age, race/ethnicity and sex (RoentGen-v2): the page then asks for
    /// them beside the prompt. Set at conversion (`--demographic-prompts`),
    /// changed with `weights-tools demographic-prompts`; absent is false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub demographic_prompts: bool,
}

/// The GPU-side limit every tensor must fit (DESIGN.md: many devices allow no
/// more in one storage binding).
pub const MAX_TENSOR_BYTES: u64 = 128 * 1024 * 1024;

/// The most a host table may hold (a 32-bit page must be able to index it).
pub const MAX_HOST_TABLE_BYTES: u64 = 1 << 30;

/// Tables the host gathers rows from and never uploads whole (CLIP's token
/// and position embeddings: the ids are known on the host). They need not fit
/// a GPU binding — CLIP ViT-L/14's token table is 152 MB in f32.
pub const HOST_TABLES: &[&str] = &[
    "text_encoder.embeddings.token_embedding.weight",
    "text_encoder.embeddings.position_embedding.weight",
];

fn invalid(what: String) -> WeightsError {
    WeightsError::InvalidManifest { what }
}

/// A name the manifest gives for a file of its folder: joined to a folder
/// path or a base URL by every reader, so it must not leave the folder
/// (no separators, no leading dot, no drive letters or control characters).
fn check_file_name(what: &str, name: &str) -> Result<(), WeightsError> {
    let plain = !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && !name
            .chars()
            .any(|c| matches!(c, '/' | '\\' | ':' | '%' | '?' | '#') || c.is_control());
    if plain {
        Ok(())
    } else {
        Err(invalid(format!(
            "{what} file name {name:?} must be a plain file name inside the model folder"
        )))
    }
}

impl Manifest {
    pub fn from_json(text: &str) -> Result<Self, WeightsError> {
        let m: Manifest =
            serde_json::from_str(text).map_err(|e| invalid(format!("not a manifest: {e}")))?;
        if m.format != FORMAT_NAME {
            return Err(invalid(format!(
                "format is {:?}, expected {FORMAT_NAME:?}",
                m.format
            )));
        }
        if m.format_version != FORMAT_VERSION {
            return Err(invalid(format!(
                "format version {} (this build reads {FORMAT_VERSION}); convert the weights again",
                m.format_version
            )));
        }
        m.check_table()?;
        Ok(m)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("manifest serializes")
    }

    /// Every extent inside its shard, byte lengths matching shapes, names
    /// unique, every file name (shards, tokenizer) a plain name inside the
    /// folder, every tensor within the GPU limit.
    pub fn check_table(&self) -> Result<(), WeightsError> {
        check_file_name("tokenizer", &self.tokenizer)?;
        for s in &self.shards {
            check_file_name("shard", &s.file)?;
            if s.sha256.len() != 64 || !s.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(invalid(format!(
                    "shard {}: sha256 {:?} is not 64 hex digits",
                    s.file, s.sha256
                )));
            }
        }
        let mut names = HashSet::new();
        for t in &self.tensors {
            if !names.insert(t.name.as_str()) {
                return Err(invalid(format!("tensor {} listed twice", t.name)));
            }
            let expected = t
                .shape
                .iter()
                .try_fold(t.dtype.size() as u64, |n, &d| n.checked_mul(d as u64));
            if expected != Some(t.data.length) {
                let expected = expected.map_or("more than 2^64".into(), |e| e.to_string());
                return Err(invalid(format!(
                    "tensor {}: {} bytes for shape {:?} {:?}, expected {expected}",
                    t.name, t.data.length, t.shape, t.dtype
                )));
            }
            if t.data.length > MAX_HOST_TABLE_BYTES {
                return Err(invalid(format!(
                    "tensor {}: {} bytes exceeds the {MAX_HOST_TABLE_BYTES}-byte limit of any table",
                    t.name, t.data.length
                )));
            }
            if t.data.length > MAX_TENSOR_BYTES && !HOST_TABLES.contains(&t.name.as_str()) {
                return Err(invalid(format!(
                    "tensor {}: {} bytes exceeds the {MAX_TENSOR_BYTES}-byte GPU limit",
                    t.name, t.data.length
                )));
            }
            self.check_extent(&t.name, &t.data)?;
            match (t.dtype, &t.scale) {
                (TensorDType::Q8, Some(s)) => {
                    let channels = *t.shape.first().unwrap_or(&0) as u64;
                    if s.length != channels * 2 {
                        return Err(invalid(format!(
                            "tensor {}: {} scale bytes for {channels} channels",
                            t.name, s.length
                        )));
                    }
                    self.check_extent(&t.name, s)?;
                    if s.shard != t.data.shard {
                        return Err(invalid(format!(
                            "tensor {}: scales in another shard than its values",
                            t.name
                        )));
                    }
                }
                (TensorDType::Q8, None) => {
                    return Err(invalid(format!("q8 tensor {} has no scales", t.name)));
                }
                (_, Some(_)) => {
                    return Err(invalid(format!(
                        "tensor {} has scales but is not q8",
                        t.name
                    )));
                }
                (_, None) => {}
            }
        }
        Ok(())
    }

    fn check_extent(&self, name: &str, e: &Extent) -> Result<(), WeightsError> {
        let shard = self
            .shards
            .get(e.shard)
            .ok_or_else(|| invalid(format!("tensor {name}: shard {} does not exist", e.shard)))?;
        if e.offset
            .checked_add(e.length)
            .is_none_or(|end| end > shard.bytes)
        {
            return Err(invalid(format!(
                "tensor {name}: bytes {}..{} outside shard {} of {} bytes",
                e.offset,
                e.offset.saturating_add(e.length),
                shard.file,
                shard.bytes
            )));
        }
        Ok(())
    }

    /// Tensors of one component, in table order.
    pub fn component<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a TensorEntry> + 'a {
        self.tensors.iter().filter(move |t| t.component() == name)
    }

    /// Shards holding any tensor of the given components, in the order the
    /// components are listed (text encoder first, so work can start early).
    pub fn shard_order(&self, components: &[&str]) -> Vec<usize> {
        let mut order = Vec::new();
        for c in components {
            for t in self.component(c) {
                for s in std::iter::once(t.data.shard).chain(t.scale.map(|e| e.shard)) {
                    if !order.contains(&s) {
                        order.push(s);
                    }
                }
            }
        }
        for s in 0..self.shards.len() {
            if !order.contains(&s) {
                order.push(s);
            }
        }
        order
    }
}
