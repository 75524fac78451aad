//! Where the model comes from: the note that says which model is loaded,
//! "Model source" (a URL with credentials, a folder on this computer, a
//! diffusers folder to convert), the models stored in this browser, and
//! the download and storage lines.

use leptos::prelude::*;
use roentgen_weights::TensorDType;

use crate::protocol::{Phase, ToWorker};

use super::store::Store;
use super::{file_list, send};

/// Says what the loaded model is, in one line, so nobody takes the demo's
/// phantoms for RoentGen's radiographs (or a RoentGen folder for the demo).
#[component]
pub fn ModelNote() -> impl IntoView {
    let s = Store::get();
    let note = move || {
        if s.on_demo_model() {
            view! {
                "Model: the demo model, trained on procedural phantoms, not on patients (128x128). "
                <a data-testid="weights-help" href="README.md" target="_blank">"Use RoentGen weights"</a>
            }
            .into_any()
        } else {
            let about = s.loaded_about.get();
            let about = if about.is_empty() {
                String::new()
            } else {
                format!(" ({about})")
            };
            view! { {format!("Model: {}{about}", s.source.get())} }.into_any()
        }
    };
    view! { <p class="note" data-testid="model-note">{note}</p> }
}

/// Seconds the demo model's image took per step on a software adapter, as
/// a visitor waits for it (steps, decode and drawing): 109 s for 20 steps
/// in Chromium's SwiftShader on a 2-core AVX-512 machine
/// (`scripts/browser-first-image.mjs`, benchmarks/README.md, 2026-12-06;
/// 8 steps took 42-45 s). The notice's wait is worked out from it before
/// the first run; the progress line then gives the run's own.
const SOFTWARE_DEMO_STEP_S: f64 = 109.0 / 20.0;

/// An adapter that computes on the CPU: Chromium's SwiftShader, Mesa's
/// lavapipe (llvmpipe), or one wgpu calls a CPU.
fn is_software(report: &roentgen_gpu::AdapterReport) -> bool {
    let name = report.name.to_lowercase();
    report.device_type == "Cpu"
        || ["swiftshader", "llvmpipe", "lavapipe", "software"]
            .iter()
            .any(|w| name.contains(w))
}

/// One line, on a software adapter only: why the wait is minutes, and about
/// how many for the demo model at the chosen steps.
#[component]
pub fn SoftwareNotice(probe: ReadSignal<Option<crate::probe::Probe>>) -> impl IntoView {
    let s = Store::get();
    let line = move || {
        let Some(crate::probe::Probe::Ready { report, .. }) = probe.get() else {
            return None;
        };
        if !is_software(&report) {
            return None;
        }
        let wait = match (s.on_demo_model(), s.steps.get().trim().parse::<u32>()) {
            (true, Ok(steps)) => format!(
                ": about {} min for the demo model at {steps} steps",
                (steps as f64 * SOFTWARE_DEMO_STEP_S / 60.0).ceil().max(1.0)
            ),
            _ => String::new(),
        };
        // Firefox names no adapter (the probe then says "unnamed adapter").
        let name = match report.name.as_str() {
            "" | "unnamed adapter" => String::new(),
            n => format!(" ({n})"),
        };
        Some(format!(
            "No GPU in use: WebGPU runs on this computer's CPU{name}, so an image takes longer{wait}; \
             with a GPU, seconds."
        ))
    };
    view! {
        <Show when=move || line().is_some()>
            <p class="notice" data-testid="software-notice">{line}</p>
        </Show>
    }
}

/// The folder's files as the chooser gives them, each with its path in the
/// folder.
fn chosen_files(input: &web_sys::HtmlInputElement) -> Option<Vec<(String, web_sys::File)>> {
    let files = file_list(&input.files()?);
    Some(
        files
            .into_iter()
            .map(|f| {
                let p = js_sys::Reflect::get(&f, &"webkitRelativePath".into())
                    .ok()
                    .and_then(|p| p.as_string())
                    .filter(|p| !p.is_empty())
                    .unwrap_or_else(|| f.name());
                (p, f)
            })
            .collect(),
    )
}

/// "Model source", open when something failed.
#[component]
pub fn ModelSource() -> impl IntoView {
    let s = Store::get();
    view! {
        <details class="source" open=move || s.phase.with(|p| matches!(p, Phase::Failed { .. }))>
            <summary>"Model source"</summary>
            <label>"Folder URL (manifest.json inside)"
                <input data-testid="model-url" prop:value=move || s.source.get()
                    on:input=move |ev| s.source.set(event_target_value(&ev))/>
            </label>
            <label>"Authorization header for gated hosting (e.g. Bearer …)"
                <input data-testid="authorization" type="password" autocomplete="off"
                    prop:value=move || s.authorization.get()
                    on:input=move |ev| s.authorization.set(event_target_value(&ev))/>
            </label>
            <label class="inline">
                <input data-testid="cookies" type="checkbox" prop:checked=move || s.cookies.get()
                    on:change=move |ev| s.cookies.set(event_target_checked(&ev))/>
                " send my cookies for that host"
            </label>
            <button data-testid="load" on:click=move |_| s.start_load(None, None, None) disabled=move || s.busy()>
                "Load model"
            </button>
            <button data-testid="check" on:click=move |_| send(ToWorker::Check {
                url: Some(s.source.get_untracked()),
                stored: None,
                authorization: Some(s.authorization.get_untracked().trim().to_string())
                    .filter(|a| !a.is_empty()),
                cookies: s.cookies.get_untracked(),
            })>"Check this device first"</button>
            <p data-testid="check-line" class="note">{move || s.check.get().map(|c| c.to_string())}</p>
            <label>"…or a folder on this computer (choose it, or drop it here): a converted one, \
                    or RoentGen's own diffusers folder, which is converted here and kept in this browser"
                <input data-testid="folder" type="file" prop:webkitdirectory=true multiple=true
                    on:change=move |ev| {
                        if let Some(pairs) = chosen_files(&event_target(&ev)) {
                            s.open_folder(pairs);
                        }
                    }/>
            </label>
            <label>"Store converted weights as"
                <select data-testid="convert-dtype"
                    prop:value=move || if s.convert_dtype.get() == TensorDType::Q8 { "q8" } else { "f16" }
                    on:change=move |ev| s.convert_dtype.set(match event_target_value(&ev).as_str() {
                        "q8" => TensorDType::Q8,
                        _ => TensorDType::F16,
                    })>
                    <option value="f16">"f16 (as RoentGen runs; 2 GB)"</option>
                    <option value="q8">"q8 (int8 weights, about half: 1 GB)"</option>
                </select>
            </label>
            <label title="RoentGen-v2's prompts open with the patient's age, race/ethnicity and sex; the page then shows those fields. Nothing in the weights says so: tick it for such a model.">
                <input type="checkbox" data-testid="convert-demographics"
                    prop:checked=move || s.convert_demographics.get()
                    on:change=move |ev| s.convert_demographics.set(event_target_checked(&ev))/>
                " trained with age, sex and race/ethnicity in its prompts (RoentGen-v2)"
            </label>

            <p class="note">"Credentials stay in this tab: they are never stored or put in share links."</p>
        </details>
        <StoredModels/>
        <p data-testid="download" class="note">{move || s.info.get().map(|i| i.to_string())}
            " "
            <button data-testid="clear-cache" on:click=move |_| send(ToWorker::ClearCache)>
                "Clear cache"</button>
        </p>
        <p data-testid="storage" class="note">{move || s.storage.get().map(|v| v.to_string())}</p>
    }
}

/// The models converted in this browser: load, check or delete each.
#[component]
fn StoredModels() -> impl IntoView {
    let s = Store::get();
    let busy = move || s.busy();
    let list = move || {
        s.stored
            .get()
            .into_iter()
            .map(|m| {
                let (load_name, delete_name) = (m.name.clone(), m.name.clone());
                let what = if m.complete {
                    let size = if m.bytes >= 1_000_000_000 {
                        format!("{:.2} GB", m.bytes as f64 / 1e9)
                    } else {
                        format!("{:.0} MB", m.bytes as f64 / 1e6)
                    };
                    format!("{} · {} · {size}", m.name, m.dtype)
                } else {
                    format!("{} · incomplete (the conversion did not finish)", m.name)
                };
                view! {
                    <li data-testid="stored-model">
                        {what} " "
                        <button class="small" data-testid="stored-load" disabled=move || !m.complete || busy()
                            on:click=move |_| s.load_stored(load_name.clone())>"Load"</button>
                        " "
                        <button class="small" data-testid="stored-check" disabled=move || !m.complete
                            on:click={
                                let name = m.name.clone();
                                move |_| send(ToWorker::Check {
                                    url: None,
                                    stored: Some(name.clone()),
                                    authorization: None,
                                    cookies: false,
                                })
                            }>"Check"</button>
                        " "
                        <button class="small" data-testid="stored-delete" disabled=busy
                            on:click=move |_| send(ToWorker::DeleteStored { name: delete_name.clone() })>
                            "Delete"</button>
                    </li>
                }
            })
            .collect_view()
    };
    view! {
        <div data-testid="stored-models" class="stored" hidden=move || s.stored.get().is_empty()>
            <p class="note">"Models converted in this browser (kept until you delete them):"</p>
            <ul>{list}</ul>
        </div>
    }
}
