//! (Worker side.) Models converted in this browser, kept by name in the
//! Origin Private File System: `roentgen-models/NAME/` holds manifest.json,
//! tokenizer.json and the shards, as a converted folder on disk does. The
//! manifest is written last, so a folder without one is a conversion that
//! did not finish (listed as such, and deletable). Loading one goes through
//! the same verified path as any folder: every shard's sha256 is checked.

use roentgen_weights::Manifest;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::http::js;
use crate::shard_store::{sync_handle, write_sync};

/// The OPFS folder of stored models.
pub const DIR: &str = "roentgen-models";

/// One stored model, as the page lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredModel {
    pub name: String,
    /// Bytes of its shards; 0 when incomplete.
    pub bytes: u64,
    /// "f16", "q8", "f32" (what most of its weights are stored as).
    pub dtype: String,
    /// False for a conversion that was cancelled or failed midway.
    pub complete: bool,
}

/// A name that is safe as one OPFS folder name: letters, digits, `.-_ `,
/// not starting with a dot, at most 64 characters.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._- ".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} cannot name a stored model: use letters, digits, '.', '-', '_' or spaces (at most 64)"
        ))
    }
}

/// A model name from a folder name: what `check_name` accepts.
pub fn name_from(folder: &str) -> String {
    let mut n: String = folder
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._- ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    n = n.trim_start_matches('.').to_string();
    if n.is_empty() { "model".into() } else { n }
}

async fn dir_in(
    parent: &web_sys::FileSystemDirectoryHandle,
    name: &str,
    create: bool,
) -> Result<web_sys::FileSystemDirectoryHandle, String> {
    let opts = web_sys::FileSystemGetDirectoryOptions::new();
    opts.set_create(create);
    JsFuture::from(parent.get_directory_handle_with_options(name, &opts))
        .await
        .map_err(js)?
        .dyn_into()
        .map_err(js)
}

async fn root(create: bool) -> Result<web_sys::FileSystemDirectoryHandle, String> {
    let storage = crate::global::storage().ok_or("this browser offers no storage here")?;
    let opfs: web_sys::FileSystemDirectoryHandle = JsFuture::from(storage.get_directory())
        .await
        .map_err(|e| format!("this browser offers no file storage (OPFS): {}", js(e)))?
        .dyn_into()
        .map_err(js)?;
    dir_in(&opfs, DIR, create).await
}

/// The folder of model `name`.
pub async fn model_dir(
    name: &str,
    create: bool,
) -> Result<web_sys::FileSystemDirectoryHandle, String> {
    check_name(name)?;
    dir_in(&root(create).await?, name, create)
        .await
        .map_err(|e| format!("no stored model {name:?} ({e})"))
}

/// Writes one file of a model folder (replacing it).
pub async fn write_file(
    dir: &web_sys::FileSystemDirectoryHandle,
    file: &str,
    bytes: &[u8],
) -> Result<(), String> {
    let opts = web_sys::FileSystemGetFileOptions::new();
    opts.set_create(true);
    let h: web_sys::FileSystemFileHandle =
        JsFuture::from(dir.get_file_handle_with_options(file, &opts))
            .await
            .map_err(js)?
            .dyn_into()
            .map_err(js)?;
    match write_sync(&h, bytes).await {
        Some(r) => r.map_err(|e| format!("writing {file}: {e}")),
        None => Err("stored models need a worker with synchronous file access".into()),
    }
}

/// Reads one file of a model folder whole (a shard is at most a few tens
/// of MB: one shard at a time is what the load holds).
pub async fn read_file(
    dir: &web_sys::FileSystemDirectoryHandle,
    file: &str,
) -> Result<Vec<u8>, String> {
    let h: web_sys::FileSystemFileHandle = JsFuture::from(dir.get_file_handle(file))
        .await
        .map_err(|e| format!("{file} is missing ({})", js(e)))?
        .dyn_into()
        .map_err(js)?;
    let handle = sync_handle(&h)
        .await
        .ok_or("stored models need a worker with synchronous file access")?;
    let result = (|| {
        let size = handle.get_size().map_err(js)? as usize;
        let mut bytes = vec![0u8; size];
        let n = handle.read_with_u8_array(&mut bytes).map_err(js)? as usize;
        if n != size {
            return Err(format!("{file}: read {n} of {size} bytes"));
        }
        Ok(bytes)
    })();
    handle.close();
    result
}

async fn names(dir: &web_sys::FileSystemDirectoryHandle) -> Result<Vec<String>, String> {
    let it = dir.keys();
    let mut out = Vec::new();
    loop {
        let step = JsFuture::from(it.next().map_err(js)?).await.map_err(js)?;
        let done = js_sys::Reflect::get(&step, &"done".into()).map_err(js)?;
        if done.as_bool() == Some(true) {
            break;
        }
        if let Some(n) = js_sys::Reflect::get(&step, &"value".into())
            .map_err(js)?
            .as_string()
        {
            out.push(n);
        }
    }
    out.sort();
    Ok(out)
}

/// Every stored model, complete or not.
pub async fn list() -> Result<Vec<StoredModel>, String> {
    let Ok(root) = root(false).await else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for name in names(&root).await? {
        let Ok(dir) = dir_in(&root, &name, false).await else {
            continue;
        };
        let manifest = read_file(&dir, "manifest.json")
            .await
            .ok()
            .and_then(|b| Manifest::from_json(&String::from_utf8_lossy(&b)).ok());
        out.push(match manifest {
            Some(m) => StoredModel {
                bytes: m.shards.iter().map(|s| s.bytes).sum(),
                dtype: main_dtype(&m),
                complete: true,
                name,
            },
            None => StoredModel {
                name,
                bytes: 0,
                dtype: String::new(),
                complete: false,
            },
        });
    }
    Ok(out)
}

/// What most of a model's bytes are stored as.
fn main_dtype(m: &Manifest) -> String {
    let mut by: std::collections::BTreeMap<String, u64> = Default::default();
    for t in &m.tensors {
        *by.entry(format!("{:?}", t.dtype).to_lowercase())
            .or_default() += t.data.length;
    }
    by.into_iter()
        .max_by_key(|(_, b)| *b)
        .map(|(d, _)| d)
        .unwrap_or_default()
}

/// Removes a stored model (absent already is fine).
pub async fn delete(name: &str) -> Result<(), String> {
    check_name(name)?;
    let Ok(root) = root(false).await else {
        return Ok(());
    };
    let opts = web_sys::FileSystemRemoveOptions::new();
    opts.set_recursive(true);
    let _ = JsFuture::from(root.remove_entry_with_options(name, &opts)).await;
    Ok(())
}
