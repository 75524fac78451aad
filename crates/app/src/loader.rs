//! (Worker side.) The one GPU device and one loaded model, and how a model
//! gets in: fetched (or read from the shard store, or from disk), then
//! uploaded.

use std::rc::Rc;

use roentgen_gpu::{ContextOptions, DType, GpuContext};
use roentgen_model::{GpuBackend, Model, ModelLoader};

use crate::fetch::{self, Source};
use crate::news::{Info, Loaded, Storage, WeightsFrom};
use crate::protocol::FromWorker;
use crate::{shard_store, worker_state};

pub type PageModel = Model<GpuBackend<'static>>;

/// Where the worker's news goes (posted to the page).
pub type Emit = Rc<dyn Fn(FromWorker)>;

/// A batch runs (set by the engine around it).
pub fn set_busy(busy: bool) {
    worker_state::with(|w| w.busy.set(busy));
}

/// After GPU work failed: whether that was the device being lost. The
/// browser reports the loss after the failed read sometimes, so this waits
/// up to a second for the report.
pub async fn lost_soon() -> bool {
    for _ in 0..20 {
        if device_lost() {
            return true;
        }
        sleep_ms(50).await;
    }
    device_lost()
}

/// Lets the worker's event loop run for `ms` (0: a turn, so a Cancel
/// message gets in).
pub async fn sleep_ms(ms: i32) {
    use wasm_bindgen::JsCast;
    let p = js_sys::Promise::new(&mut |ok, _| {
        let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
        let _ = scope.set_timeout_with_callback_and_timeout_and_arguments_0(&ok, ms);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(p).await;
}

pub fn model() -> Option<Rc<PageModel>> {
    worker_state::with(|w| w.model.borrow().clone())
}

/// Makes `m` the loaded model (replacing the old one); returns it.
pub fn install(m: PageModel) -> Rc<PageModel> {
    let m = Rc::new(m);
    worker_state::with(|w| *w.model.borrow_mut() = Some(m.clone()));
    m
}

/// Forgets the loaded model, freeing its GPU memory.
pub fn unload() {
    worker_state::with(|w| *w.model.borrow_mut() = None);
}

/// The device was lost (its message is in the status line already).
pub fn device_lost() -> bool {
    worker_state::with(|w| w.lost.get())
}

/// The device, if one was made (and not lost since).
pub fn current_context() -> Option<&'static GpuContext> {
    worker_state::with(|w| w.context.get())
}

/// Destroys the device as a driver reset would, so the recovery path can be
/// exercised (tests, devtools).
pub fn lose_device() {
    if let Some(c) = worker_state::with(|w| w.context.get()) {
        c.device.destroy();
    }
}

/// The device, made on first use. If the browser loses it (driver reset,
/// GPU process crash) the page is told, device and model are forgotten, and
/// the next load starts afresh.
pub async fn context(emit: &Emit) -> Result<&'static GpuContext, String> {
    worker_state::with(|w| *w.emit.borrow_mut() = Some(emit.clone()));
    if let Some(c) = worker_state::with(|w| w.context.get()) {
        return Ok(c);
    }
    let c = GpuContext::new(ContextOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    let c: &'static GpuContext = Box::leak(Box::new(c));
    worker_state::with(|w| w.lost.set(false));
    c.device.set_device_lost_callback(move |reason, message| {
        worker_state::with(|w| {
            w.lost.set(true);
            w.context.set(None);
            *w.model.borrow_mut() = None;
        });
        // A running batch loads the model again and carries on (engine.rs);
        // otherwise the next load starts afresh.
        let news = match worker_state::with(|w| w.busy.get()) {
            true => FromWorker::Info {
                info: crate::news::Info::DeviceLostMidBatch {
                    reason: format!("{reason:?}: {message}"),
                },
            },
            false => crate::protocol::failed(crate::protocol::Failure::DeviceLost {
                message: format!(
                    "the GPU device was lost ({reason:?}: {message}); press \"Load model\" to start again"
                ),
            }),
        };
        // Cloned out first: the page's handler must not run inside `with`.
        if let Some(emit) = worker_state::with(|w| w.emit.borrow().clone()) {
            emit(news);
        }
    });
    worker_state::with(|w| w.context.set(Some(c)));
    Ok(c)
}

/// Fetches (or reads) the model folder and uploads it, reporting download
/// progress as `Info` lines; encodes `early` (texts a first run will use)
/// as soon as the text encoder has arrived, while the rest still streams.
pub async fn load(source: &Source, early: &[String], emit: &Emit) -> Result<PageModel, String> {
    let ctx = context(emit).await?;
    let t0 = js_sys::Date::now();
    let mut shown = 0.0;
    // Each shard goes to the GPU as it arrives and is dropped.
    let mut building: Option<ModelLoader<GpuBackend<'static>>> = None;
    // When the early texts were encoded, and how many shards were still to come.
    let mut encoded_early: Option<(f64, usize)> = None;
    let progress = |p: &roentgen_weights::DownloadProgress| {
        let now = js_sys::Date::now();
        // A line per 100 ms is plenty, and keeps chunks cheap.
        if now - shown >= 100.0 || p.done() == p.total() {
            shown = now;
            emit(FromWorker::Info {
                info: Info::Downloading {
                    at: p.snapshot((now - t0) / 1e3),
                    heap_bytes: heap_bytes().into(),
                },
            });
        }
    };
    let sink = |arrived: fetch::Arrived| match arrived {
        fetch::Arrived::Folder {
            manifest,
            tokenizer,
        } => {
            let backend = GpuBackend::new(ctx, DType::F16);
            building =
                Some(ModelLoader::new(backend, manifest, tokenizer).map_err(|e| e.to_string())?);
            Ok(())
        }
        fetch::Arrived::Shard { index, bytes } => {
            let b = building
                .as_mut()
                .ok_or("a shard came before the manifest")?;
            b.add_shard(index, &bytes).map_err(|e| e.to_string())?;
            if !early.is_empty() && encoded_early.is_none() && b.text_encoder_ready() {
                let texts: Vec<&str> = early.iter().map(String::as_str).collect();
                b.encode_early(&texts).map_err(|e| e.to_string())?;
                encoded_early = Some(((js_sys::Date::now() - t0) / 1e3, b.shards_missing()));
            }
            Ok(())
        }
    };
    let fetched = fetch::model(source, progress, sink).await?;
    let loaded = Loaded {
        bytes: fetched.manifest.shards.iter().map(|s| s.bytes).sum(),
        shards: fetched.manifest.shards.len(),
        from: match fetched.whence {
            fetch::Whence::Local(place) => WeightsFrom::Local {
                place: place.into(),
            },
            fetch::Whence::Cache { cached, kind } => WeightsFrom::Network {
                cached,
                cache: kind.into(),
            },
        },
        secs: (js_sys::Date::now() - t0) / 1e3,
        heap_bytes: heap_bytes().into(),
        gpu_bytes: ctx.memory.live(),
        early: encoded_early,
        not_stored: fetched.not_stored,
    };
    emit(FromWorker::Info {
        info: Info::Loaded(loaded),
    });
    building
        .ok_or("the folder had no manifest")?
        .finish()
        .map_err(|e| e.to_string())
}

/// The worker's wasm memory: it only grows, so this is the load's peak.
pub fn heap_bytes() -> u32 {
    use wasm_bindgen::JsCast;
    wasm_bindgen::memory()
        .dyn_into::<js_sys::WebAssembly::Memory>()
        .map(|m| {
            m.buffer()
                .unchecked_into::<js_sys::ArrayBuffer>()
                .byte_length()
        })
        .unwrap_or(0)
}

/// This site's storage use and whether the browser keeps it.
pub async fn storage() -> Storage {
    Storage {
        persisted: shard_store::persisted().await,
        used_and_quota: shard_store::usage().await,
    }
}
