//! Files dropped on the page: a converted folder dragged in whole (its
//! entries read through the File and Directory Entries API) or its files
//! selected and dragged. The entries must be taken during the drop event;
//! reading them happens after.

use js_sys::{Array, Promise};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// What was dropped: files, and folders still to be read.
#[derive(Clone)]
pub struct Dropped {
    files: Vec<web_sys::File>,
    folders: Vec<web_sys::FileSystemDirectoryEntry>,
}

/// Takes the dropped items; call inside the drop handler.
pub fn take(dt: &web_sys::DataTransfer) -> Dropped {
    let mut out = Dropped {
        files: Vec::new(),
        folders: Vec::new(),
    };
    let items = dt.items();
    for i in 0..items.length() {
        let Some(item) = items.get(i) else { continue };
        if let Ok(Some(entry)) = item.webkit_get_as_entry()
            && entry.is_directory()
        {
            out.folders.push(entry.unchecked_into());
        } else if let Ok(Some(f)) = item.get_as_file() {
            out.files.push(f);
        }
    }
    out
}

async fn entries(reader: &web_sys::FileSystemDirectoryReader) -> Result<Vec<JsValue>, JsValue> {
    let mut all = Vec::new();
    // readEntries hands out a batch per call until it hands out none.
    loop {
        let batch = JsFuture::from(Promise::new(&mut |ok, err| {
            let _ = reader.read_entries_with_callback_and_callback(&ok, &err);
        }))
        .await?;
        let batch: Array = batch.unchecked_into();
        if batch.length() == 0 {
            return Ok(all);
        }
        all.extend(batch.iter());
    }
}

/// The dropped files with their paths: a loose file by its name, a
/// dropped folder's files (two levels down: a diffusers folder's
/// components) by their path starting with the folder's name.
pub async fn files(d: Dropped) -> Result<Vec<(String, web_sys::File)>, String> {
    let mut files: Vec<(String, web_sys::File)> =
        d.files.into_iter().map(|f| (f.name(), f)).collect();
    let mut folders: Vec<(web_sys::FileSystemDirectoryEntry, usize)> =
        d.folders.into_iter().map(|f| (f, 0)).collect();
    while let Some((folder, depth)) = folders.pop() {
        let reader = folder.create_reader();
        for e in entries(&reader).await.map_err(crate::http::js)? {
            let e: web_sys::FileSystemEntry = e.unchecked_into();
            if e.is_directory() {
                if depth < 2 {
                    folders.push((e.unchecked_into(), depth + 1));
                }
                continue;
            }
            let path = e.full_path();
            let fe: web_sys::FileSystemFileEntry = e.unchecked_into();
            let f = JsFuture::from(Promise::new(&mut |ok, err| {
                fe.file_with_callback_and_callback(&ok, &err);
            }))
            .await
            .map_err(crate::http::js)?;
            files.push((path.trim_start_matches('/').to_string(), f.unchecked_into()));
        }
    }
    Ok(files)
}
