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

/// A model folder's manifest, tokenizer and verified shards.
pub struct Fetched {
    pub manifest: Manifest,
    pub tokenizer: Vec<u8>,
    pub shards: Vec<Option<Vec<u8>>>,
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
    for s in &manifest.shards {
        let b = bytes(&format!("{base}{}", s.file)).await?;
        verify_shard(&s.file, &b, s.bytes, &s.sha256).map_err(|e| e.to_string())?;
        done += b.len() as u64;
        progress(done, total);
        shards.push(Some(b));
    }
    Ok(Fetched {
        manifest,
        tokenizer,
        shards,
    })
}
