//! Model files over the browser's fetch: manifest, tokenizer, shards, each
//! shard checked against the manifest's sha256 before any byte is used.

use js_sys::Uint8Array;
use roentgen_weights::{Manifest, verify_shard};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

fn js(e: JsValue) -> String {
    e.as_string()
        .or_else(|| js_sys::JSON::stringify(&e).ok().and_then(|s| s.as_string()))
        .unwrap_or_else(|| "unknown error".into())
}

pub async fn bytes(url: &str) -> Result<Vec<u8>, String> {
    let window = web_sys::window().ok_or("no window")?;
    let resp: web_sys::Response = JsFuture::from(window.fetch_with_str(url))
        .await
        .map_err(|e| format!("{url}: {}", js(e)))?
        .dyn_into()
        .map_err(js)?;
    if !resp.ok() {
        return Err(format!("{url}: HTTP {}", resp.status()));
    }
    let buf = JsFuture::from(resp.array_buffer().map_err(js)?)
        .await
        .map_err(js)?;
    Ok(Uint8Array::new(&buf).to_vec())
}

/// The Cache Storage bucket verified shards are kept in.
pub const CACHE: &str = "roentgen-weights-v1";

async fn cache() -> Option<web_sys::Cache> {
    let caches = web_sys::window()?.caches().ok()?;
    JsFuture::from(caches.open(CACHE))
        .await
        .ok()?
        .dyn_into()
        .ok()
}

/// Asks the browser to keep our storage under pressure (best effort).
fn ask_persistence() {
    let Some(storage) = web_sys::window().map(|w| w.navigator().storage()) else {
        return;
    };
    let _ = storage.persist();
}

/// One shard: from the cache when a verified copy is there, else fetched,
/// verified and then cached. The cache key carries the sha256, so a changed
/// manifest never reads an old shard, and a shard failing its check is never
/// stored. Returns (bytes, came from the cache).
async fn shard(
    cache: Option<&web_sys::Cache>,
    url: &str,
    s: &roentgen_weights::ShardEntry,
) -> Result<(Vec<u8>, bool), String> {
    let key = format!("{url}?sha256={}", s.sha256);
    if let Some(c) = cache
        && let Ok(hit) = JsFuture::from(c.match_with_str(&key)).await
        && let Ok(resp) = hit.dyn_into::<web_sys::Response>()
        && let Ok(p) = resp.array_buffer()
        && let Ok(buf) = JsFuture::from(p).await
    {
        let b = Uint8Array::new(&buf).to_vec();
        if verify_shard(&s.file, &b, s.bytes, &s.sha256).is_ok() {
            return Ok((b, true));
        }
    }
    let mut b = bytes(url).await?;
    verify_shard(&s.file, &b, s.bytes, &s.sha256).map_err(|e| e.to_string())?;
    if let Some(c) = cache
        && let Ok(resp) = web_sys::Response::new_with_opt_u8_array(Some(&mut b))
    {
        // A full disk only costs the cache, never the load.
        let _ = JsFuture::from(c.put_with_str(&key, &resp)).await;
    }
    Ok((b, false))
}

/// Empties the shard cache.
pub async fn clear_cache() -> Result<(), String> {
    let caches = web_sys::window().ok_or("no window")?.caches().map_err(js)?;
    JsFuture::from(caches.delete(CACHE)).await.map_err(js)?;
    Ok(())
}

/// A model folder's manifest, tokenizer and verified shards.
pub struct Fetched {
    pub manifest: Manifest,
    pub tokenizer: Vec<u8>,
    pub shards: Vec<Option<Vec<u8>>>,
    /// Shards that came from the cache.
    pub cached: usize,
}

/// `progress(done, total)` in bytes.
pub async fn model(base: &str, mut progress: impl FnMut(u64, u64)) -> Result<Fetched, String> {
    let base = if base.ends_with('/') {
        base.to_string()
    } else {
        format!("{base}/")
    };
    let text = bytes(&format!("{base}manifest.json")).await?;
    let manifest =
        Manifest::from_json(&String::from_utf8_lossy(&text)).map_err(|e| e.to_string())?;
    let tokenizer = bytes(&format!("{base}{}", manifest.tokenizer)).await?;
    let total: u64 = manifest.shards.iter().map(|s| s.bytes).sum();
    let mut done = 0;
    let mut shards = Vec::new();
    let mut cached = 0;
    ask_persistence();
    let cache = cache().await;
    for s in &manifest.shards {
        let (b, hit) = shard(cache.as_ref(), &format!("{base}{}", s.file), s).await?;
        cached += hit as usize;
        done += b.len() as u64;
        progress(done, total);
        shards.push(Some(b));
    }
    Ok(Fetched {
        manifest,
        tokenizer,
        shards,
        cached,
    })
}
