//! A model folder over HTTP(S): manifest, tokenizer, then shards in the order
//! the pipeline needs them (text encoder, UNet, VAE), each from the shard store
//! when a verified copy is there, else streamed, verified and stored.

use roentgen_weights::{DownloadProgress, Manifest};

use crate::http::{self, Credentials};
use crate::shard_store::ShardStore;

/// A model folder's manifest, tokenizer and verified shards.
pub struct Fetched {
    pub manifest: Manifest,
    pub tokenizer: Vec<u8>,
    pub shards: Vec<Option<Vec<u8>>>,
    /// Shards that came from the store.
    pub cached: usize,
    /// Which store keeps them ("OPFS", "Cache Storage", ...).
    pub store: &'static str,
    /// Shards that could not be stored (quota), with the reason.
    pub not_stored: Vec<String>,
}

/// Fetches `base` (a folder URL). `progress` is called as bytes arrive.
pub async fn model(
    base: &str,
    creds: &Credentials,
    mut progress: impl FnMut(&DownloadProgress),
) -> Result<Fetched, String> {
    let base = if base.ends_with('/') {
        base.to_string()
    } else {
        format!("{base}/")
    };
    let text = http::bytes(&format!("{base}manifest.json"), creds).await?;
    let manifest = Manifest::from_json(&String::from_utf8_lossy(&text))
        .map_err(|e| format!("{base}manifest.json: {e}"))?;
    let tokenizer = http::bytes(&format!("{base}{}", manifest.tokenizer), creds).await?;
    let mut meter = DownloadProgress::new(&manifest);
    let mut shards: Vec<Option<Vec<u8>>> = vec![None; manifest.shards.len()];
    let mut cached = 0;
    let mut not_stored = Vec::new();
    let store = ShardStore::open().await;
    for i in manifest.shard_order(&["text_encoder", "unet", "vae"]) {
        let entry = &manifest.shards[i];
        if let Some(b) = store.get(entry).await {
            cached += 1;
            meter.set_shard(i, b.len() as u64, false);
            progress(&meter);
            shards[i] = Some(b);
            continue;
        }
        let b = http::shard(&format!("{base}{}", entry.file), entry, creds, |n| {
            meter.set_shard(i, n, true);
            progress(&meter);
        })
        .await?;
        if let Err(e) = store.put(entry, &b).await {
            not_stored.push(format!("{}: {e}", entry.file));
        }
        shards[i] = Some(b);
    }
    Ok(Fetched {
        manifest,
        tokenizer,
        shards,
        cached,
        store: store.kind(),
        not_stored,
    })
}
