//! Prompt in, synthetic radiograph out: the model source (the bundled test
//! model unless a link or the user names another), the settings, a share
//! link read on arrival, and the batch, compare and steps views.

use leptos::prelude::*;
use leptos::task::spawn_local;
use roentgen_model::SchedulerKind;
use roentgen_model::share::ShareParams;

use crate::fetch::Source;
use crate::gallery::{Frame, Gallery, Image, StepsStrip};
use crate::http::Credentials;
use crate::loader::{self, model};
use crate::presets::PRESETS;
use crate::runner::{self, Job, Ui};
use crate::shard_store;

/// The bundled test model, copied into the build by Trunk.
const DEFAULT_MODEL: &str = "model/";

fn query() -> String {
    web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default()
}

fn urlencode(s: &str) -> String {
    js_sys::encode_uri_component(s)
        .as_string()
        .unwrap_or_default()
}

fn file_list(list: &web_sys::FileList) -> Vec<web_sys::File> {
    (0..list.length()).filter_map(|i| list.get(i)).collect()
}

/// What Generate or Compare makes.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// `count` images, seeds seed..seed + count.
    Batch,
    /// The prompt and the compare prompt, same seed, side by side.
    Compare,
}

/// The jobs of a run, each with its caption, file name and share link.
fn jobs(p: &ShareParams, mode: Mode, source: &str) -> Vec<Job> {
    let first = p.seed.unwrap_or(1);
    let model = (source != DEFAULT_MODEL).then(|| source.to_string());
    let link = |prompt: &str, seed: u64, compare: Option<String>| {
        let q = ShareParams {
            model: model.clone(),
            prompt: prompt.to_string(),
            compare,
            seed: Some(seed),
            count: 1,
            run: true,
            ..p.clone()
        };
        format!("{}&run=1", q.to_query())
    };
    match mode {
        Mode::Batch => (0..p.count as u64)
            .map(|k| Job {
                prompt: p.prompt.clone(),
                seed: first + k,
                caption: format!("seed {}", first + k),
                file_name: format!("roentgen-seed{}.png", first + k),
                link: link(&p.prompt, first + k, None),
            })
            .collect(),
        Mode::Compare => {
            let other = p.compare.clone().unwrap_or_default();
            let pair = link(&p.prompt, first, Some(other.clone()));
            vec![
                Job {
                    prompt: p.prompt.clone(),
                    seed: first,
                    caption: format!("with: \u{201c}{}\u{201d}, seed {first}", p.prompt),
                    file_name: format!("roentgen-seed{first}-with.png"),
                    link: pair.clone(),
                },
                Job {
                    prompt: other.clone(),
                    seed: first,
                    caption: format!("without: \u{201c}{other}\u{201d}, seed {first}"),
                    file_name: format!("roentgen-seed{first}-without.png"),
                    link: pair,
                },
            ]
        }
    }
}

#[component]
pub fn GeneratePanel() -> impl IntoView {
    let (status, set_status) = signal("loading".to_string());
    let (info, set_info) = signal(String::new());
    let link = ShareParams::parse(&query());
    let params = link.clone().unwrap_or_default();
    let prompt = RwSignal::new(params.prompt.clone());
    let compare_prompt = RwSignal::new(params.compare.clone().unwrap_or_default());
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
    let source = RwSignal::new(
        params
            .model
            .clone()
            .unwrap_or_else(|| DEFAULT_MODEL.to_string()),
    );
    let authorization = RwSignal::new(String::new());
    let cookies = RwSignal::new(false);
    let storage = RwSignal::new(String::new());
    let ui = Ui {
        progress: RwSignal::new(String::new()),
        preview: RwSignal::new(None),
        frames: RwSignal::new(Vec::<Frame>::new()),
        frames_title: RwSignal::new(String::new()),
        images: RwSignal::new(Vec::<Image>::new()),
    };
    let comparing = RwSignal::new(false);

    let tokens = move || {
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
    };

    let start = move |mode: Mode| {
        let Some(model) = model() else {
            return;
        };
        let text = format!(
            "prompt={}&negative={}&seed={}&steps={}&guidance={}&count={}{}{}",
            urlencode(&prompt.get_untracked()),
            urlencode(&negative.get_untracked()),
            seed.get_untracked().trim(),
            steps.get_untracked().trim(),
            guidance.get_untracked().trim(),
            count.get_untracked().trim(),
            match scheduler.get_untracked().as_str() {
                "" => String::new(),
                s => format!("&scheduler={}", urlencode(s)),
            },
            match mode {
                Mode::Compare => format!("&compare={}", urlencode(&compare_prompt.get_untracked())),
                Mode::Batch => String::new(),
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
        let jobs = jobs(&p, mode, &source);
        comparing.set(mode == Mode::Compare);
        spawn_local(async move {
            set_status.set("generating".into());
            match runner::run(model, &p, jobs, &source, ui).await {
                Ok(true) => set_status.set("done".into()),
                Ok(false) => set_status.set("ready".into()),
                // The lost-device message says more than the failed read.
                Err(_) if loader::device_lost() => {}
                Err(e) => set_status.set(format!("error: {e}")),
            }
        });
    };

    let start_load =
        move |run: Option<Mode>, link_error: Option<String>, files: Option<Vec<web_sys::File>>| {
            let from = match files {
                Some(files) => Source::Files(files),
                None => Source::Url {
                    base: source.get_untracked(),
                    creds: Credentials {
                        authorization: Some(authorization.get_untracked().trim().to_string())
                            .filter(|a| !a.is_empty()),
                        cookies: cookies.get_untracked(),
                    },
                },
            };
            // Free the old model's GPU memory before the new one arrives.
            loader::set_model(None);
            set_status.set("loading".into());
            spawn_local(async move {
                match loader::load(&from, set_status, set_info).await {
                    Ok(m) => {
                        loader::set_model(Some(m));
                        if let Source::Files(_) = from {
                            // Images name the folder they came from.
                            source.set(from.label());
                        }
                        match (link_error, run) {
                            (Some(e), _) => set_status.set(format!("error: link: {e}")),
                            (None, Some(mode)) => {
                                set_status.set("ready".into());
                                start(mode);
                            }
                            (None, None) => set_status.set("ready".into()),
                        }
                    }
                    Err(e) => set_status.set(format!("error: {e}")),
                }
                storage.set(loader::storage_line().await);
            });
        };
    let first_run = params.run.then_some(if params.compare.is_some() {
        Mode::Compare
    } else {
        Mode::Batch
    });
    start_load(first_run, link.clone().err(), None);
    loader::install_lose_device_hook();

    let schedulers = SchedulerKind::ALL
        .iter()
        .map(|k| view! { <option value=k.name()>{k.name()}</option> })
        .collect_view();
    let presets = PRESETS
        .iter()
        .enumerate()
        .map(|(i, (label, _, _))| view! { <option value=i.to_string()>{*label}</option> })
        .collect_view();
    let busy = move || status.get() == "loading" || status.get() == "generating";
    view! {
        <section class="panel">
            <h2>"Generate"</h2>
            <p class="note">
                "The bundled model is a tiny test model with random weights: it shows the "
                "pipeline working but does not draw radiographs. "
                <a data-testid="weights-help" href="README.md" target="_blank">
                    "How to use RoentGen weights"</a>" (README, section \"Real RoentGen weights\")."
            </p>
            <details class="source" open=move || status.get().starts_with("error")
                on:dragover=move |ev: web_sys::DragEvent| ev.prevent_default()
                on:drop=move |ev: web_sys::DragEvent| {
                    ev.prevent_default();
                    if let Some(files) = ev.data_transfer().and_then(|d| d.files()).map(|l| file_list(&l)) {
                        start_load(None, None, Some(files));
                    }
                }>
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
                <button data-testid="load" on:click=move |_| start_load(None, None, None) disabled=busy>
                    "Load model"
                </button>
                <label>"…or a converted folder on this computer (choose it, or drop its files here)"
                    <input data-testid="folder" type="file" prop:webkitdirectory=true multiple=true
                        on:change=move |ev| {
                            let input: web_sys::HtmlInputElement = event_target(&ev);
                            if let Some(files) = input.files().map(|l| file_list(&l)) {
                                start_load(None, None, Some(files));
                            }
                        }/>
                </label>
                <p class="note">"Credentials stay in this tab: they are never stored or put in share links."</p>
            </details>
            <label>"Finding preset"
                <select data-testid="preset" on:change=move |ev| {
                    if let Some((_, with, without)) = event_target_value(&ev)
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| PRESETS.get(i))
                    {
                        prompt.set(with.to_string());
                        compare_prompt.set(without.to_string());
                    }
                }>
                    <option value="">"choose a finding…"</option>
                    {presets}
                </select>
            </label>
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
                <button class="small" data-testid="random-seed" on:click=move |_| {
                    let s = (js_sys::Math::random() * 4294967296.0) as u64;
                    seed.set(s.to_string());
                }>"random seed"</button>
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
            <button data-testid="generate" on:click=move |_| start(Mode::Batch) disabled=busy>
                "Generate"
            </button>
            <button data-testid="cancel" on:click=move |_| runner::cancel()
                disabled=move || status.get() != "generating">"Cancel"</button>
            <div class="compare-form">
                <label>"Compare with (same seed and settings)"
                    <input data-testid="compare-prompt" prop:value=move || compare_prompt.get()
                        on:input=move |ev| compare_prompt.set(event_target_value(&ev))/>
                </label>
                <button data-testid="compare" on:click=move |_| start(Mode::Compare) disabled=busy>
                    "Compare side by side"
                </button>
            </div>
            <p data-testid="status">{move || status.get()}</p>
            <p data-testid="progress" class="note">{move || ui.progress.get()}</p>
            {move || ui.preview.get().map(|src| view! {
                <img class="preview" data-testid="preview" src=src alt="latent preview"/>
            })}
            <Gallery images=ui.images compare=comparing/>
            <StepsStrip frames=ui.frames title=ui.frames_title/>
            <p data-testid="download" class="note">{move || info.get()}
                " "
                <button data-testid="clear-cache" on:click=move |_| {
                    spawn_local(async move {
                        match shard_store::clear().await {
                            Ok(()) => set_info.set("cache cleared: the next visit downloads the weights again".into()),
                            Err(e) => set_info.set(format!("could not clear the cache: {e}")),
                        }
                        storage.set(loader::storage_line().await);
                    });
                }>"Clear cache"</button>
            </p>
            <p data-testid="storage" class="note">{move || storage.get()}</p>
        </section>
    }
}
