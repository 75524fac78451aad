//! (Worker side.) The generation worker: owns the GPU device, the model and
//! the downloads, and answers the page's messages. Everything slow — hashing
//! shards, parsing the 3.6 MB tokenizer, uploading weights, encoding each
//! UNet step — happens here, so the page's thread stays free.

use std::rc::Rc;

use js_sys::Array;
use roentgen_model::share::ShareParams;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use wasm_bindgen_futures::spawn_local;

use crate::fetch::Source;
use crate::http::Credentials;
use crate::loader::{self, Emit};
use crate::news::{Check, Info, Progress, TokenCount};
use crate::probe::{self, Probe};
use crate::protocol::{Failure, FromWorker, Phase, ToWorker, failed, phase};
use crate::{runner, shard_store, worker_state};

/// How many times one batch loads the model again after losing the device
/// before it gives up (a device lost on every try is a device that cannot
/// run this model, not a passing reset).
const RELOADS_PER_BATCH: usize = 2;

/// Installs the message handler; called once by the worker's `main`.
pub fn start() {
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let out = scope.clone();
    let emit: Emit = Rc::new(move |m: FromWorker| {
        if let Ok(json) = serde_json::to_string(&m) {
            let _ = out.post_message(&json.into());
        }
    });
    let handler_emit = emit.clone();
    let on_message =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
            let data = ev.data();
            let (json, extra) = match data.dyn_ref::<Array>() {
                Some(a) => (a.get(0), a.get(1)),
                None => (data, wasm_bindgen::JsValue::UNDEFINED),
            };
            match json
                .as_string()
                .map(|t| serde_json::from_str::<ToWorker>(&t))
            {
                Some(Ok(msg)) => handle(msg, extra, handler_emit.clone()),
                _ => handler_emit(failed(Failure::Worker {
                    message: "the page sent the worker a message it does not know".into(),
                })),
            }
        });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    // The device and the self-check come first, on the device the model will
    // use: its pipelines are compiled once, and the page's messages (held
    // until `Started`) find the device ready.
    spawn_local(async move {
        let t0 = js_sys::Date::now();
        let probe = match loader::context(&emit).await {
            Ok(ctx) => probe::run(ctx, (js_sys::Date::now() - t0) / 1e3).await,
            Err(message) => Probe::Failed { message },
        };
        emit(FromWorker::Probe { probe });
        emit(FromWorker::Started);
        stored_models(&emit).await;
    });
}

/// Tells the page which models this browser stores.
async fn stored_models(emit: &Emit) {
    match crate::model_store::list().await {
        Ok(models) => emit(FromWorker::StoredModels { models }),
        Err(error) => emit(FromWorker::Info {
            info: Info::StoredListFailed { error },
        }),
    }
}

/// Loads `source` as the model, replacing the old one, and reports;
/// `early` (the texts a first run will encode) are encoded as soon as the
/// text encoder has arrived.
async fn load_model(source: Source, early: &[String], emit: &Emit) {
    // Free the old model's GPU memory before the new one arrives.
    loader::unload();
    emit(phase(Phase::Loading));
    match loader::load(&source, early, emit).await {
        Ok(m) => {
            let (about, demographic_prompts) = (m.describe(), m.demographic_prompts);
            loader::install(m);
            let label = source.label();
            worker_state::with(|w| {
                *w.label.borrow_mut() = label.clone();
                *w.source.borrow_mut() = Some(source);
            });
            emit(FromWorker::Loaded {
                label,
                about,
                demographic_prompts,
            });
            emit(phase(Phase::Ready));
        }
        Err(message) => emit(failed(Failure::Model { message })),
    }
    emit(FromWorker::Storage {
        storage: loader::storage().await,
    });
}

fn files(extra: wasm_bindgen::JsValue) -> Vec<web_sys::File> {
    extra
        .dyn_into::<Array>()
        .map(|a| a.iter().filter_map(|f| f.dyn_into().ok()).collect())
        .unwrap_or_default()
}

/// Makes `jobs` (from the prompt, or editing the open radiograph) and says
/// how it ended on the status line.
fn run_batch(
    model: std::rc::Rc<loader::PageModel>,
    p: ShareParams,
    jobs: Vec<crate::protocol::Job>,
    edit: Option<crate::editing::EditInput>,
    emit: Emit,
) {
    let label = worker_state::with(|w| w.label.borrow().clone());
    let generating = phase(Phase::Generating { images: jobs.len() });
    emit(generating.clone());
    spawn_local(async move {
        loader::set_busy(true);
        let mut model = model;
        let mut from = None;
        let mut reloads = 0;
        let end =
            loop {
                let stopped =
                    match runner::run(model, &p, jobs.clone(), &label, edit.as_ref(), from, &emit)
                        .await
                    {
                        Ok(true) => break Phase::Done,
                        Ok(false) => break Phase::Ready,
                        Err(s) => s,
                    };
                if !loader::lost_soon().await {
                    break Phase::failed(Failure::Model {
                        message: stopped.error,
                    });
                }
                let source = worker_state::with(|w| w.source.borrow_mut().take());
                let (Some(source), Some(at), true) =
                    (source, stopped.at, reloads < RELOADS_PER_BATCH)
                else {
                    break Phase::failed(Failure::DeviceLost {
                        message: "the GPU device was lost; press \"Load model\" to start again"
                            .into(),
                    });
                };
                reloads += 1;
                emit(FromWorker::Progress {
                    progress: Progress::Reloading { from: at.point() },
                });
                let reloaded = match loader::load(&source, &[], &emit).await {
                    Ok(m) => loader::install(m),
                    Err(e) => {
                        break Phase::failed(Failure::DeviceLost {
                            message: format!(
                                "the GPU device was lost, and loading the model again failed: {e}"
                            ),
                        });
                    }
                };
                worker_state::with(|w| *w.source.borrow_mut() = Some(source));
                emit(generating.clone());
                model = reloaded;
                from = Some(at);
            };
        loader::set_busy(false);
        emit(phase(end));
    });
}

/// One message from the page: each kind to its own function.
fn handle(msg: ToWorker, extra: wasm_bindgen::JsValue, emit: Emit) {
    match msg {
        ToWorker::Cancel => {
            runner::cancel();
            crate::converting::cancel();
        }
        ToWorker::Convert {
            name,
            dtype,
            paths,
            demographic_prompts,
        } => {
            let files = paths.into_iter().zip(files(extra)).collect();
            convert(name, dtype, files, demographic_prompts, emit);
        }
        ToWorker::Check {
            url,
            stored,
            authorization,
            cookies,
        } => {
            let target = match (stored, url) {
                (Some(name), _) => crate::device_check::Target::Stored(name),
                (None, Some(base)) => crate::device_check::Target::Url {
                    base,
                    creds: Credentials {
                        authorization,
                        cookies,
                    },
                },
                (None, None) => return,
            };
            check(target, emit);
        }
        ToWorker::OpenImage { fit } => open_image(fit, extra, &emit),
        ToWorker::Edit(request) => edit(request, emit),
        ToWorker::LoadStored { name } => spawn_local(async move {
            load_model(Source::Stored(name), &[], &emit).await;
        }),
        ToWorker::DeleteStored { name } => spawn_local(delete_stored(name, emit)),
        ToWorker::LoseDevice => loader::lose_device(),
        ToWorker::TimeSubmissions { on } => spawn_local(time_submissions(on, emit)),
        ToWorker::Profile => spawn_local(async move {
            let result = crate::profile_step::run().await;
            emit(FromWorker::Profile { result });
        }),
        ToWorker::BenchUnetCall(call) => spawn_local(async move {
            let result = crate::peer_bench::run(call).await;
            emit(FromWorker::UnetCall { result });
        }),
        ToWorker::Tokens { text } => emit(FromWorker::Tokens {
            count: token_count(&text),
        }),
        ToWorker::ClearCache => spawn_local(clear_cache(emit)),
        ToWorker::Load {
            url,
            authorization,
            cookies,
            early_texts,
            folder,
        } => {
            let source = match url {
                Some(base) => Source::Url {
                    base,
                    creds: Credentials {
                        authorization,
                        cookies,
                    },
                },
                None => Source::Files {
                    files: files(extra),
                    folder: folder.unwrap_or_else(|| "files".into()),
                },
            };
            spawn_local(async move { load_model(source, &early_texts, &emit).await });
        }
        ToWorker::Generate { settings, jobs } => generate(settings, jobs, emit),
    }
}

/// Converts a diffusers folder into stored model `name`, then loads it.
/// The loaded model stays until the converted one replaces it, so a
/// cancelled or refused conversion leaves the page as it was.
fn convert(
    name: String,
    dtype: roentgen_weights::TensorDType,
    files: Vec<(String, web_sys::File)>,
    demographic_prompts: bool,
    emit: Emit,
) {
    emit(phase(Phase::Converting));
    spawn_local(async move {
        let folder = crate::web_folder::WebFolder::new(name.clone(), files);
        let t0 = js_sys::Date::now();
        let done = crate::converting::run(folder, &name, dtype, demographic_prompts, &emit).await;
        stored_models(&emit).await;
        match done {
            Ok(true) => {
                emit(FromWorker::Progress {
                    progress: Progress::Converted {
                        name: name.clone(),
                        secs: (js_sys::Date::now() - t0) / 1e3,
                        heap_bytes: loader::heap_bytes().into(),
                    },
                });
                load_model(Source::Stored(name), &[], &emit).await;
            }
            Ok(false) => emit(phase(Phase::Cancelled)),
            Err(message) => emit(failed(Failure::Convert { name, message })),
        }
    });
}

/// Whether this device can run a model, from its manifest alone.
fn check(target: crate::device_check::Target, emit: Emit) {
    emit(FromWorker::Check {
        check: Check::Running,
    });
    spawn_local(async move {
        let check = match crate::device_check::check(target).await {
            Ok(fits) => fits,
            Err(message) => Check::Refused { message },
        };
        emit(FromWorker::Check { check });
    });
}

/// Opens the radiograph sent alongside, fitted to the loaded model.
fn open_image(fit: roentgen_imaging::Fit, extra: wasm_bindgen::JsValue, emit: &Emit) {
    let Some(model) = loader::model() else {
        emit(failed(Failure::Edit {
            message: "load a model before opening a radiograph".into(),
        }));
        return;
    };
    let Some(file) = files(extra).into_iter().next() else {
        return;
    };
    match crate::editing::open(&file, fit, &model) {
        Ok(ev) => emit(ev),
        Err(message) => emit(failed(Failure::Edit { message })),
    }
}

fn edit(r: crate::protocol::EditRequest, emit: Emit) {
    let Some(model) = loader::model() else {
        emit(failed(Failure::NoModel));
        return;
    };
    let mask = r.mask.as_deref().map(|m| (m, r.mask_width, r.mask_height));
    match crate::editing::input(&model, r.strength, mask, r.keep_outside) {
        Ok(input) => run_batch(model, r.settings, r.jobs, Some(input), emit),
        Err(message) => emit(failed(Failure::Edit { message })),
    }
}

fn generate(settings: ShareParams, jobs: Vec<crate::protocol::Job>, emit: Emit) {
    match loader::model() {
        Some(model) => run_batch(model, settings, jobs, None, emit),
        None => emit(failed(Failure::NoModel)),
    }
}

async fn delete_stored(name: String, emit: Emit) {
    let info = match crate::model_store::delete(&name).await {
        Ok(()) => Info::Deleted { name },
        Err(error) => Info::DeleteFailed { name, error },
    };
    emit(FromWorker::Info { info });
    stored_models(&emit).await;
    emit(FromWorker::Storage {
        storage: loader::storage().await,
    });
}

/// Starts timing every GPU submission, or stops and reports them.
async fn time_submissions(on: bool, emit: Emit) {
    let Some(c) = loader::current_context() else {
        emit(FromWorker::Info {
            info: Info::NothingToTime,
        });
        return;
    };
    // The browser's queue cannot be waited on; natively it can.
    #[cfg(target_arch = "wasm32")]
    let timings = c.time_submissions(on).await;
    #[cfg(not(target_arch = "wasm32"))]
    let timings = c.time_submissions(on);
    if !on {
        let timings = timings
            .into_iter()
            .map(|t| crate::protocol::SubmitTime {
                dispatches: t.dispatches,
                gflop: t.flops as f64 / 1e9,
                secs: t.secs,
                first: t.first.to_string(),
                last: t.last.to_string(),
            })
            .collect();
        emit(FromWorker::Submissions { timings });
    }
}

/// The prompt's tokens, and what CLIP would cut; None before a model (its
/// tokenizer) is in.
fn token_count(text: &str) -> Option<TokenCount> {
    loader::model()
        .and_then(|m| m.tokenizer.encode(text).ok())
        .map(|t| TokenCount {
            used: t.used,
            cut: t.truncated,
        })
}

async fn clear_cache(emit: Emit) {
    let info = match shard_store::clear().await {
        Ok(()) => Info::CacheCleared,
        Err(error) => Info::CacheClearFailed { error },
    };
    emit(FromWorker::Info { info });
    emit(FromWorker::Storage {
        storage: loader::storage().await,
    });
}
