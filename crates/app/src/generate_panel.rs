//! Prompt in, synthetic radiograph out: loads the model (the bundled test
//! model unless a link names another), reads a share link, generates on the
//! GPU and shows each image as the same PNG the CLI writes.

use std::rc::Rc;

use base64::Engine;
use leptos::prelude::*;
use leptos::task::spawn_local;
use roentgen_gpu::{ContextOptions, DType, GpuContext};
use roentgen_model::share::ShareParams;
use roentgen_model::{GpuBackend, Model, Request, SchedulerKind};

use crate::http::Credentials;
use crate::{fetch, shard_store};

type PageModel = Model<GpuBackend<'static>>;

/// The bundled test model, copied into the build by Trunk.
const DEFAULT_MODEL: &str = "model/";

async fn load(
    base: String,
    creds: Credentials,
    status: WriteSignal<String>,
    info: WriteSignal<String>,
) -> Result<PageModel, String> {
    status.set("loading".into());
    let ctx = match context() {
        Some(c) => c,
        None => {
            let c = GpuContext::new(ContextOptions::default())
                .await
                .map_err(|e| e.to_string())?;
            // The page keeps one device for its lifetime.
            let c: &'static GpuContext = Box::leak(Box::new(c));
            CONTEXT.with(|slot| slot.set(Some(c)));
            c
        }
    };
    let t0 = js_sys::Date::now();
    let mut shown = 0.0;
    let mut fetched = fetch::model(&base, &creds, |p| {
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
async fn storage_line() -> String {
    match shard_store::usage().await {
        Some((used, quota)) => format!(
            "storage: {:.1} MB used by this site, of {:.1} GB the browser allows",
            used / 1e6,
            quota / 1e9
        ),
        None => "storage: this browser does not report its usage".into(),
    }
}

fn query() -> String {
    web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default()
}

thread_local! {
    /// The page's one GPU device, made on the first load and kept.
    static CONTEXT: std::cell::Cell<Option<&'static GpuContext>> = const { std::cell::Cell::new(None) };
    /// The loaded model: the page's one, living as long as the page (wgpu's
    /// browser types are not Send, so it stays on this thread).
    static MODEL: std::cell::RefCell<Option<Rc<PageModel>>> = const { std::cell::RefCell::new(None) };
}

fn context() -> Option<&'static GpuContext> {
    CONTEXT.with(|c| c.get())
}

fn model() -> Option<Rc<PageModel>> {
    MODEL.with(|m| m.borrow().clone())
}

/// One finished image.
#[derive(Clone)]
struct Image {
    src: String,
    seed: u64,
}

#[component]
pub fn GeneratePanel() -> impl IntoView {
    let (status, set_status) = signal("loading".to_string());
    let (info, set_info) = signal(String::new());
    let link = ShareParams::parse(&query());
    let params = link.clone().unwrap_or_default();
    let prompt = RwSignal::new(params.prompt.clone());
    let negative = RwSignal::new(params.negative.clone());
    let seed = RwSignal::new(params.seed.unwrap_or(1).to_string());
    let steps = RwSignal::new(params.steps.to_string());
    let guidance = RwSignal::new(params.guidance.to_string());
    let scheduler = RwSignal::new(
        params
            .scheduler
            .map(|k| k.name().to_string())
            .unwrap_or_default(),
    );
    let count = RwSignal::new(params.count.to_string());
    let images = RwSignal::new(Vec::<Image>::new());
    let source = RwSignal::new(
        params
            .model
            .clone()
            .unwrap_or_else(|| DEFAULT_MODEL.to_string()),
    );
    let authorization = RwSignal::new(String::new());
    let cookies = RwSignal::new(false);
    let storage = RwSignal::new(String::new());

    let tokens = {
        move || {
            let text = prompt.get();
            // Re-run once the model is in (status changes then).
            let _ = status.get();
            let m = model()?;
            let t = m.tokenizer.encode(&text).ok()?;
            Some(if t.truncated.is_empty() {
                format!("{} / 77 tokens", t.used)
            } else {
                format!("{} / 77 tokens; cut: {}", t.used, t.truncated)
            })
        }
    };

    let generate = {
        move || {
            let Some(model) = model() else {
                return;
            };
            let text = format!(
                "prompt={}&negative={}&seed={}&steps={}&guidance={}&count={}{}",
                urlencode(&prompt.get_untracked()),
                urlencode(&negative.get_untracked()),
                seed.get_untracked().trim(),
                steps.get_untracked().trim(),
                guidance.get_untracked().trim(),
                count.get_untracked().trim(),
                match scheduler.get_untracked().as_str() {
                    "" => String::new(),
                    s => format!("&scheduler={}", urlencode(s)),
                }
            );
            let p = match ShareParams::parse(&text) {
                Ok(p) => p,
                Err(e) => {
                    set_status.set(format!("error: {e}"));
                    return;
                }
            };
            let source = source.get_untracked();
            spawn_local(async move {
                set_status.set("generating".into());
                let (h, w) = model.default_latent_hw();
                let kind = p
                    .scheduler
                    .unwrap_or_else(|| model.scheduler.default_kind());
                let first = p.seed.unwrap_or(1);
                let mut out = Vec::new();
                for k in 0..p.count as u64 {
                    let req = Request {
                        prompt: p.prompt.clone(),
                        negative: p.negative.clone(),
                        steps: p.steps,
                        guidance: p.guidance,
                        scheduler: kind,
                        seed: first + k,
                        latent_hw: (h, w),
                    };
                    let img = match model.generate(&req, None, |_, _| true).await {
                        Ok(o) => o,
                        Err(e) => {
                            set_status.set(format!("error: {e}"));
                            return;
                        }
                    };
                    let png = match roentgen_model::png::encode_rgb8(
                        img.width,
                        img.height,
                        &img.rgb8(),
                        &roentgen_model::png::metadata(&req, &source),
                    ) {
                        Ok(b) => b,
                        Err(e) => {
                            set_status.set(format!("error: {e}"));
                            return;
                        }
                    };
                    let b64 = base64::engine::general_purpose::STANDARD.encode(png);
                    out.push(Image {
                        src: format!("data:image/png;base64,{b64}"),
                        seed: req.seed,
                    });
                }
                images.set(out);
                set_status.set("done".into());
            });
        }
    };

    let start_load = {
        move |run: bool, link_error: Option<String>| {
            let creds = Credentials {
                authorization: Some(authorization.get_untracked().trim().to_string())
                    .filter(|a| !a.is_empty()),
                cookies: cookies.get_untracked(),
            };
            let src = source.get_untracked();
            // Free the old model's GPU memory before the new one arrives.
            MODEL.with(|slot| *slot.borrow_mut() = None);
            spawn_local(async move {
                match load(src, creds, set_status, set_info).await {
                    Ok(m) => {
                        MODEL.with(|slot| *slot.borrow_mut() = Some(Rc::new(m)));
                        match link_error {
                            Some(e) => set_status.set(format!("error: link: {e}")),
                            None => {
                                set_status.set("ready".into());
                                if run {
                                    generate();
                                }
                            }
                        }
                    }
                    Err(e) => set_status.set(format!("error: {e}")),
                }
                storage.set(storage_line().await);
            });
        }
    };
    start_load(params.run, link.clone().err().map(|e| e.to_string()));

    let schedulers = SchedulerKind::ALL
        .iter()
        .map(|k| view! { <option value=k.name()>{k.name()}</option> })
        .collect_view();
    let on_click = move |_| generate();
    view! {
        <section class="panel">
            <h2>"Generate"</h2>
            <p class="note">
                "The bundled model is a tiny test model with random weights: it shows the "
                "pipeline working but does not draw radiographs. See the README for RoentGen weights."
            </p>
            <details class="source" open=move || status.get().starts_with("error")>
                <summary>"Model source"</summary>
                <label>"Folder URL (manifest.json inside)"
                    <input data-testid="model-url" prop:value=move || source.get()
                        on:input=move |ev| source.set(event_target_value(&ev))/>
                </label>
                <label>"Authorization header for gated hosting (e.g. Bearer …)"
                    <input data-testid="authorization" type="password" autocomplete="off"
                        prop:value=move || authorization.get()
                        on:input=move |ev| authorization.set(event_target_value(&ev))/>
                </label>
                <label class="inline">
                    <input data-testid="cookies" type="checkbox" prop:checked=move || cookies.get()
                        on:change=move |ev| cookies.set(event_target_checked(&ev))/>
                    " send my cookies for that host"
                </label>
                <button data-testid="load" on:click=move |_| start_load(false, None) disabled=move || status.get() == "loading" || status.get() == "generating">
                    "Load model"
                </button>
                <p class="note">"Credentials stay in this tab: they are never stored or put in share links."</p>
            </details>
            <label>"Prompt"
                <textarea data-testid="prompt" prop:value=move || prompt.get()
                    on:input=move |ev| prompt.set(event_target_value(&ev))></textarea>
            </label>
            <p data-testid="tokens">{tokens}</p>
            <label>"Negative prompt"
                <input data-testid="negative" prop:value=move || negative.get()
                    on:input=move |ev| negative.set(event_target_value(&ev))/>
            </label>
            <div class="row">
                <label>"Seed" <input data-testid="seed" prop:value=move || seed.get()
                    on:input=move |ev| seed.set(event_target_value(&ev))/></label>
                <label>"Steps" <input data-testid="steps" prop:value=move || steps.get()
                    on:input=move |ev| steps.set(event_target_value(&ev))/></label>
                <label>"Guidance" <input data-testid="guidance" prop:value=move || guidance.get()
                    on:input=move |ev| guidance.set(event_target_value(&ev))/></label>
                <label>"Images" <input data-testid="count" prop:value=move || count.get()
                    on:input=move |ev| count.set(event_target_value(&ev))/></label>
                <label>"Scheduler"
                    <select data-testid="scheduler" prop:value=move || scheduler.get()
                        on:change=move |ev| scheduler.set(event_target_value(&ev))>
                        <option value="">"model default"</option>
                        {schedulers}
                    </select>
                </label>
            </div>
            <button data-testid="generate" on:click=on_click
                disabled=move || status.get() == "loading" || status.get() == "generating">
                "Generate"
            </button>
            <p data-testid="status">{move || status.get()}</p>
            <p data-testid="download" class="note">{move || info.get()}
                " "
                <button data-testid="clear-cache" on:click=move |_| {
                    spawn_local(async move {
                        match shard_store::clear().await {
                            Ok(()) => set_info.set("cache cleared: the next visit downloads the weights again".into()),
                            Err(e) => set_info.set(format!("could not clear the cache: {e}")),
                        }
                        storage.set(storage_line().await);
                    });
                }>"Clear cache"</button>
            </p>
            <p data-testid="storage" class="note">{move || storage.get()}</p>
            <div class="gallery">
                {move || images.get().into_iter().map(|img| view! {
                    <figure>
                        <img data-testid="result" src=img.src alt="synthetic chest X-ray"/>
                        <figcaption>{format!("seed {} — synthetic, not for diagnosis", img.seed)}</figcaption>
                    </figure>
                }).collect_view()}
            </div>
        </section>
    }
}

fn urlencode(s: &str) -> String {
    js_sys::encode_uri_component(s)
        .as_string()
        .unwrap_or_default()
}
