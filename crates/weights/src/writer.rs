//! Packs tensors into shards of a chosen size and produces the manifest.

use std::collections::BTreeMap;

use crate::manifest::{
    Extent, FORMAT_NAME, FORMAT_VERSION, Manifest, ShardEntry, TensorDType, TensorEntry,
};
use crate::{WeightsError, sha256_hex};

/// Offsets inside a shard are multiples of this, so every tensor can go to
/// `queue.write_buffer` (4-byte aligned) and be viewed as u32 words.
pub const ALIGN: u64 = 16;

/// Shard files as (file name, bytes).
pub type ShardFiles = Vec<(String, Vec<u8>)>;

/// Builds shards in memory, one tensor after another; a tensor never spans
/// two shards, and one larger than the target size gets a shard of its own.
pub struct ShardWriter {
    target: u64,
    shards: Vec<Vec<u8>>,
    tensors: Vec<TensorEntry>,
}

impl ShardWriter {
    pub fn new(target_bytes: u64) -> Self {
        Self {
            target: target_bytes.max(ALIGN),
            shards: Vec::new(),
            tensors: Vec::new(),
        }
    }

    fn place(&mut self, bytes: &[u8]) -> Extent {
        let len = bytes.len() as u64;
        let fits = self.shards.last().is_some_and(|s| {
            let start = (s.len() as u64).div_ceil(ALIGN) * ALIGN;
            start + len <= self.target || s.is_empty()
        });
        if !fits {
            self.shards.push(Vec::new());
        }
        let shard = self.shards.len() - 1;
        let buf = self.shards.last_mut().expect("a shard");
        let offset = (buf.len() as u64).div_ceil(ALIGN) * ALIGN;
        buf.resize(offset as usize, 0);
        buf.extend_from_slice(bytes);
        Extent {
            shard,
            offset,
            length: len,
        }
    }

    /// Adds one tensor's raw little-endian bytes (and q8 scales as f16 bytes).
    pub fn add(
        &mut self,
        name: &str,
        dtype: TensorDType,
        shape: &[usize],
        data: &[u8],
        scale: Option<&[u8]>,
    ) -> Result<(), WeightsError> {
        // A q8 tensor's scales follow its values in the same shard, so one
        // verified shard always holds everything a tensor needs.
        let (data, scale) = match scale {
            None => (self.place(data), None),
            Some(s) => {
                let gap = (data.len() as u64).div_ceil(ALIGN) * ALIGN - data.len() as u64;
                let mut block = data.to_vec();
                block.resize(block.len() + gap as usize, 0);
                block.extend_from_slice(s);
                let e = self.place(&block);
                (
                    Extent {
                        length: data.len() as u64,
                        ..e
                    },
                    Some(Extent {
                        shard: e.shard,
                        offset: e.offset + data.len() as u64 + gap,
                        length: s.len() as u64,
                    }),
                )
            }
        };
        self.tensors.push(TensorEntry {
            name: name.to_string(),
            dtype,
            shape: shape.to_vec(),
            data,
            scale,
        });
        Ok(())
    }

    /// The shard files' names and bytes, and the manifest that describes them.
    pub fn finish(
        self,
        model_kind: &str,
        configs: BTreeMap<String, serde_json::Value>,
        tokenizer: &str,
    ) -> Result<(Manifest, ShardFiles), WeightsError> {
        let files: ShardFiles = self
            .shards
            .into_iter()
            .enumerate()
            .map(|(i, bytes)| (format!("shard-{i:05}.bin"), bytes))
            .collect();
        let manifest = Manifest {
            format: FORMAT_NAME.to_string(),
            format_version: FORMAT_VERSION,
            model_kind: model_kind.to_string(),
            configs,
            tokenizer: tokenizer.to_string(),
            tensors: self.tensors,
            shards: files
                .iter()
                .map(|(file, bytes)| ShardEntry {
                    file: file.clone(),
                    bytes: bytes.len() as u64,
                    sha256: sha256_hex(bytes),
                })
                .collect(),
        };
        manifest.check_table()?;
        Ok((manifest, files))
    }
}
