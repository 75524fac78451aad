//! A model folder, over HTTP(S) or chosen from the user's disk: manifest,
//! tokenizer, then shards in the order the pipeline needs them (text encoder,
//! UNet, VAE). From a URL each shard comes from the shard store when a
//! verified copy is there, else it is streamed, verified and stored; from
//! disk each is read and verified (and not copied into the store: it is on
//! this machine already).

use js_sys::Uint8Array;
use roentgen_weights::{DownloadProgress, Manifest, verify_shard};
use wasm_bindgen_futures::JsFuture;

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

/// Where a model folder is.
pub enum Source {
    Url {
        base: String,
        creds: Credentials,
    },
    /// The files of a folder the user chose or dropped (by file name).
    Files(Vec<web_sys::File>),
}

impl Source {
    /// How images name their model (PNG metadata): the URL, or the folder.
    pub fn label(&self) -> String {
        match self {
            Source::Url { base, .. } => base.clone(),
            Source::Files(files) => {
                let folder = files
                    .first()
                    .and_then(|f| js_sys::Reflect::get(f, &"webkitRelativePath".into()).ok())
                    .and_then(|p| p.as_string())
                    .and_then(|p| p.split('/').next().map(str::to_string))
                    .filter(|p| !p.is_empty())
                    .unwrap_or_else(|| "files".into());
                format!("local folder {folder}")
            }
        }
    }
}

/// Loads from `source`; `progress` is called as bytes arrive.
pub async fn model(
    source: &Source,
    progress: impl FnMut(&DownloadProgress),
) -> Result<Fetched, String> {
    match source {
        Source::Url { base, creds } => from_url(base, creds, progress).await,
        Source::Files(files) => from_files(files, progress).await,
    }
}

async fn read_file(files: &[web_sys::File], name: &str) -> Result<Vec<u8>, String> {
    let file = files.iter().find(|f| f.name() == name).ok_or_else(|| {
        format!("the chosen folder has no {name}: choose a folder made by weights-tools convert")
    })?;
    let buf = JsFuture::from(file.array_buffer())
        .await
        .map_err(|e| format!("{name}: {}", http::js(e)))?;
    Ok(Uint8Array::new(&buf).to_vec())
}

async fn from_files(
    files: &[web_sys::File],
    mut progress: impl FnMut(&DownloadProgress),
) -> Result<Fetched, String> {
    let text = read_file(files, "manifest.json").await?;
    let manifest = Manifest::from_json(&String::from_utf8_lossy(&text))
        .map_err(|e| format!("manifest.json: {e}"))?;
    let tokenizer = read_file(files, &manifest.tokenizer).await?;
    let mut meter = DownloadProgress::new(&manifest);
    let mut shards: Vec<Option<Vec<u8>>> = vec![None; manifest.shards.len()];
    for i in manifest.shard_order(&["text_encoder", "unet", "vae"]) {
        let entry = &manifest.shards[i];
        let b = read_file(files, &entry.file).await?;
        verify_shard(&entry.file, &b, entry.bytes, &entry.sha256).map_err(|e| e.to_string())?;
        meter.set_shard(i, b.len() as u64, false);
        progress(&meter);
        shards[i] = Some(b);
    }
    Ok(Fetched {
        manifest,
        tokenizer,
        cached: 0,
        store: "read from disk",
        not_stored: Vec::new(),
        shards,
    })
}

async fn from_url(
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
