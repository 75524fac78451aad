//! Changes to a converted model's manifest that touch no shard (the shards'
//! sha256 sit in the manifest; the manifest itself is not hashed).

use std::path::Path;

use anyhow::Context;
use roentgen_weights::folder::read_manifest;

/// Sets the manifest's `demographic_prompts` (see `roentgen_model::demographics`).
pub fn set_demographic_prompts(dir: &Path, on: bool) -> anyhow::Result<()> {
    let mut manifest = read_manifest(dir).with_context(|| format!("reading {}", dir.display()))?;
    manifest.demographic_prompts = on;
    let path = dir.join("manifest.json");
    std::fs::write(&path, manifest.to_json()).with_context(|| format!("writing {}", path.display()))
}
