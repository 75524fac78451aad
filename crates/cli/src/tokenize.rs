//! `roentgen tokenize`: the ids CLIP will read for a prompt, as JSON.

use std::path::Path;

use anyhow::Context;
use roentgen_model::ClipTokenizer;
use roentgen_weights::folder::read_manifest;

pub fn run(model: &Path, text: &str) -> anyhow::Result<()> {
    let manifest = read_manifest(model).with_context(|| format!("reading {}", model.display()))?;
    let path = model.join(&manifest.tokenizer);
    let json = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let tokens = ClipTokenizer::from_bytes(&json)?.encode(text)?;
    println!("{}", serde_json::to_string(&tokens)?);
    Ok(())
}
