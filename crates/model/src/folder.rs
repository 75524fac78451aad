//! Loading a converted model from a local folder (native CLI and tests).

use std::path::Path;

use roentgen_weights::folder::read_manifest;
use roentgen_weights::{WeightsError, verify_shard};

use crate::backend::Backend;
use crate::{Model, ModelError};

fn io(path: &Path, e: std::io::Error) -> ModelError {
    ModelError::Weights(WeightsError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

impl<B: Backend> Model<B> {
    /// Reads `dir/manifest.json`, the tokenizer and every shard, checking
    /// each shard's size and sha256 before any byte of it is used.
    /// `progress(shards done, shards)`.
    pub fn load_dir(
        backend: B,
        dir: &Path,
        progress: impl FnMut(usize, usize),
    ) -> Result<Self, ModelError> {
        let manifest = read_manifest(dir)?;
        let tok_path = dir.join(&manifest.tokenizer);
        let tokenizer = std::fs::read(&tok_path).map_err(|e| io(&tok_path, e))?;
        Model::load(
            backend,
            &manifest,
            &tokenizer,
            |_, shard| {
                let path = dir.join(&shard.file);
                let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
                verify_shard(&shard.file, &bytes, shard.bytes, &shard.sha256)?;
                Ok(bytes)
            },
            progress,
        )
    }
}

impl<B: Backend> Model<B> {
    /// The same from a URL (gated hosting: pass the Authorization header
    /// value or cookie). `progress` sees bytes per component as they arrive.
    pub fn load_url(
        backend: B,
        source: &roentgen_weights::http::HttpSource,
        mut progress: impl FnMut(&roentgen_weights::DownloadProgress),
    ) -> Result<Self, ModelError> {
        let manifest = roentgen_weights::Manifest::from_json(&String::from_utf8_lossy(
            &source.get("manifest.json", 64 << 20)?,
        ))?;
        let tokenizer = source.get(&manifest.tokenizer, 64 << 20)?;
        let mut meter = roentgen_weights::DownloadProgress::new(&manifest);
        Model::load(
            backend,
            &manifest,
            &tokenizer,
            |i, shard| {
                let bytes = source.fetch_shard(shard, |n, _| {
                    meter.set_shard(i, n, true);
                    progress(&meter);
                })?;
                Ok(bytes)
            },
            |_, _| {},
        )
    }
}
