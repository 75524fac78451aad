//! (Worker side.) The one GPU device and one loaded model, and how a model
//! gets in: fetched (or read from the shard store, or from disk), then
//! uploaded.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use roentgen_gpu::{ContextOptions, DType, GpuContext};
use roentgen_model::{GpuBackend, Model, ModelLoader};

use crate::fetch::{self, Source};
use crate::protocol::FromWorker;
use crate::shard_store;

pub type PageModel = Model<GpuBackend<'static>>;

/// Where the worker's news goes (posted to the page).
pub type Emit = Rc<dyn Fn(FromWorker)>;

thread_local! {
    /// Made on the first load and kept: wgpu's browser types are not Send,
    /// so both live on this thread for the worker's lifetime.
    static CONTEXT: Cell<Option<&'static GpuContext>> = const { Cell::new(None) };
    static MODEL: RefCell<Option<Rc<PageModel>>> = const { RefCell::new(None) };
    /// Set when the device was lost, until a new one is made.
    static LOST: Cell<bool> = const { Cell::new(false) };
    /// The lost-device callback must be Send; it reaches the page through this.
    static EMIT: RefCell<Option<Emit>> = const { RefCell::new(None) };
    /// A batch is running: it carries on by itself after a lost device.
    static BUSY: Cell<bool> = const { Cell::new(false) };
}

/// A batch runs (set by the engine around it).
pub fn set_busy(busy: bool) {
    BUSY.with(|b| b.set(busy));
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
    MODEL.with(|m| m.borrow().clone())
}

/// Makes `m` the loaded model (replacing the old one); returns it.
pub fn install(m: PageModel) -> Rc<PageModel> {
    let m = Rc::new(m);
    MODEL.with(|slot| *slot.borrow_mut() = Some(m.clone()));
    m
}

/// Forgets the loaded model, freeing its GPU memory.
pub fn unload() {
    MODEL.with(|slot| *slot.borrow_mut() = None);
}

/// The device was lost (its message is in the status line already).
pub fn device_lost() -> bool {
    LOST.with(|l| l.get())
}

/// Destroys the device as a driver reset would, so the recovery path can be
/// exercised (tests, devtools).
/// The device, if one was made (and not lost since).
pub fn current_context() -> Option<&'static GpuContext> {
    CONTEXT.with(|c| c.get())
}

pub fn lose_device() {
    if let Some(c) = CONTEXT.with(|c| c.get()) {
        c.device.destroy();
    }
}

/// The device, made on first use. If the browser loses it (driver reset,
/// GPU process crash) the page is told, device and model are forgotten, and
/// the next load starts afresh.
pub async fn context(emit: &Emit) -> Result<&'static GpuContext, String> {
    EMIT.with(|e| *e.borrow_mut() = Some(emit.clone()));
    if let Some(c) = CONTEXT.with(|c| c.get()) {
        return Ok(c);
    }
    let c = GpuContext::new(ContextOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    let c: &'static GpuContext = Box::leak(Box::new(c));
    LOST.with(|l| l.set(false));
    c.device.set_device_lost_callback(move |reason, message| {
        LOST.with(|l| l.set(true));
        CONTEXT.with(|slot| slot.set(None));
        MODEL.with(|slot| *slot.borrow_mut() = None);
        // A running batch loads the model again and carries on (engine.rs);
        // otherwise the next load starts afresh.
        let news = match BUSY.with(|b| b.get()) {
            true => FromWorker::Info {
                text: format!("the GPU device was lost ({reason:?}: {message})"),
            },
            false => crate::protocol::failed(crate::protocol::Failure::DeviceLost {
                message: format!(
                    "the GPU device was lost ({reason:?}: {message}); press \"Load model\" to start again"
                ),
            }),
        };
        EMIT.with(|e| {
            if let Some(emit) = e.borrow().as_ref() {
                emit(news);
            }
        });
    });
    CONTEXT.with(|slot| slot.set(Some(c)));
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
                text: format!(
                    "downloading: {} · wasm heap {:.0} MB",
                    p.summary((now - t0) / 1e3),
                    heap_bytes() as f64 / 1e6
                ),
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
    let seconds = (js_sys::Date::now() - t0) / 1e3;
    let mb = fetched.manifest.shards.iter().map(|s| s.bytes).sum::<u64>() as f64 / 1e6;
    let shards = fetched.manifest.shards.len();
    let whence = match fetched.whence {
        fetch::Whence::Local(place) => format!("{shards} shards, {place}"),
        fetch::Whence::Cache { cached, kind } => {
            format!("{cached} of {shards} shards from this browser's cache ({kind})")
        }
    };
    let mut line = format!(
        "weights: {mb:.1} MB, {whence}, {seconds:.1} s; wasm heap {:.0} MB, GPU {:.0} MB",
        heap_bytes() as f64 / 1e6,
        ctx.memory.live() as f64 / 1e6,
    );
    if let Some((at, missing)) = encoded_early {
        line += &format!("; prompt encoded at {at:.1} s, {missing} shards before the end");
    }
    if !fetched.not_stored.is_empty() {
        line += &format!(
            "; not kept for next time (storage full?): {}",
            fetched.not_stored.join(", ")
        );
    }
    emit(FromWorker::Info { text: line });
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

/// "storage: 5.0 MB used by this site, of 10.7 GB the browser allows;
/// persistent", or what the browser may do with it otherwise.
pub async fn storage_line() -> String {
    let kept = match shard_store::persisted().await {
        Some(true) => "; persistent: kept until you clear it",
        Some(false) => {
            "; not persistent: the browser may clear it when the disk runs low (bookmarking or installing the page usually lets it keep it)"
        }
        None => "",
    };
    match shard_store::usage().await {
        Some((used, quota)) => format!(
            "storage: {:.1} MB used by this site, of {:.1} GB the browser allows{kept}",
            used / 1e6,
            quota / 1e9
        ),
        None => "storage: this browser does not report its usage".into(),
    }
}
