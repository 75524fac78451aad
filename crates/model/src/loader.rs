//! A model built as its shards arrive: the page streams shards from the
//! network, the OPFS cache or a dropped folder, and each goes to the GPU and
//! is dropped before the next is read, so the host holds one shard at a time
//! (a full-size model is ~70 shards of 32 MiB) instead of the whole model.

use std::cell::{Cell, RefCell};

use roentgen_weights::Manifest;

use crate::backend::Backend;
use crate::clip::TextEncoder;
use crate::pipeline::{EncodedTexts, encode_texts};
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
    /// Texts encoded before the rest of the model arrived.
    early: Option<EncodedTexts<B>>,
    text_encodes: usize,
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
            early: None,
            text_encodes: 0,
        })
    }

    /// Shards still to come.
    pub fn shards_missing(&self) -> usize {
        self.weights.missing()
    }

    /// Whether every text-encoder tensor has arrived (its shards come
    /// first in `shard_order`), so `encode_early` can run.
    pub fn text_encoder_ready(&self) -> bool {
        self.manifest
            .component("text_encoder")
            .flat_map(|t| std::iter::once(t.data.shard).chain(t.scale.map(|e| e.shard)))
            .all(|s| self.weights.has_shard(s))
    }

    /// Encodes `texts` (`pipeline::texts_of` a request) with the text
    /// encoder alone, while the UNet and the VAE may still be arriving; the
    /// model `finish` builds uses the result for a run with the same texts
    /// instead of encoding them again. On a network load of RoentGen the
    /// text encoder is the first 246 MB of 2 GB, so the prompt is encoded
    /// while the rest streams.
    pub fn encode_early(&mut self, texts: &[&str]) -> Result<(), ModelError> {
        if !self.text_encoder_ready() {
            return Err(ModelError::Input(
                "the text encoder's weights have not all arrived".into(),
            ));
        }
        let encoder = TextEncoder::new(self.spec.text.clone());
        let (hidden, tokens) = encode_texts(
            &self.backend,
            self.weights.arrived(),
            &self.tokenizer,
            &encoder,
            texts,
        )?;
        self.text_encodes += 1;
        self.early = Some(EncodedTexts::new(texts, hidden, tokens));
        Ok(())
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
            demographic_prompts: self.manifest.demographic_prompts,
            encoded: RefCell::new(self.early),
            text_encodes: Cell::new(self.text_encodes),
        })
    }
}
