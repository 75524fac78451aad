//! A model folder, over HTTP(S) or chosen from the user's disk: manifest,
//! tokenizer, then shards in the order the pipeline needs them (text encoder,
//! UNet, VAE). From a URL each shard comes from the shard store when a
//! verified copy is there, else it is streamed, verified and stored; from
//! disk each is read and verified (and not copied into the store: it is on
//! this machine already).

use js_sys::Uint8Array;
use roentgen_weights::{DownloadProgress, Manifest, ShardEntry, verify_shard};
use wasm_bindgen_futures::JsFuture;

use crate::http::{self, Credentials};
use crate::shard_store::ShardStore;

/// What a load handed over, in order: the manifest and tokenizer first
/// (checked before any shard is read), then each verified shard, which the
/// sink uploads and drops: the worker holds one shard at a time.
pub enum Arrived<'a> {
    Folder {
        manifest: &'a Manifest,
        tokenizer: &'a [u8],
    },
    Shard {
        index: usize,
        bytes: Vec<u8>,
    },
}

/// How a load went.
pub struct Fetched {
    pub manifest: Manifest,
    pub whence: Whence,
    /// Shards that could not be stored (quota), with the reason.
    pub not_stored: Vec<String>,
}

/// Where a load's shards came from.
pub enum Whence {
    /// The network, through a store: `cached` shards came from the store
    /// (`kind`: "OPFS", "Cache Storage", ...).
    Cache { cached: usize, kind: &'static str },
    /// This machine already ("read from disk", "stored in this browser"):
    /// no cache involved.
    Local(&'static str),
}

/// Where a model folder is.
#[derive(Clone)]
pub enum Source {
    Url {
        base: String,
        creds: Credentials,
    },
    /// The files of a folder the user chose or dropped (by file name), and
    /// the folder's name ("files" for loose files).
    Files {
        files: Vec<web_sys::File>,
        folder: String,
    },
    /// A model converted in this browser, stored by name (model_store).
    Stored(String),
}

impl Source {
    /// How images name their model (PNG metadata): the URL, or the folder.
    pub fn label(&self) -> String {
        match self {
            Source::Url { base, .. } => base.clone(),
            Source::Files { folder, .. } => {
                format!("local folder {folder}")
            }
            Source::Stored(name) => format!("stored model {name}"),
        }
    }
}

/// Loads from `source` into `sink`; `progress` is called as bytes arrive.
pub async fn model(
    source: &Source,
    progress: impl FnMut(&DownloadProgress),
    sink: impl FnMut(Arrived) -> Result<(), String>,
) -> Result<Fetched, String> {
    match source {
        Source::Url { base, creds } => {
            let base = roentgen_weights::folder_url(base);
            let store = ShardStore::open().await;
            load(
                &mut Url {
                    base,
                    creds,
                    store,
                    cached: 0,
                    not_stored: Vec::new(),
                },
                progress,
                sink,
            )
            .await
        }
        Source::Files { files, .. } => load(&mut Files(files), progress, sink).await,
        Source::Stored(name) => {
            let dir = crate::model_store::model_dir(name, false).await?;
            load(
                &mut Stored {
                    name: name.clone(),
                    dir,
                },
                progress,
                sink,
            )
            .await
        }
    }
}

/// Where a folder's files come from: the two steps that differ between a
/// URL and a folder on disk. `load` does the rest the same way for both.
trait Origin {
    /// A small file (manifest, tokenizer), whole.
    async fn file(&self, name: &str) -> Result<Vec<u8>, String>;
    /// A verified shard; `bytes(n, from_network)` as it arrives.
    async fn shard(
        &mut self,
        entry: &ShardEntry,
        bytes: &mut dyn FnMut(u64, bool),
    ) -> Result<Vec<u8>, String>;
    /// Where `name` is, for errors.
    fn place(&self, name: &str) -> String;
    /// How the load went: where the shards came from, and those that could
    /// not be stored.
    fn finish(&mut self) -> (Whence, Vec<String>);
}

async fn load(
    origin: &mut impl Origin,
    mut progress: impl FnMut(&DownloadProgress),
    mut sink: impl FnMut(Arrived) -> Result<(), String>,
) -> Result<Fetched, String> {
    let text = origin.file("manifest.json").await?;
    let manifest = Manifest::from_json(&String::from_utf8_lossy(&text))
        .map_err(|e| format!("{}: {e}", origin.place("manifest.json")))?;
    let tokenizer = origin.file(&manifest.tokenizer).await?;
    sink(Arrived::Folder {
        manifest: &manifest,
        tokenizer: &tokenizer,
    })?;
    drop(tokenizer);
    let mut meter = DownloadProgress::new(&manifest);
    for i in manifest.shard_order(&["text_encoder", "unet", "vae"]) {
        let bytes = origin
            .shard(&manifest.shards[i], &mut |n, network| {
                meter.set_shard(i, n, network);
                progress(&meter);
            })
            .await?;
        sink(Arrived::Shard { index: i, bytes })?;
    }
    let (whence, not_stored) = origin.finish();
    Ok(Fetched {
        manifest,
        whence,
        not_stored,
    })
}

/// A shard read whole from this machine (a chosen folder, OPFS), verified
/// against the manifest; `explain` words a mismatch for where it came from.
fn checked(
    entry: &ShardEntry,
    b: Vec<u8>,
    bytes: &mut dyn FnMut(u64, bool),
    explain: impl FnOnce(String) -> String,
) -> Result<Vec<u8>, String> {
    verify_shard(&entry.file, &b, entry.bytes, &entry.sha256)
        .map_err(|e| explain(e.to_string()))?;
    bytes(b.len() as u64, false);
    Ok(b)
}

/// A folder the user chose or dropped: read and verified, not copied into
/// the store (it is on this machine already).
struct Files<'a>(&'a [web_sys::File]);

impl Origin for Files<'_> {
    async fn file(&self, name: &str) -> Result<Vec<u8>, String> {
        let file = self.0.iter().find(|f| f.name() == name).ok_or_else(|| {
            format!(
                "the chosen folder has no {name}: choose a folder made by weights-tools convert"
            )
        })?;
        let buf = JsFuture::from(file.array_buffer())
            .await
            .map_err(|e| format!("{name}: {}", http::js(e)))?;
        Ok(Uint8Array::new(&buf).to_vec())
    }

    async fn shard(
        &mut self,
        entry: &ShardEntry,
        bytes: &mut dyn FnMut(u64, bool),
    ) -> Result<Vec<u8>, String> {
        checked(entry, self.file(&entry.file).await?, bytes, |e| e)
    }

    fn place(&self, name: &str) -> String {
        format!("{name} in the chosen folder")
    }

    fn finish(&mut self) -> (Whence, Vec<String>) {
        (Whence::Local("read from disk"), Vec::new())
    }
}

/// A URL: each shard from the store when a verified copy is there, else
/// streamed, verified and stored.
struct Url<'a> {
    base: String,
    creds: &'a Credentials,
    store: ShardStore,
    cached: usize,
    not_stored: Vec<String>,
}

impl Origin for Url<'_> {
    async fn file(&self, name: &str) -> Result<Vec<u8>, String> {
        http::bytes(&format!("{}{name}", self.base), self.creds).await
    }

    async fn shard(
        &mut self,
        entry: &ShardEntry,
        bytes: &mut dyn FnMut(u64, bool),
    ) -> Result<Vec<u8>, String> {
        if let Some(b) = self.store.get(entry).await {
            self.cached += 1;
            bytes(b.len() as u64, false);
            return Ok(b);
        }
        let url = roentgen_weights::shard_url(&self.base, entry);
        let b = http::shard(&url, entry, self.creds, |n| bytes(n, true)).await?;
        if let Err(e) = self.store.put(entry, &b).await {
            self.not_stored.push(format!("{}: {e}", entry.file));
        }
        Ok(b)
    }

    fn place(&self, name: &str) -> String {
        format!("{}{name}", self.base)
    }

    fn finish(&mut self) -> (Whence, Vec<String>) {
        (
            Whence::Cache {
                cached: self.cached,
                kind: self.store.kind(),
            },
            std::mem::take(&mut self.not_stored),
        )
    }
}

/// A model converted in this browser: read from its OPFS folder and every
/// shard verified again (a damaged file is refused by name, never used).
struct Stored {
    name: String,
    dir: web_sys::FileSystemDirectoryHandle,
}

impl Origin for Stored {
    async fn file(&self, name: &str) -> Result<Vec<u8>, String> {
        crate::model_store::read_file(&self.dir, name)
            .await
            .map_err(|e| format!("stored model {:?}: {e}", self.name))
    }

    async fn shard(
        &mut self,
        entry: &ShardEntry,
        bytes: &mut dyn FnMut(u64, bool),
    ) -> Result<Vec<u8>, String> {
        checked(entry, self.file(&entry.file).await?, bytes, |e| {
            format!(
                "stored model {:?}: {e} (delete it and convert again)",
                self.name
            )
        })
    }

    fn place(&self, name: &str) -> String {
        format!("{name} of stored model {:?}", self.name)
    }

    fn finish(&mut self) -> (Whence, Vec<String>) {
        (Whence::Local("stored in this browser"), Vec::new())
    }
}
