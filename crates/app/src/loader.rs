//! The page's one GPU device and one loaded model, and how a model gets in:
//! fetched (or read from the shard store), then uploaded.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use leptos::prelude::*;
use roentgen_gpu::{ContextOptions, DType, GpuContext};
use roentgen_model::{GpuBackend, Model};

use crate::fetch::{self, Source};
use crate::shard_store;

pub type PageModel = Model<GpuBackend<'static>>;

thread_local! {
    /// Made on the first load and kept: wgpu's browser types are not Send,
    /// so both live on this thread for the page's lifetime.
    static CONTEXT: Cell<Option<&'static GpuContext>> = const { Cell::new(None) };
    static MODEL: RefCell<Option<Rc<PageModel>>> = const { RefCell::new(None) };
}

pub fn model() -> Option<Rc<PageModel>> {
    MODEL.with(|m| m.borrow().clone())
}

/// Replaces the loaded model (None frees its GPU memory).
pub fn set_model(m: Option<PageModel>) {
    MODEL.with(|slot| *slot.borrow_mut() = m.map(Rc::new));
}

async fn context() -> Result<&'static GpuContext, String> {
    if let Some(c) = CONTEXT.with(|c| c.get()) {
        return Ok(c);
    }
    let c = GpuContext::new(ContextOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    let c: &'static GpuContext = Box::leak(Box::new(c));
    CONTEXT.with(|slot| slot.set(Some(c)));
    Ok(c)
}

/// Fetches (or reads) the model folder and uploads it, reporting download
/// progress in `info`.
pub async fn load(source: &Source, info: WriteSignal<String>) -> Result<PageModel, String> {
    let ctx = context().await?;
    let t0 = js_sys::Date::now();
    let mut shown = 0.0;
    let mut fetched = fetch::model(source, |p| {
        let now = js_sys::Date::now();
        // A line per 100 ms is plenty, and keeps chunks cheap.
        if now - shown >= 100.0 || p.done() == p.total() {
            shown = now;
            info.set(format!("downloading: {}", p.summary((now - t0) / 1e3)));
        }
    })
    .await?;
    let seconds = (js_sys::Date::now() - t0) / 1e3;
    let mut line = format!(
        "weights: {:.1} MB, {} of {} shards from this browser's cache ({}), {:.1} s",
        fetched.manifest.shards.iter().map(|s| s.bytes).sum::<u64>() as f64 / 1e6,
        fetched.cached,
        fetched.shards.len(),
        fetched.store,
        seconds,
    );
    if !fetched.not_stored.is_empty() {
        line += &format!(
            "; not kept for next time (storage full?): {}",
            fetched.not_stored.join(", ")
        );
    }
    info.set(line);
    let shards = &mut fetched.shards;
    Model::load(
        GpuBackend::new(ctx, DType::F16),
        &fetched.manifest,
        &fetched.tokenizer,
        |i, s| {
            shards[i].take().ok_or_else(|| {
                roentgen_model::ModelError::Input(format!("shard {} read twice", s.file))
            })
        },
        |_, _| {},
    )
    .map_err(|e| e.to_string())
}

/// "storage: 5.0 MB used by this site, of 10.7 GB the browser allows".
pub async fn storage_line() -> String {
    match shard_store::usage().await {
        Some((used, quota)) => format!(
            "storage: {:.1} MB used by this site, of {:.1} GB the browser allows",
            used / 1e6,
            quota / 1e9
        ),
        None => "storage: this browser does not report its usage".into(),
    }
}
