//! Prompt in, synthetic radiograph out: the model source (the bundled demo
//! model unless a link or the user names another), the settings, a share
//! link read on arrival, and the batch, compare and steps views. The panel
//! is small parts over one store: prompt_form.rs (what to draw),
//! run_controls.rs (generate, cancel, presenter, compare), results.rs (the
//! phase, progress and images), model_source.rs (where the model comes
//! from), the edit panel; store.rs holds their signals and actions, jobs.rs
//! makes a run's jobs.

mod jobs;
mod model_source;
mod prompt_form;
mod results;
mod run_controls;
mod store;

use std::cell::RefCell;
use std::rc::Rc;

use leptos::prelude::*;
use roentgen_model::scheduler::SchedulerKind;
use roentgen_model::share::ShareParams;

use crate::protocol::{Failure, Job, Phase, ToWorker};
use crate::worker_client::WorkerClient;
use jobs::Mode;
use model_source::{ModelNote, ModelSource, SoftwareNotice};
use prompt_form::{PromptBox, PromptSettings};
use results::Results;
use run_controls::{CompareForm, RunButtons};
use store::Store;

thread_local! {
    /// The generation worker: it owns the GPU device and the model.
    static CLIENT: RefCell<Option<Rc<WorkerClient>>> = const { RefCell::new(None) };
}

fn client() -> Option<Rc<WorkerClient>> {
    CLIENT.with(|c| c.borrow().clone())
}

pub(crate) fn send(msg: ToWorker) {
    if let Some(c) = client() {
        c.send(&msg);
    }
}

/// The bundled demo model (demo-model/model, trained on procedural phantoms),
/// copied into the build by Trunk.
const DEFAULT_MODEL: &str = "model/";

/// The demo model's sampling when a visit's link chooses none: DPM-Solver++
/// 2M at 8 steps. Its control table holds at its goal there (94.1% right on
/// presence and side, as at 10 steps, against 95.3% for PNDM at 20;
/// docs/demo-model.md) with 8 UNet calls instead of 20, so the first image
/// comes in well under half the time on a CPU adapter. Links that set
/// steps or a sampler, and other models, keep the usual defaults (20 steps,
/// the model's own sampler): every link made before draws what it drew.
const DEMO_SAMPLING: (usize, SchedulerKind) = (8, SchedulerKind::DpmSolver2M);

/// `params` with the demo model's sampling where the link leaves it open.
fn with_demo_sampling(mut params: ShareParams, query: &str) -> ShareParams {
    if params.model.is_none() && !ShareParams::link_sets_sampling(query) {
        (params.steps, params.scheduler) = (DEMO_SAMPLING.0, Some(DEMO_SAMPLING.1));
    }
    params
}

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

/// The panel: one store (store.rs) provided to its parts, the worker
/// spawned with the store as its listener, and a share link read on
/// arrival. `set_probe` receives the worker's adapter report and kernel
/// check.
#[component]
pub fn GeneratePanel(
    probe: ReadSignal<Option<crate::probe::Probe>>,
    set_probe: WriteSignal<Option<crate::probe::Probe>>,
    /// The GPU panel's step profile, which the worker's answer fills.
    profile: RwSignal<crate::adapter_panel::ProfileState>,
    /// Nothing runs or loads: the GPU panel may profile.
    idle: RwSignal<bool>,
) -> impl IntoView {
    let query = query();
    let link = ShareParams::parse(&query);
    let params = with_demo_sampling(link.clone().unwrap_or_default(), &query);
    // A visitor who came without a prompt finds an example sentence to run.
    let example = !query.contains("prompt=");
    let s = Store::new(&params, example, profile);
    Effect::new(move |_| idle.set(s.phase.with(|p| !p.is_busy())));
    provide_context(s);
    match WorkerClient::spawn(move |ev| s.on_event(ev, set_probe)) {
        Ok(c) => CLIENT.with(|slot| *slot.borrow_mut() = Some(Rc::new(c))),
        Err(message) => s.phase.set(Phase::failed(Failure::Worker { message })),
    }
    // The worker cannot ask the browser to keep its storage; the page can.
    if let Some(w) = web_sys::window() {
        let _ = w.navigator().storage().persist();
    }
    install_window_hooks();
    Effect::new(move |_| {
        // Tracked: a change of any of them recounts.
        let (p, ..) = (s.prompt.get(), s.age.get(), s.sex.get(), s.race.get());
        send(ToWorker::Tokens {
            text: s.composed(&p),
        })
    });
    let first_run = params.run.then_some(if params.compare.is_some() {
        Mode::Compare
    } else {
        Mode::Batch
    });
    s.start_load(first_run, link.clone().err(), None);

    // A dropped folder is read asynchronously (the entries API), then
    // loaded; a new drop while one is read replaces it.
    let read_drop =
        Action::new_local(|d: &crate::dropped::Dropped| crate::dropped::files(d.clone()));
    Effect::new(move |_| {
        let Some(read) = read_drop.value().get() else {
            return;
        };
        // Only a new result runs this again, not what loading it reads.
        untrack(move || match read {
            Ok(files) if !files.is_empty() => s.open_folder(files),
            Ok(_) => s.fail_input("nothing to load in what was dropped".into()),
            Err(e) => s.fail_input(format!("reading the dropped folder: {e}")),
        })
    });

    let edit_settings =
        Callback::new(move |(name, strength): (String, String)| edit_jobs(s, &name, &strength));
    let send_edit = Callback::new(move |(msg, file): (ToWorker, Option<web_sys::File>)| {
        let Some(c) = client() else { return };
        match file {
            Some(f) => c.send_with_files(&msg, &[f]),
            None => c.send(&msg),
        }
    });
    view! {
        <section class="panel"
                on:dragover=move |ev: web_sys::DragEvent| ev.prevent_default()
            on:drop=move |ev: web_sys::DragEvent| {
                ev.prevent_default();
                if let Some(dt) = ev.data_transfer() {
                    read_drop.dispatch_local(crate::dropped::take(&dt));
                }
            }>
            <ModelNote/>
            <SoftwareNotice probe/>
            // The first screen: the image (an example until the first run)
            // beside the prompt and Generate, or above them on a phone.
            <div class="first-screen">
                <div class="stage-area"><Results/></div>
                <div class="controls">
                    <PromptBox/>
                    <RunButtons/>
                    <PromptSettings/>
                    <CompareForm/>
                </div>
            </div>
            <crate::edit_panel::EditPanel opened=s.opened settings=edit_settings send=send_edit
                busy=Signal::derive(move || s.busy())/>
            <ModelSource/>
        </section>
    }
}

/// The edit panel's batch: the settings above, one job per seed, no share
/// link (the radiograph never leaves this browser).
fn edit_jobs(s: Store, name: &str, strength: &str) -> Option<(ShareParams, Vec<Job>, f64)> {
    let strength = match strength.trim().parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 1.0 => v,
        _ => {
            s.fail_input(format!("strength {strength:?}: use a number in (0, 1]"));
            return None;
        }
    };
    let p = s.settings(Mode::Batch)?;
    let first = p.seed.unwrap_or(1);
    let jobs: Vec<Job> = (0..p.count as u64)
        .map(|k| Job {
            prompt: p.prompt.clone(),
            seed: first + k,
            caption: format!(
                "edited {name}: \u{201c}{}\u{201d}, seed {}, strength {strength}",
                p.prompt,
                first + k
            ),
            file_name: format!("roentgen-edit-seed{}.png", first + k),
            link: String::new(),
        })
        .collect();
    s.comparing.set(false);
    s.phase.set(Phase::Generating { images: jobs.len() });
    Some((p, jobs, strength))
}

/// Hooks for tests and devtools on `window`: `roentgenLoseDevice()`
/// destroys the worker's device as a driver reset would (the recovery
/// path); `roentgenTimeSubmissions(on)` times every GPU submission from now
/// on, or stops and puts them in `window.roentgenSubmissions`
/// (scripts/browser-submissions.mjs).
fn install_window_hooks() {
    use wasm_bindgen::prelude::Closure;
    let Some(w) = web_sys::window() else { return };
    let f = Closure::<dyn Fn()>::new(|| send(ToWorker::LoseDevice));
    let _ = js_sys::Reflect::set(&w, &"roentgenLoseDevice".into(), f.as_ref());
    f.forget();
    let f = Closure::<dyn Fn(bool)>::new(|on: bool| send(ToWorker::TimeSubmissions { on }));
    let _ = js_sys::Reflect::set(&w, &"roentgenTimeSubmissions".into(), f.as_ref());
    f.forget();
    // scripts/browser-peer-bench.mjs: a UnetCall as JSON; the answer comes
    // back as `window.roentgenUnetCall` ({"Ok": ...} or {"Err": "why"}).
    let f = Closure::<dyn Fn(String)>::new(|json: String| {
        match serde_json::from_str::<crate::protocol::UnetCall>(&json) {
            Ok(call) => send(ToWorker::BenchUnetCall(call)),
            Err(e) => store::set_window_json(
                "roentgenUnetCall",
                &Err::<(), _>(format!("roentgenBenchUnetCall: {e}")),
            ),
        }
    });
    let _ = js_sys::Reflect::set(&w, &"roentgenBenchUnetCall".into(), f.as_ref());
    f.forget();
}
