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

/// Builds shards one tensor after another; a tensor never spans two shards,
/// and one larger than the target size gets a shard of its own. Closed
/// shards can be taken out as soon as the next one opens (`take_closed`), so
/// a converter holds one shard, not the model: the page converts a 4 GB
/// checkpoint inside a 4 GB wasm address space that way.
pub struct ShardWriter {
    target: u64,
    /// Shards already handed out: their entries, for the manifest.
    taken: Vec<ShardEntry>,
    /// Shards not yet handed out; the last one is open.
    pending: Vec<Vec<u8>>,
    tensors: Vec<TensorEntry>,
}

fn shard_file_name(i: usize) -> String {
    format!("shard-{i:05}.bin")
}

impl ShardWriter {
    pub fn new(target_bytes: u64) -> Self {
        Self {
            target: target_bytes.max(ALIGN),
            taken: Vec::new(),
            pending: Vec::new(),
            tensors: Vec::new(),
        }
    }

    fn place(&mut self, bytes: &[u8]) -> Extent {
        let len = bytes.len() as u64;
        let fits = self.pending.last().is_some_and(|s| {
            let start = (s.len() as u64).div_ceil(ALIGN) * ALIGN;
            start + len <= self.target || s.is_empty()
        });
        if !fits {
            self.pending.push(Vec::new());
        }
        let shard = self.taken.len() + self.pending.len() - 1;
        let buf = self.pending.last_mut().expect("a shard");
        let offset = (buf.len() as u64).div_ceil(ALIGN) * ALIGN;
        buf.resize(offset as usize, 0);
        buf.extend_from_slice(bytes);
        Extent {
            shard,
            offset,
            length: len,
        }
    }

    /// Hands out every shard that no later tensor can go into (all but the
    /// open one), as (file name, bytes); the manifest keeps their sizes and
    /// sha256.
    pub fn take_closed(&mut self) -> ShardFiles {
        let closed = self.pending.len().saturating_sub(1);
        let out: ShardFiles = self
            .pending
            .drain(..closed)
            .enumerate()
            .map(|(k, bytes)| (shard_file_name(self.taken.len() + k), bytes))
            .collect();
        self.taken
            .extend(out.iter().map(|(file, bytes)| ShardEntry {
                file: file.clone(),
                bytes: bytes.len() as u64,
                sha256: sha256_hex(bytes),
            }));
        out
    }

    /// Bytes held in shards not yet handed out.
    pub fn pending_bytes(&self) -> u64 {
        self.pending.iter().map(|s| s.len() as u64).sum()
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

    /// The shards not yet handed out (all of them if `take_closed` was
    /// never called), and the manifest that describes every shard.
    pub fn finish(
        mut self,
        model_kind: &str,
        configs: BTreeMap<String, serde_json::Value>,
        tokenizer: &str,
    ) -> Result<(Manifest, ShardFiles), WeightsError> {
        // Close the last shard too.
        self.pending.push(Vec::new());
        let files = self.take_closed();
        let manifest = Manifest {
            format: FORMAT_NAME.to_string(),
            format_version: FORMAT_VERSION,
            model_kind: model_kind.to_string(),
            configs,
            tokenizer: tokenizer.to_string(),
            tensors: self.tensors,
            shards: self.taken,
            demographic_prompts: false,
        };
        manifest.check_table()?;
        Ok((manifest, files))
    }
}
