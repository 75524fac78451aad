//! A model built as its shards arrive: the page streams shards from the
//! network, the OPFS cache or a dropped folder, and each goes to the GPU and
//! is dropped before the next is read, so the host holds one shard at a time
//! (a full-size model is ~70 shards of 32 MiB) instead of the whole model.

use roentgen_weights::Manifest;

use crate::backend::Backend;
use crate::clip::TextEncoder;
use crate::spec::Spec;
use crate::tokenizer::ClipTokenizer;
use crate::unet::Unet;
use crate::vae::{VaeDecoder, VaeEncoder};
use crate::weights::WeightsLoader;
use crate::{Model, ModelError};

pub struct ModelLoader<B: Backend> {
    backend: B,
    manifest: Manifest,
    spec: Spec,
    tokenizer: ClipTokenizer,
    weights: WeightsLoader<B>,
}

impl<B: Backend> ModelLoader<B> {
    /// Checks the manifest (configs, tensor table) and the tokenizer before
    /// any weight is read.
    pub fn new(backend: B, manifest: &Manifest, tokenizer_json: &[u8]) -> Result<Self, ModelError> {
        Ok(Self {
            spec: Spec::from_manifest(manifest)?,
            tokenizer: ClipTokenizer::from_bytes(tokenizer_json)?,
            weights: WeightsLoader::new(manifest),
            manifest: manifest.clone(),
            backend,
        })
    }

    /// The order to read shards in: the text encoder's first.
    pub fn shard_order(&self) -> Vec<usize> {
        self.manifest.shard_order(&["text_encoder", "unet", "vae"])
    }

    /// Uploads one verified shard's tensors; the caller may drop `bytes`.
    pub fn add_shard(&mut self, shard: usize, bytes: &[u8]) -> Result<(), ModelError> {
        self.weights
            .add_shard(&self.backend, &self.manifest, shard, bytes)
    }

    /// The model, once every shard has been added.
    pub fn finish(self) -> Result<Model<B>, ModelError> {
        let weights = self.weights.finish()?;
        // The table check made the encoder all or nothing.
        let encoder = weights
            .contains("vae.encoder.conv_in.weight")
            .then(|| VaeEncoder::new(self.spec.vae.clone()));
        Ok(Model {
            weights,
            encoder,
            backend: self.backend,
            tokenizer: self.tokenizer,
            text: TextEncoder::new(self.spec.text),
            unet: Unet::new(self.spec.unet),
            vae: VaeDecoder::new(self.spec.vae),
            scheduler: self.spec.scheduler,
        })
    }
}
