//! Prompt in, synthetic radiograph out: the model source (the bundled demo
//! model unless a link or the user names another), the settings, a share
//! link read on arrival, and the batch, compare and steps views.

use std::cell::RefCell;
use std::rc::Rc;

use leptos::prelude::*;
use roentgen_model::SchedulerKind;
use roentgen_model::pipeline::texts_for;
use roentgen_model::share::{Compare, ShareParams};

use crate::gallery::{Frame, Gallery, Image, StepsStrip};
use crate::protocol::{Failure, FromWorker, Job, Phase, ToWorker};
use crate::worker_client::WorkerClient;
use roentgen_model::presets::PRESETS;
use roentgen_weights::TensorDType;

thread_local! {
    /// The generation worker: it owns the GPU device and the model.
    static CLIENT: RefCell<Option<Rc<WorkerClient>>> = const { RefCell::new(None) };
}

fn client() -> Option<Rc<WorkerClient>> {
    CLIENT.with(|c| c.borrow().clone())
}

fn send(msg: ToWorker) {
    if let Some(c) = client() {
        c.send(&msg);
    }
}

/// The bundled demo model (demo-model/model, trained on procedural phantoms),
/// copied into the build by Trunk.
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
    let link = |prompt: &str, seed: u64, compare: Option<Compare>| {
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
    match (mode, &p.compare) {
        (Mode::Batch, _) | (Mode::Compare, None) => (0..p.count as u64)
            .map(|k| Job {
                prompt: p.subject.compose(&p.prompt),
                seed: first + k,
                caption: format!("seed {}", first + k),
                file_name: format!("roentgen-seed{}.png", first + k),
                link: link(&p.prompt, first + k, None),
            })
            .collect(),
        (Mode::Compare, Some(compare)) => {
            let (other, other_subject) = compare.other(&p.prompt, &p.subject);
            let pair = link(&p.prompt, first, Some(compare.clone()));
            // Captions and file names say what differs.
            let (captions, names) = match compare {
                Compare::Findings(_) => (
                    [
                        format!("with: \u{201c}{}\u{201d}, seed {first}", p.prompt),
                        format!("without: \u{201c}{other}\u{201d}, seed {first}"),
                    ],
                    ["with".to_string(), "without".to_string()],
                ),
                Compare::Subject(v) => {
                    let (a, b) = (v.describe_in(&p.subject), v.describe_in(&other_subject));
                    let slug = |s: &str| s.replace(|c: char| !c.is_alphanumeric(), "-");
                    (
                        [
                            format!("{}: {a}, seed {first}", v.field()),
                            format!("{}: {b}, seed {first}", v.field()),
                        ],
                        [slug(&a), slug(&b)],
                    )
                }
            };
            let [with_caption, without_caption] = captions;
            let [with_name, without_name] = names;
            vec![
                Job {
                    prompt: p.subject.compose(&p.prompt),
                    seed: first,
                    caption: with_caption,
                    file_name: format!("roentgen-seed{first}-{with_name}.png"),
                    link: pair.clone(),
                },
                Job {
                    prompt: other_subject.compose(&other),
                    seed: first,
                    caption: without_caption,
                    file_name: format!("roentgen-seed{first}-{without_name}.png"),
                    link: pair,
                },
            ]
        }
    }
}

/// `set_probe` receives the worker's adapter report and kernel check.
#[component]
pub fn GeneratePanel(set_probe: WriteSignal<Option<crate::probe::Probe>>) -> impl IntoView {
    // The worker's phase, mirrored (set here too when the page starts
    // something, so the buttons lock at once).
    let (phase, set_phase) = signal(Phase::Loading);
    let fail_input =
        move |message: String| set_phase.set(Phase::failed(Failure::Input { message }));
    let (info, set_info) = signal(String::new());
    let link = ShareParams::parse(&query());
    let params = link.clone().unwrap_or_default();
    let prompt = RwSignal::new(params.prompt.clone());
    let compare_prompt = RwSignal::new(match &params.compare {
        Some(Compare::Findings(f)) => f.clone(),
        _ => String::new(),
    });
    // What the compare view varies: "findings" (the compare prompt) or a
    // demographic field ("age", "sex", "race") set to `compare_value`.
    let (compare_vary, compare_value) = match &params.compare {
        Some(Compare::Subject(v)) => (v.field().to_string(), v.value()),
        _ => ("findings".to_string(), String::new()),
    };
    let compare_vary = RwSignal::new(compare_vary);
    let compare_value = RwSignal::new(compare_value);
    let negative = RwSignal::new(params.negative.clone());
    // Who the radiograph is of, for a model trained with it (RoentGen-v2):
    // composed before the findings ("50 year old White female. ...").
    let age = RwSignal::new(
        params
            .subject
            .age
            .map(|a| a.to_string())
            .unwrap_or_default(),
    );
    let sex = RwSignal::new(
        params
            .subject
            .sex
            .map(|x| x.name().to_string())
            .unwrap_or_default(),
    );
    let race = RwSignal::new(params.subject.race.clone().unwrap_or_default());
    // The loaded model's manifest says it was trained with them.
    let demographics = RwSignal::new(false);
    let subject_query = move || {
        format!(
            "&age={}&sex={}&race={}",
            urlencode(age.get_untracked().trim()),
            urlencode(sex.get_untracked().trim()),
            urlencode(race.get_untracked().trim())
        )
    };
    // The patient's fields show for a model trained with them, or a link
    // that sets them.
    let show_subject = move || {
        demographics.get()
            || !(age.get().is_empty() && sex.get().is_empty() && race.get().is_empty())
    };
    // The prompt as the model reads it (the findings alone when no
    // demographic field is filled or a field does not parse).
    let composed = move |findings: &str| {
        ShareParams::parse(&subject_query())
            .map(|q| q.subject.compose(findings))
            .unwrap_or_else(|_| findings.to_string())
    };
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
    // Empty: the model's own size.
    let size = RwSignal::new(params.size.map(|s| s.to_string()).unwrap_or_default());
    let source = RwSignal::new(
        params
            .model
            .clone()
            .unwrap_or_else(|| DEFAULT_MODEL.to_string()),
    );
    let authorization = RwSignal::new(String::new());
    let cookies = RwSignal::new(false);
    // What the worker says the loaded model is (its family, size, prediction).
    let loaded_about = RwSignal::new(String::new());
    let storage = RwSignal::new(String::new());
    let progress = RwSignal::new(String::new());
    let preview = RwSignal::new(None::<String>);
    let frames = RwSignal::new(Vec::<Frame>::new());
    let frames_title = RwSignal::new(String::new());
    let strip_maps = RwSignal::new(Vec::<crate::protocol::WordMap>::new());
    let images = RwSignal::new(Vec::<Image>::new());
    let comparing = RwSignal::new(false);
    let tokens = RwSignal::new(None::<String>);
    let from_disk = RwSignal::new(false);
    let stored = RwSignal::new(Vec::<crate::model_store::StoredModel>::new());
    let convert_dtype = RwSignal::new(TensorDType::F16);
    let convert_demographics = RwSignal::new(false);
    let check_line = RwSignal::new(String::new());
    let opened = RwSignal::new(None::<crate::edit_panel::OpenedImage>);

    let settings_query = move |mode: Mode| {
        let text = format!(
            "prompt={}&negative={}&seed={}&steps={}&guidance={}&count={}&size={}{}{}{}",
            urlencode(&prompt.get_untracked()),
            urlencode(&negative.get_untracked()),
            seed.get_untracked().trim(),
            steps.get_untracked().trim(),
            guidance.get_untracked().trim(),
            count.get_untracked().trim(),
            urlencode(size.get_untracked().trim()),
            match scheduler.get_untracked().as_str() {
                "" => String::new(),
                s => format!("&scheduler={}", urlencode(s)),
            },
            match mode {
                Mode::Compare => match compare_vary.get_untracked().as_str() {
                    "findings" =>
                        format!("&compare={}", urlencode(&compare_prompt.get_untracked())),
                    field => format!(
                        "&compare_{field}={}",
                        urlencode(compare_value.get_untracked().trim())
                    ),
                },
                Mode::Batch => String::new(),
            },
            subject_query()
        );
        ShareParams::parse(&text)
            .map_err(|e| fail_input(e.to_string()))
            .ok()
    };
    let start = move |mode: Mode| {
        let Some(p) = settings_query(mode) else {
            return;
        };
        if mode == Mode::Compare && p.compare.is_none() {
            fail_input(format!(
                "compare: give the other image's {}",
                compare_vary.get_untracked()
            ));
            return;
        }
        // A folder on this computer cannot go into a link.
        let link_model = match from_disk.get_untracked() {
            true => DEFAULT_MODEL.to_string(),
            false => source.get_untracked(),
        };
        let jobs = jobs(&p, mode, &link_model);
        comparing.set(mode == Mode::Compare);
        set_phase.set(Phase::Generating { images: jobs.len() });
        send(ToWorker::Generate {
            query: p.to_query(),
            jobs,
        });
    };

    // What to do once the load is in: run the link, or report its error.
    let pending = StoredValue::new_local((None::<Mode>, None::<String>));
    let start_load =
        // `files`: a folder's name (None for loose files) and its files.
        move |run: Option<Mode>,
              link_error: Option<String>,
              files: Option<(Option<String>, Vec<web_sys::File>)>| {
            pending.set_value((run, link_error));
            set_phase.set(Phase::Loading);
            let Some(c) = client() else {
                return;
            };
            from_disk.set(files.is_some());
            // The texts a first run encodes, so the worker encodes them
            // while the UNet streams (none before a prompt is typed; a
            // guidance that does not parse is refused at Generate).
            let early_texts = {
                let (p, n) = (composed(&prompt.get_untracked()), negative.get_untracked());
                let g = guidance.get_untracked().trim().parse().unwrap_or(0.0);
                match p.is_empty() {
                    true => Vec::new(),
                    false => texts_for(&p, &n, g).into_iter().map(String::from).collect(),
                }
            };
            match files {
                Some((folder, files)) => c.send_with_files(
                    &ToWorker::Load {
                        url: None,
                        authorization: None,
                        cookies: false,
                        early_texts,
                        folder,
                    },
                    &files,
                ),
                None => c.send(&ToWorker::Load {
                    url: Some(source.get_untracked()),
                    authorization: Some(authorization.get_untracked().trim().to_string())
                        .filter(|a| !a.is_empty()),
                    cookies: cookies.get_untracked(),
                    early_texts,
                    folder: None,
                }),
            }
        };
    // A folder from disk: a converted one loads; a diffusers one (RoentGen
    // as its authors distribute it) is converted in the worker and stored.
    let open_folder = move |pairs: Vec<(String, web_sys::File)>| {
        let paths: Vec<String> = pairs.iter().map(|(p, _)| p.clone()).collect();
        let (folder, rel) = crate::web_folder::relative(&paths);
        let has = |p: &str| rel.iter().any(|r| r == p);
        let files: Vec<web_sys::File> = pairs.into_iter().map(|(_, f)| f).collect();
        if has("manifest.json") {
            start_load(None, None, Some((folder, files)));
        } else if has("unet/config.json") || has("model_index.json") {
            let Some(c) = client() else { return };
            from_disk.set(true);
            pending.set_value((None, None));
            set_phase.set(Phase::Converting);
            c.send_with_files(
                &ToWorker::Convert {
                    name: crate::model_store::name_from(folder.as_deref().unwrap_or("model")),
                    dtype: convert_dtype.get_untracked(),
                    paths: rel,
                    demographic_prompts: convert_demographics.get_untracked(),
                },
                &files,
            );
        } else {
            fail_input(
                "this is neither a converted model folder (manifest.json) nor a diffusers \
                 folder (model_index.json, text_encoder/, unet/, vae/, tokenizer/, scheduler/)"
                    .into(),
            );
        }
    };
    let on_event = move |ev: FromWorker| match ev {
        FromWorker::Phase {
            phase: Phase::Ready,
        } => {
            let (run, link_error) = pending.get_value();
            pending.set_value((None, None));
            match (link_error, run) {
                (Some(e), _) => fail_input(format!("link: {e}")),
                (None, Some(mode)) => {
                    set_phase.set(Phase::Ready);
                    start(mode);
                }
                (None, None) => set_phase.set(Phase::Ready),
            }
        }
        FromWorker::Phase { phase } => set_phase.set(phase),
        FromWorker::Info { text } => set_info.set(text),
        FromWorker::Storage { text } => storage.set(text),
        FromWorker::StoredModels { models } => stored.set(models),
        FromWorker::Check { text } => check_line.set(text),
        // For benchmark scripts: the timings as `window.roentgenSubmissions`.
        FromWorker::Submissions { timings } => {
            if let (Some(w), Ok(json)) = (web_sys::window(), serde_json::to_string(&timings))
                && let Ok(value) = js_sys::JSON::parse(&json)
            {
                let _ = js_sys::Reflect::set(&w, &"roentgenSubmissions".into(), &value);
            }
        }
        FromWorker::Loaded {
            label,
            about,
            demographic_prompts,
        } => {
            loaded_about.set(about);
            demographics.set(demographic_prompts);
            if from_disk.get_untracked() {
                // Images name the folder they came from.
                source.set(label);
            }
            send(ToWorker::Tokens {
                text: prompt.get_untracked(),
            });
        }
        FromWorker::Tokens { text } => tokens.set(text),
        FromWorker::Progress { text } => progress.set(text),
        FromWorker::Preview { src } => preview.set(src),
        FromWorker::FramesReset { title } => {
            frames.set(Vec::new());
            strip_maps.set(Vec::new());
            frames_title.set(title);
        }
        FromWorker::Frame { frame } => frames.update(|f| f.push(frame)),
        FromWorker::ImagesReset => images.set(Vec::new()),
        FromWorker::Image { image } => {
            strip_maps.set(image.maps.clone());
            images.update(|v| v.push(image));
        }
        FromWorker::Probe { probe } => set_probe.set(Some(probe)),
        FromWorker::EditImage {
            src,
            width,
            height,
            name,
            read_as,
        } => opened.set(Some(crate::edit_panel::OpenedImage {
            src,
            width,
            height,
            name,
            read_as,
        })),
        FromWorker::Started => {}
    };
    match WorkerClient::spawn(on_event) {
        Ok(c) => CLIENT.with(|slot| *slot.borrow_mut() = Some(Rc::new(c))),
        Err(message) => set_phase.set(Phase::failed(Failure::Worker { message })),
    }
    // The worker cannot ask the browser to keep its storage; the page can.
    if let Some(w) = web_sys::window() {
        let _ = w.navigator().storage().persist();
    }
    // window.roentgenLoseDevice(): destroys the worker's device as a driver
    // reset would, to try the recovery path (tests, devtools).
    {
        use wasm_bindgen::prelude::Closure;
        let f = Closure::<dyn Fn()>::new(|| send(ToWorker::LoseDevice));
        if let Some(w) = web_sys::window() {
            let _ = js_sys::Reflect::set(&w, &"roentgenLoseDevice".into(), f.as_ref());
        }
        f.forget();
        // window.roentgenTimeSubmissions(on): times every GPU submission
        // from now on, or stops and puts them in window.roentgenSubmissions
        // (scripts/browser-submissions.mjs).
        let f = Closure::<dyn Fn(bool)>::new(|on: bool| send(ToWorker::TimeSubmissions { on }));
        if let Some(w) = web_sys::window() {
            let _ = js_sys::Reflect::set(&w, &"roentgenTimeSubmissions".into(), f.as_ref());
        }
        f.forget();
    }
    Effect::new(move |_| {
        // Tracked: a change of any of them recounts.
        let (p, ..) = (prompt.get(), age.get(), sex.get(), race.get());
        send(ToWorker::Tokens { text: composed(&p) })
    });
    let first_run = params.run.then_some(if params.compare.is_some() {
        Mode::Compare
    } else {
        Mode::Batch
    });
    start_load(first_run, link.clone().err(), None);

    // The edit panel's batch: the settings above, one job per seed, no
    // share link (the radiograph never leaves this browser).
    let edit_settings = Callback::new(move |(name, strength): (String, String)| {
        let strength = match strength.trim().parse::<f64>() {
            Ok(s) if s > 0.0 && s <= 1.0 => s,
            _ => {
                fail_input(format!("strength {strength:?}: use a number in (0, 1]"));
                return None;
            }
        };
        let p = settings_query(Mode::Batch)?;
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
        comparing.set(false);
        set_phase.set(Phase::Generating { images: jobs.len() });
        Some((p.to_query(), jobs, strength))
    });
    let send_edit = Callback::new(move |(msg, file): (ToWorker, Option<web_sys::File>)| {
        let Some(c) = client() else { return };
        match file {
            Some(f) => c.send_with_files(&msg, &[f]),
            None => c.send(&msg),
        }
    });
    let schedulers = SchedulerKind::ALL
        .iter()
        .map(|k| view! { <option value=k.name()>{k.name()}</option> })
        .collect_view();
    let presets = PRESETS
        .iter()
        .enumerate()
        .map(|(i, (label, _, _))| view! { <option value=i.to_string()>{*label}</option> })
        .collect_view();
    let busy = move || phase.with(Phase::is_busy);
    // The finding preset last chosen (the select, or N in the presenter view).
    let preset = RwSignal::new(None::<usize>);
    let apply_preset = move |i: usize| {
        if let Some((_, with, without)) = PRESETS.get(i) {
            preset.set(Some(i));
            prompt.set(with.to_string());
            compare_prompt.set(without.to_string());
            compare_vary.set("findings".to_string());
        }
    };
    let presenting = RwSignal::new(false);
    let stage = crate::presenter::Stage {
        images,
        preview,
        progress,
        prompt,
        comparing,
    };
    let present_generate = Callback::new(move |compare: bool| {
        if !busy() {
            start(if compare { Mode::Compare } else { Mode::Batch });
        }
    });
    let next_preset = Callback::new(move |()| {
        apply_preset(
            preset
                .get_untracked()
                .map_or(0, |i| (i + 1) % PRESETS.len()),
        );
    });
    let stored_list = move || {
        stored
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
                            on:click=move |_| {
                                from_disk.set(true);
                                pending.set_value((None, None));
                                set_phase.set(Phase::Loading);
                                send(ToWorker::LoadStored { name: load_name.clone() });
                            }>"Load"</button>
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
    // Says what the loaded model is, so nobody takes the demo's phantoms for
    // RoentGen's radiographs (or a RoentGen folder for the demo).
    let model_note = move || {
        if source.get() == DEFAULT_MODEL && !from_disk.get() {
            view! {
                "The default model is the demo model, trained on procedural phantoms, not on patients: "
                "it draws 128x128 chest-radiograph-like phantoms with the findings, sides and sizes a "
                "prompt names (docs/demo-model.md's control table says how often; thin devices less often). "
                <a data-testid="weights-help" href="README.md" target="_blank">"How to use RoentGen weights"</a>
                " (README, section \"Real RoentGen weights\")."
            }
            .into_any()
        } else {
            let about = loaded_about.get();
            let about = if about.is_empty() {
                String::new()
            } else {
                format!(" ({about})")
            };
            view! { {format!("Model: {}{about}", source.get())} }.into_any()
        }
    };
    view! {
        <section class="panel"
                on:dragover=move |ev: web_sys::DragEvent| ev.prevent_default()
            on:drop=move |ev: web_sys::DragEvent| {
                ev.prevent_default();
                if let Some(dt) = ev.data_transfer() {
                    let dropped = crate::dropped::take(&dt);
                    leptos::task::spawn_local(async move {
                        match crate::dropped::files(dropped).await {
                            Ok(files) if !files.is_empty() => open_folder(files),
                            Ok(_) => fail_input("nothing to load in what was dropped".into()),
                            Err(e) => fail_input(format!("reading the dropped folder: {e}")),
                        }
                    });
                }
            }>
            <h2>"Generate"</h2>
            <p class="note" data-testid="model-note">{model_note}</p>
            <label>"Finding preset"
                <select data-testid="preset" prop:value=move || preset.get().map(|i| i.to_string()).unwrap_or_default()
                    on:change=move |ev| {
                    if let Ok(i) = event_target_value(&ev).parse::<usize>() {
                        apply_preset(i);
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
            <p data-testid="tokens">{move || tokens.get()}</p>
            <Show when=show_subject>
                <div class="row" data-testid="subject">
                    <label>"Age" <input data-testid="age" size="4" prop:value=move || age.get()
                        on:input=move |ev| age.set(event_target_value(&ev))/></label>
                    <label>"Sex"
                        <select data-testid="sex" prop:value=move || sex.get()
                            on:change=move |ev| sex.set(event_target_value(&ev))>
                            <option value="">"—"</option>
                            <option value="female">"female"</option>
                            <option value="male">"male"</option>
                        </select>
                    </label>
                    <label>"Race/ethnicity" <input data-testid="race" size="14" prop:value=move || race.get()
                        on:input=move |ev| race.set(event_target_value(&ev))/></label>
                </div>
                <p class="note" data-testid="subject-sentence">{move || {
                    let sentence = composed("");
                    if sentence.is_empty() {
                        "This model was trained with the patient's age, sex and race/ethnicity before the findings.".to_string()
                    } else {
                        format!("The prompt opens with: \u{201c}{sentence}\u{201d}")
                    }
                }}</p>
            </Show>
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
                <label title="WIDTHxHEIGHT in pixels; empty: the model's own (512 for RoentGen). Smaller is faster on a slow GPU.">"Size"
                    <input data-testid="size" size="9" placeholder="model's own" prop:value=move || size.get()
                        on:input=move |ev| size.set(event_target_value(&ev))/></label>
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
            <button data-testid="cancel" on:click=move |_| send(ToWorker::Cancel)
                disabled=move || !phase.with(Phase::is_cancellable)>"Cancel"</button>
            <button data-testid="presenter-open" title="Full screen for a projector, with a QR code of the image's link"
                on:click=move |_| presenting.set(true)>"Presenter view"</button>
            <crate::presenter::PresenterView stage=stage open=presenting generate=present_generate
                next_preset=next_preset/>
            <div class="compare-form">
                // A model trained with demographics can also vary the
                // patient: the same seed and findings, one part changed.
                <Show when=show_subject>
                    <label>"Compare varies"
                        <select data-testid="compare-vary" prop:value=move || compare_vary.get()
                            on:change=move |ev| {
                                let field = event_target_value(&ev);
                                // Sex has one other value: offer it.
                                if field == "sex" && compare_value.get_untracked().trim().is_empty() {
                                    let other = match sex.get_untracked().as_str() {
                                        "male" => "female",
                                        _ => "male",
                                    };
                                    compare_value.set(other.to_string());
                                }
                                compare_vary.set(field);
                            }>
                            <option value="findings">"the findings"</option>
                            <option value="age">"age"</option>
                            <option value="sex">"sex"</option>
                            <option value="race">"race/ethnicity"</option>
                        </select>
                    </label>
                </Show>
                <Show when=move || compare_vary.get() == "findings"
                    fallback=move || view! {
                        <label>{move || format!("Other image's {} (same seed, findings and settings)",
                                match compare_vary.get().as_str() { "race" => "race/ethnicity".to_string(), f => f.to_string() })}
                            <input data-testid="compare-value" size="14" prop:value=move || compare_value.get()
                                on:input=move |ev| compare_value.set(event_target_value(&ev))/>
                        </label>
                    }>
                    <label>"Compare with (same seed and settings)"
                        <input data-testid="compare-prompt" prop:value=move || compare_prompt.get()
                            on:input=move |ev| compare_prompt.set(event_target_value(&ev))/>
                    </label>
                </Show>
                <button data-testid="compare" on:click=move |_| start(Mode::Compare) disabled=busy>
                    "Compare side by side"
                </button>
            </div>
            <crate::edit_panel::EditPanel opened=opened settings=edit_settings send=send_edit
                busy=Signal::derive(busy)/>
            <p data-testid="status" data-phase=move || phase.with(Phase::name)>{move || phase.get().to_string()}</p>
            <p data-testid="progress" class="note">{move || progress.get()}</p>
            {move || preview.get().map(|src| view! {
                <img class="preview" data-testid="preview" src=src alt="latent preview"/>
            })}
            <Gallery images=images compare=comparing/>
            <StepsStrip frames=frames title=frames_title maps=strip_maps/>
            <details class="source" open=move || phase.with(|p| matches!(p, Phase::Failed { .. }))>
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
                <button data-testid="check" on:click=move |_| send(ToWorker::Check {
                    url: Some(source.get_untracked()),
                    stored: None,
                    authorization: Some(authorization.get_untracked().trim().to_string())
                        .filter(|a| !a.is_empty()),
                    cookies: cookies.get_untracked(),
                })>"Check this device first"</button>
                <p data-testid="check-line" class="note">{move || check_line.get()}</p>
                <label>"…or a folder on this computer (choose it, or drop it here): a converted one, \
                        or RoentGen's own diffusers folder, which is converted here and kept in this browser"
                    <input data-testid="folder" type="file" prop:webkitdirectory=true multiple=true
                        on:change=move |ev| {
                            let input: web_sys::HtmlInputElement = event_target(&ev);
                            if let Some(files) = input.files().map(|l| file_list(&l)) {
                                let pairs = files
                                    .into_iter()
                                    .map(|f| {
                                        let p = js_sys::Reflect::get(&f, &"webkitRelativePath".into())
                                            .ok()
                                            .and_then(|p| p.as_string())
                                            .filter(|p| !p.is_empty())
                                            .unwrap_or_else(|| f.name());
                                        (p, f)
                                    })
                                    .collect();
                                open_folder(pairs);
                            }
                        }/>
                </label>
                <label>"Store converted weights as"
                    <select data-testid="convert-dtype"
                        prop:value=move || if convert_dtype.get() == TensorDType::Q8 { "q8" } else { "f16" }
                        on:change=move |ev| convert_dtype.set(match event_target_value(&ev).as_str() {
                            "q8" => TensorDType::Q8,
                            _ => TensorDType::F16,
                        })>
                        <option value="f16">"f16 (as RoentGen runs; 2 GB)"</option>
                        <option value="q8">"q8 (int8 weights, about half: 1 GB)"</option>
                    </select>
                </label>
                <label title="RoentGen-v2's prompts open with the patient's age, race/ethnicity and sex; the page then shows those fields. Nothing in the weights says so: tick it for such a model.">
                    <input type="checkbox" data-testid="convert-demographics"
                        prop:checked=move || convert_demographics.get()
                        on:change=move |ev| convert_demographics.set(event_target_checked(&ev))/>
                    " trained with age, sex and race/ethnicity in its prompts (RoentGen-v2)"
                </label>

                <p class="note">"Credentials stay in this tab: they are never stored or put in share links."</p>
            </details>
            <div data-testid="stored-models" class="stored" hidden=move || stored.get().is_empty()>
                <p class="note">"Models converted in this browser (kept until you delete them):"</p>
                <ul>{stored_list}</ul>
            </div>
            <p data-testid="download" class="note">{move || info.get()}
                " "
                <button data-testid="clear-cache" on:click=move |_| send(ToWorker::ClearCache)>
                    "Clear cache"</button>
            </p>
            <p data-testid="storage" class="note">{move || storage.get()}</p>
        </section>
    }
}
