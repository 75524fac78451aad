//! What a manifest describes, checked on the host before any weight is read:
//! the configs parse and stay within what this graph builds, and the tensor
//! table is exactly the one those configs imply. A page can run this on a
//! stranger's manifest before downloading a byte of weights.

use std::collections::BTreeMap;

use roentgen_weights::Manifest;

use crate::ModelError;
use crate::config::{TextConfig, UnetConfig, VaeConfig};
use crate::scheduler::SchedulerConfig;

pub struct Spec {
    pub text: TextConfig,
    pub unet: UnetConfig,
    pub vae: VaeConfig,
    pub scheduler: SchedulerConfig,
}

fn config<'a>(
    configs: &'a BTreeMap<String, serde_json::Value>,
    name: &'static str,
) -> Result<&'a serde_json::Value, ModelError> {
    configs.get(name).ok_or(ModelError::Config {
        component: name,
        what: "missing from the manifest".into(),
    })
}

impl Spec {
    /// The configs alone: what a converter checks before reading weights.
    pub fn from_configs(configs: &BTreeMap<String, serde_json::Value>) -> Result<Self, ModelError> {
        Ok(Self {
            text: TextConfig::from_json(config(configs, "text_encoder")?)?,
            unet: UnetConfig::from_json(config(configs, "unet")?)?,
            vae: VaeConfig::from_json(config(configs, "vae")?)?,
            scheduler: SchedulerConfig::from_json(config(configs, "scheduler")?)?,
        })
    }

    /// The family these configs describe (the manifest's `model_kind`).
    pub fn family(&self) -> crate::Family {
        crate::Family::of(&self.text, &self.unet)
    }

    /// Every tensor these configs imply for text-to-image, by name and shape.
    pub fn table(&self) -> crate::arch::Table {
        crate::arch::expected(&self.text, &self.unet, &self.vae)
    }

    /// The optional VAE encoder's tensors (image-to-image).
    pub fn encoder_table(&self) -> crate::arch::Table {
        crate::arch::vae_encoder(&self.vae)
    }

    /// `table()`, with `encoder_table()` when `with_encoder`.
    pub fn full_table(&self, with_encoder: bool) -> crate::arch::Table {
        let mut t = self.table();
        if with_encoder {
            t.extend(self.encoder_table());
        }
        t
    }

    /// Refuses a weight table that is not exactly `table()`, or `table()`
    /// plus the whole encoder when it holds any encoder tensor, naming each
    /// difference.
    pub fn check_table<'a>(
        &self,
        tensors: impl IntoIterator<Item = (&'a str, &'a [usize])>,
    ) -> Result<(), ModelError> {
        let tensors: Vec<_> = tensors.into_iter().collect();
        let with_encoder = tensors.iter().any(|(n, _)| crate::arch::is_vae_encoder(n));
        let problems = crate::arch::compare(&self.full_table(with_encoder), tensors);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ModelError::Architecture { problems })
        }
    }

    pub fn from_manifest(manifest: &Manifest) -> Result<Self, ModelError> {
        let spec = Self::from_configs(&manifest.configs)?;
        spec.check_table(
            manifest
                .tensors
                .iter()
                .map(|t| (t.name.as_str(), t.shape.as_slice())),
        )?;
        Ok(spec)
    }
}
