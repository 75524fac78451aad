//! Where verified shards are kept between visits: the Origin Private File
//! System (plain files, no per-entry size limits, not evicted with the HTTP
//! cache), else Cache Storage. Files are named by their sha256, so the same
//! shard served from two addresses is stored once and a changed manifest never
//! reads an old one; every read is checked again, so a damaged file is
//! fetched anew, never used.

use js_sys::Uint8Array;
use roentgen_weights::{ShardEntry, verify_shard};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::http::js;

/// The OPFS folder and the Cache Storage bucket.
pub const NAME: &str = "roentgen-weights-v1";

pub enum ShardStore {
    Opfs(web_sys::FileSystemDirectoryHandle),
    Cache(web_sys::Cache),
    /// Private windows and old browsers: every visit downloads.
    None,
}

async fn opfs_dir() -> Option<web_sys::FileSystemDirectoryHandle> {
    let storage = crate::global::storage()?;
    let root: web_sys::FileSystemDirectoryHandle = JsFuture::from(storage.get_directory())
        .await
        .ok()?
        .dyn_into()
        .ok()?;
    let opts = web_sys::FileSystemGetDirectoryOptions::new();
    opts.set_create(true);
    JsFuture::from(root.get_directory_handle_with_options(NAME, &opts))
        .await
        .ok()?
        .dyn_into()
        .ok()
}

async fn cache_bucket() -> Option<web_sys::Cache> {
    let caches = crate::global::caches()?;
    JsFuture::from(caches.open(NAME))
        .await
        .ok()?
        .dyn_into()
        .ok()
}

async fn array(p: js_sys::Promise) -> Option<Vec<u8>> {
    let buf = JsFuture::from(p).await.ok()?;
    Some(Uint8Array::new(&buf).to_vec())
}

impl ShardStore {
    /// OPFS where the browser has it, else Cache Storage, else nothing.
    /// (The store opens in the worker, which cannot ask for persistent
    /// storage; the page asks, see generate_panel.)
    pub async fn open() -> Self {
        if let Some(d) = opfs_dir().await {
            return Self::Opfs(d);
        }
        match cache_bucket().await {
            Some(c) => Self::Cache(c),
            None => Self::None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Opfs(_) => "OPFS",
            Self::Cache(_) => "Cache Storage",
            Self::None => "no storage",
        }
    }

    /// A stored copy of the shard that still matches its sha256.
    pub async fn get(&self, entry: &ShardEntry) -> Option<Vec<u8>> {
        let bytes = match self {
            Self::Opfs(d) => {
                let h: web_sys::FileSystemFileHandle =
                    JsFuture::from(d.get_file_handle(&entry.sha256))
                        .await
                        .ok()?
                        .dyn_into()
                        .ok()?;
                match read_sync(&h, entry.bytes).await {
                    Some(bytes) => bytes,
                    None => {
                        let file: web_sys::File =
                            JsFuture::from(h.get_file()).await.ok()?.dyn_into().ok()?;
                        array(file.array_buffer()).await?
                    }
                }
            }
            Self::Cache(c) => {
                let resp: web_sys::Response = JsFuture::from(c.match_with_str(&key(entry)))
                    .await
                    .ok()?
                    .dyn_into()
                    .ok()?;
                array(resp.array_buffer().ok()?).await?
            }
            Self::None => return None,
        };
        verify_shard(&entry.file, &bytes, entry.bytes, &entry.sha256)
            .ok()
            .map(|()| bytes)
    }

    /// Keeps a verified shard. A full disk costs the cache, never the load,
    /// so failures are returned for a note, not raised.
    pub async fn put(&self, entry: &ShardEntry, bytes: &[u8]) -> Result<(), String> {
        match self {
            Self::Opfs(d) => {
                let opts = web_sys::FileSystemGetFileOptions::new();
                opts.set_create(true);
                let h: web_sys::FileSystemFileHandle =
                    JsFuture::from(d.get_file_handle_with_options(&entry.sha256, &opts))
                        .await
                        .map_err(js)?
                        .dyn_into()
                        .map_err(js)?;
                if let Some(written) = write_sync(&h, bytes).await {
                    // A write the quota refused half-way would leave a
                    // partial file taking space (never used: `get` checks
                    // its sha256); it goes.
                    if written.is_err() {
                        let _ = JsFuture::from(d.remove_entry(&entry.sha256)).await;
                    }
                    return written;
                }
                // The new contents replace the file only on close(), so an
                // interrupted write leaves no half shard behind.
                let w: web_sys::FileSystemWritableFileStream = JsFuture::from(h.create_writable())
                    .await
                    .map_err(js)?
                    .dyn_into()
                    .map_err(js)?;
                let data = Uint8Array::from(bytes);
                JsFuture::from(w.write_with_js_u8_array(&data).map_err(js)?)
                    .await
                    .map_err(js)?;
                JsFuture::from(w.close()).await.map_err(js)?;
                Ok(())
            }
            Self::Cache(c) => {
                let data = Uint8Array::from(bytes);
                let resp =
                    web_sys::Response::new_with_opt_buffer_source(Some(&data)).map_err(js)?;
                JsFuture::from(c.put_with_str(&key(entry), &resp))
                    .await
                    .map_err(js)?;
                Ok(())
            }
            Self::None => Err("this browser offers no storage here".into()),
        }
    }
}

/// In a worker, OPFS files open for synchronous access: bytes go between
/// wasm memory and the file with no JavaScript copy in between (the
/// promise-based writer above copies each shard into a JS array and the
/// browser process buffers it until close: ~1.7 GB resident for a
/// full-size model in Chromium). A write interrupted midway leaves a file
/// whose sha256 no longer matches, which `get` refuses. None: this context
/// has no synchronous access (the page's thread), use the other way.
pub(crate) async fn sync_handle(
    h: &web_sys::FileSystemFileHandle,
) -> Option<web_sys::FileSystemSyncAccessHandle> {
    let create = js_sys::Reflect::get(h, &"createSyncAccessHandle".into()).ok()?;
    if !create.is_function() {
        return None;
    }
    JsFuture::from(h.create_sync_access_handle())
        .await
        .ok()?
        .dyn_into()
        .ok()
}

pub(crate) async fn write_sync(
    h: &web_sys::FileSystemFileHandle,
    bytes: &[u8],
) -> Option<Result<(), String>> {
    let handle = sync_handle(h).await?;
    let result = (|| {
        handle.truncate_with_u32(0).map_err(js)?;
        let n = handle.write_with_u8_array(bytes).map_err(js)?;
        if n as usize != bytes.len() {
            return Err(format!("wrote {n} of {} bytes", bytes.len()));
        }
        handle.flush().map_err(js)
    })();
    handle.close();
    Some(result)
}

async fn read_sync(h: &web_sys::FileSystemFileHandle, len: u64) -> Option<Vec<u8>> {
    let handle = sync_handle(h).await?;
    let size = handle.get_size().ok()?;
    let mut bytes = vec![0u8; len as usize];
    let read = (size as u64 == len)
        .then(|| handle.read_with_u8_array(&mut bytes).ok())
        .flatten();
    handle.close();
    (read? as u64 == len).then_some(bytes)
}

/// Cache Storage wants a URL: the sha256 under this page's origin.
fn key(entry: &ShardEntry) -> String {
    format!("/{NAME}/{}", entry.sha256)
}

/// What this origin stores (all of it, as the browser counts) and may store.
pub async fn usage() -> Option<(f64, f64)> {
    let storage = crate::global::storage()?;
    let est: web_sys::StorageEstimate = JsFuture::from(storage.estimate().ok()?)
        .await
        .ok()?
        .unchecked_into();
    Some((est.get_usage()?, est.get_quota()?))
}

/// Whether the browser keeps this origin's storage under disk pressure
/// (granted to the page's `persist()` request, see generate_panel).
pub async fn persisted() -> Option<bool> {
    let storage = crate::global::storage()?;
    JsFuture::from(storage.persisted().ok()?)
        .await
        .ok()?
        .as_bool()
}

/// Removes every stored shard, from both stores.
pub async fn clear() -> Result<(), String> {
    let storage = crate::global::storage().ok_or("no storage in this context")?;
    if let Ok(root) = JsFuture::from(storage.get_directory()).await
        && let Ok(root) = root.dyn_into::<web_sys::FileSystemDirectoryHandle>()
    {
        let opts = web_sys::FileSystemRemoveOptions::new();
        opts.set_recursive(true);
        // Absent already is fine.
        let _ = JsFuture::from(root.remove_entry_with_options(NAME, &opts)).await;
    }
    if let Some(caches) = crate::global::caches() {
        JsFuture::from(caches.delete(NAME)).await.map_err(js)?;
    }
    Ok(())
}
