//! (Worker side.) Converts a dropped diffusers folder into a stored model:
//! the converter `weights-tools` uses (roentgen-convert), reading the files
//! a slice at a time and writing each shard to OPFS as it closes, with
//! progress, cancel between tensors, and a storage check before it starts.

use std::cell::Cell;

use roentgen_convert::{ConvertOptions, Converter};
use roentgen_weights::TensorDType;

use crate::loader::Emit;
use crate::model_store;
use crate::news::{Progress, gb};
use crate::protocol::FromWorker;
use crate::web_folder::WebFolder;
use crate::worker_state;

/// Asks a running conversion to stop after its current tensor.
pub fn cancel() {
    worker_state::with(|w| w.cancel_conversion.set(true));
}

/// Converts `folder` into stored model `name`; on error or cancel the
/// partial model is deleted. Ok(false) when cancelled.
/// `demographic_prompts` goes into the manifest as `weights-tools convert
/// --demographic-prompts` writes it.
pub async fn run(
    folder: WebFolder,
    name: &str,
    dtype: TensorDType,
    demographic_prompts: bool,
    emit: &Emit,
) -> Result<bool, String> {
    worker_state::with(|w| w.cancel_conversion.set(false));
    model_store::check_name(name)?;
    // Complete or not: an interrupted conversion's folder counts too.
    if model_store::model_dir(name, false).await.is_ok() {
        return Err(format!(
            "a model named {name:?} is stored already: delete it first, or rename the folder"
        ));
    }
    let opts = ConvertOptions {
        dtype,
        shard_bytes: 32 << 20,
        keep_encoder: true,
    };
    let mut conv = Converter::new(&folder, opts).map_err(|e| format!("{e:#}"))?;
    let need = conv.output_bytes() + (8 << 20);
    if let Some((used, quota)) = crate::shard_store::usage().await {
        let free = (quota - used).max(0.0) as u64;
        if free < need {
            return Err(format!(
                "not enough storage: the converted model needs {}, this browser lets this site store {} more ({FREE_SOME})",
                gb(need),
                gb(free)
            ));
        }
    }
    let dir = model_store::model_dir(name, true).await?;
    // The estimate is the browser's guess: a write can still be refused (a
    // disk filling meanwhile, a quota the estimate does not show).
    let store = Store {
        dir: &dir,
        written: Cell::new(0),
        need,
    };
    let result = convert_into(&mut conv, &store, emit).await;
    match result {
        Ok(true) => {}
        other => {
            drop(conv);
            let _ = model_store::delete(name).await;
            return other;
        }
    }
    let done = conv.finish().map_err(|e| format!("{e:#}"));
    let mut done = match done {
        Ok(d) => d,
        Err(e) => {
            let _ = model_store::delete(name).await;
            return Err(e);
        }
    };
    done.manifest.demographic_prompts = demographic_prompts;
    let write_rest = async {
        for (file, bytes) in &done.shards {
            store.write(file, bytes).await?;
        }
        store
            .write("tokenizer.json", done.tokenizer.as_bytes())
            .await?;
        // Last: a folder with a manifest is a complete model.
        store
            .write("manifest.json", done.manifest.to_json().as_bytes())
            .await
    };
    if let Err(e) = write_rest.await {
        let _ = model_store::delete(name).await;
        return Err(e);
    }
    Ok(true)
}

/// What to do when a model does not fit.
const FREE_SOME: &str =
    "free disk space, delete stored models, or pick q8, about half the size; nothing was kept";

/// The stored model's folder, counting what went in so that a refused
/// write can say how far it got.
struct Store<'a> {
    dir: &'a web_sys::FileSystemDirectoryHandle,
    written: Cell<u64>,
    need: u64,
}

impl Store<'_> {
    async fn write(&self, file: &str, bytes: &[u8]) -> Result<(), String> {
        match model_store::write_file(self.dir, file, bytes).await {
            Ok(()) => {
                self.written.set(self.written.get() + bytes.len() as u64);
                Ok(())
            }
            // QuotaExceededError: its message names the quota in every
            // engine; the name itself does not survive `http::js`.
            Err(e) if e.to_lowercase().contains("quota") => Err(format!(
                "not enough storage: this browser refused to store more for this site after {} of the converted model's {} ({FREE_SOME})",
                gb(self.written.get()),
                gb(self.need)
            )),
            Err(e) => Err(e),
        }
    }
}

async fn convert_into(
    conv: &mut Converter<'_>,
    store: &Store<'_>,
    emit: &Emit,
) -> Result<bool, String> {
    let t0 = js_sys::Date::now();
    let mut shown = 0.0;
    let mut yielded = t0;
    loop {
        let step = conv.step().map_err(|e| format!("{e:#}"))?;
        let Some(shards) = step else {
            return Ok(true);
        };
        for (file, bytes) in &shards {
            store.write(file, bytes).await?;
        }
        let now = js_sys::Date::now();
        // The event loop gets a turn every 50 ms (a Cancel message gets in
        // then); the flag is read after every tensor.
        if now - yielded > 50.0 {
            crate::loader::sleep_ms(0).await;
            yielded = js_sys::Date::now();
        }
        if worker_state::with(|w| w.cancel_conversion.get()) {
            emit(FromWorker::Progress {
                progress: Progress::ConversionCancelled,
            });
            return Ok(false);
        }
        if now - shown > 250.0 {
            shown = now;
            let p = conv.progress();
            let secs = (now - t0) / 1e3;
            let rate = p.done as f64 / secs.max(1e-3);
            let left = (p.total - p.done) as f64 / rate.max(1.0);
            emit(FromWorker::Progress {
                progress: Progress::Converting {
                    done: p.done,
                    total: p.total,
                    file: p.file.to_string(),
                    bytes_per_sec: rate,
                    left_secs: left,
                    heap_bytes: crate::loader::heap_bytes().into(),
                },
            });
        }
    }
}
