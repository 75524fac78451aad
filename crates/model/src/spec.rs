//! What a manifest describes, checked on the host before any weight is read:
//! the configs parse and stay within what this graph builds, and the tensor
//! table is exactly the one those configs imply. A page can run this on a
//! stranger's manifest before downloading a byte of weights.

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

fn config<'a>(m: &'a Manifest, name: &'static str) -> Result<&'a serde_json::Value, ModelError> {
    m.configs.get(name).ok_or(ModelError::Config {
        component: name,
        what: "missing from the manifest".into(),
    })
}

impl Spec {
    pub fn from_manifest(manifest: &Manifest) -> Result<Self, ModelError> {
        let text = TextConfig::from_json(config(manifest, "text_encoder")?)?;
        let unet = UnetConfig::from_json(config(manifest, "unet")?)?;
        let vae = VaeConfig::from_json(config(manifest, "vae")?)?;
        let scheduler = SchedulerConfig::from_json(config(manifest, "scheduler")?)?;
        let problems = crate::arch::compare(
            &crate::arch::expected(&text, &unet, &vae),
            manifest
                .tensors
                .iter()
                .map(|t| (t.name.as_str(), t.shape.as_slice())),
        );
        if !problems.is_empty() {
            return Err(ModelError::Architecture { problems });
        }
        Ok(Self {
            text,
            unet,
            vae,
            scheduler,
        })
    }
}
