//! A model's tensors on a backend, by diffusers name.

use std::collections::HashMap;

use half::f16;
use roentgen_weights::manifest::HOST_TABLES;
use roentgen_weights::{Manifest, TensorDType};

use crate::ModelError;
use crate::backend::Backend;

/// Widens stored f16/f32 bytes to f32 (q8 tensors go through `q8::dequantize`).
pub(crate) fn decode(dtype: TensorDType, bytes: &[u8], name: &str) -> Result<Vec<f32>, ModelError> {
    match dtype {
        TensorDType::F16 => Ok(bytes
            .chunks_exact(2)
            .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect()),
        TensorDType::F32 => Ok(bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()),
        TensorDType::Q8 => Err(ModelError::UnsupportedDType {
            name: name.into(),
            dtype: "q8 without its scales".into(),
        }),
    }
}

/// Every tensor of one model, uploaded; plus host copies of the tables the
/// host gathers from (CLIP's token and position embeddings: the ids are on
/// the host, so looking rows up there costs one small upload per prompt).
pub struct Weights<B: Backend> {
    tensors: HashMap<String, B::Tensor>,
    host: HashMap<String, HostTable>,
}

/// A table kept on the host as it was stored: CLIP ViT-L/14's token table
/// is 76 MB in f16 and would be 152 MB widened to f32, the largest thing in
/// the page's wasm heap. Rows are widened when gathered (f16 to f32 is
/// exact, so the values are the same as widening the whole table).
pub struct HostTable {
    pub shape: Vec<usize>,
    dtype: TensorDType,
    bytes: Vec<u8>,
}

impl HostTable {
    fn new(
        name: &str,
        dtype: TensorDType,
        shape: &[usize],
        bytes: &[u8],
    ) -> Result<Self, ModelError> {
        let width = match dtype {
            TensorDType::F16 => 2,
            TensorDType::F32 => 4,
            TensorDType::Q8 => {
                return Err(ModelError::UnsupportedDType {
                    name: name.into(),
                    dtype: "q8 for a host table".into(),
                });
            }
        };
        if shape.len() != 2 || bytes.len() != shape[0] * shape[1] * width {
            return Err(ModelError::Input(format!(
                "{name}: {} bytes of {dtype:?} for shape {shape:?}",
                bytes.len()
            )));
        }
        Ok(Self {
            shape: shape.to_vec(),
            dtype,
            bytes: bytes.to_vec(),
        })
    }

    /// Row `i` as f32 values (the caller checks `i` against `shape[0]`).
    pub fn row(&self, i: usize) -> Vec<f32> {
        let d = self.shape[1];
        let width = self.bytes.len() / (self.shape[0] * d);
        let row = &self.bytes[i * d * width..(i + 1) * d * width];
        decode(self.dtype, row, "host table row").expect("f16 or f32, checked when made")
    }
}

/// Weights arriving a shard at a time: each shard's tensors go to the
/// backend as it arrives and its bytes can be dropped, so a load holds one
/// shard on the host, whatever the model's size (the page's wasm heap).
pub struct WeightsLoader<B: Backend> {
    /// What has arrived so far.
    arrived: Weights<B>,
    loaded: Vec<bool>,
}

impl<B: Backend> WeightsLoader<B> {
    pub fn new(manifest: &Manifest) -> Self {
        Self {
            arrived: Weights {
                tensors: HashMap::new(),
                host: HashMap::new(),
            },
            loaded: vec![false; manifest.shards.len()],
        }
    }

    /// The tensors that have arrived so far: a part of the model (the text
    /// encoder, which comes first) can run before the rest is in.
    pub fn arrived(&self) -> &Weights<B> {
        &self.arrived
    }

    /// Whether shard `shard` has been added.
    pub fn has_shard(&self, shard: usize) -> bool {
        self.loaded.get(shard).copied().unwrap_or(false)
    }

    /// Uploads the tensors of shard `shard` from its verified bytes.
    pub fn add_shard(
        &mut self,
        backend: &B,
        manifest: &Manifest,
        shard: usize,
        bytes: &[u8],
    ) -> Result<(), ModelError> {
        let entry = manifest
            .shards
            .get(shard)
            .ok_or_else(|| ModelError::Input(format!("shard {shard} is not in the manifest")))?;
        if self.loaded[shard] || bytes.len() as u64 != entry.bytes {
            return Err(ModelError::Input(format!(
                "shard {}: given twice, or {} bytes where the manifest says {}",
                entry.file,
                bytes.len(),
                entry.bytes
            )));
        }
        self.loaded[shard] = true;
        let (tensors, host) = (&mut self.arrived.tensors, &mut self.arrived.host);
        for entry in manifest.tensors.iter().filter(|t| t.data.shard == shard) {
            let start = entry.data.offset as usize;
            let data = &bytes[start..start + entry.data.length as usize];
            if let Some(s) = entry.scale.filter(|_| entry.dtype == TensorDType::Q8) {
                // q8 stays int8 on the GPU (half of f16's memory).
                let scales = &bytes[s.offset as usize..(s.offset + s.length) as usize];
                let t = backend.upload_q8(&entry.name, &entry.shape, data, scales)?;
                tensors.insert(entry.name.clone(), t);
            } else if HOST_TABLES.contains(&entry.name.as_str()) {
                let table = HostTable::new(&entry.name, entry.dtype, &entry.shape, data)?;
                host.insert(entry.name.clone(), table);
            } else {
                let t = backend.upload_weight(&entry.name, &entry.shape, entry.dtype, data)?;
                tensors.insert(entry.name.clone(), t);
            }
        }
        Ok(())
    }

    /// Shards still to come.
    pub fn missing(&self) -> usize {
        self.loaded.iter().filter(|l| !**l).count()
    }

    /// The weights, once every shard has arrived.
    pub fn finish(self) -> Result<Weights<B>, ModelError> {
        if self.missing() > 0 {
            return Err(ModelError::Input(format!(
                "{} shards never arrived",
                self.missing()
            )));
        }
        Ok(self.arrived)
    }
}

impl<B: Backend> Weights<B> {
    /// Weights built in memory (benchmarks of single layers).
    pub fn from_tensors(tensors: HashMap<String, B::Tensor>) -> Self {
        Self {
            tensors,
            host: HashMap::new(),
        }
    }

    pub fn get(&self, name: &str) -> Result<&B::Tensor, ModelError> {
        self.tensors
            .get(name)
            .ok_or_else(|| ModelError::MissingTensor {
                name: name.to_string(),
            })
    }

    /// A weight that must have `shape` (checked when the model is built, so
    /// a wrong folder fails before any work).
    pub fn expect(
        &self,
        backend: &B,
        name: &str,
        shape: &[usize],
    ) -> Result<&B::Tensor, ModelError> {
        let t = self.get(name)?;
        if backend.shape(t) != shape {
            return Err(ModelError::WeightShape {
                name: name.to_string(),
                expected: shape.to_vec(),
                got: backend.shape(t).to_vec(),
            });
        }
        Ok(t)
    }

    /// An optional weight (biases some layers omit).
    pub fn try_get(&self, name: &str) -> Option<&B::Tensor> {
        self.tensors.get(name)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name) || self.host.contains_key(name)
    }

    pub fn host(&self, name: &str) -> Result<&HostTable, ModelError> {
        self.host
            .get(name)
            .ok_or_else(|| ModelError::MissingTensor {
                name: name.to_string(),
            })
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors
            .keys()
            .chain(self.host.keys())
            .map(|s| s.as_str())
    }
}
