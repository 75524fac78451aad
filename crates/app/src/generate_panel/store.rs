//! The generate panel's one store: every setting, what the worker last
//! said, and the actions that start work. The panel makes it once and
//! provides it as context; each component reads and writes the signals it
//! shows. Signals are `Copy`, so the store is too.

use leptos::prelude::*;
use roentgen_model::SchedulerKind;
use roentgen_model::pipeline::texts_for;
use roentgen_model::presets::PRESETS;
use roentgen_model::share::{Compare, ShareParams};
use roentgen_weights::TensorDType;

use crate::adapter_panel::ProfileState;
use crate::gallery::{Frame, Image};
use crate::news::{Check, Info, Progress, Storage, TokenCount};
use crate::protocol::{Failure, FromWorker, Phase, ToWorker, WordMap};

use super::jobs::{Mode, jobs};
use super::{DEFAULT_MODEL, client, send, urlencode};

/// The prompt a visitor without a link finds: a sentence as a report
/// would say it, which the demo model draws.
pub const EXAMPLE_PROMPT: &str = "Small left pleural effusion.";

/// What the compare view changes between its two images.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Varies {
    Findings,
    Age,
    Sex,
    Race,
}

impl Varies {
    pub const ALL: [Varies; 4] = [Varies::Findings, Varies::Age, Varies::Sex, Varies::Race];

    /// What a compare link varies.
    fn of(v: &roentgen_model::demographics::Varied) -> Self {
        use roentgen_model::demographics::Varied;
        match v {
            Varied::Age(_) => Varies::Age,
            Varied::Sex(_) => Varies::Sex,
            Varied::Race(_) => Varies::Race,
        }
    }

    /// The select's value, and the link's `compare_<name>=` for a field.
    pub fn name(self) -> &'static str {
        match self {
            Varies::Findings => "findings",
            Varies::Age => "age",
            Varies::Sex => "sex",
            Varies::Race => "race",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.name() == s)
    }

    /// How the page names it.
    pub fn label(self) -> &'static str {
        match self {
            Varies::Race => "race/ethnicity",
            other => other.name(),
        }
    }
}

/// A link's run, or its error, waiting for the model to be in.
type Pending = (Option<Mode>, Option<String>);

#[derive(Clone, Copy)]
pub struct Store {
    /// The worker's phase, mirrored (set here too when the page starts
    /// something, so the buttons lock at once).
    pub phase: RwSignal<Phase>,
    /// The download line (or the worker's last note on models and storage).
    pub info: RwSignal<Option<Info>>,
    pub prompt: RwSignal<String>,
    pub compare_prompt: RwSignal<String>,
    /// What the compare view varies: the findings (the compare prompt) or
    /// a demographic field set to `compare_value`.
    pub compare_vary: RwSignal<Varies>,
    pub compare_value: RwSignal<String>,
    pub negative: RwSignal<String>,
    /// Who the radiograph is of, for a model trained with it (RoentGen-v2):
    /// composed before the findings ("50 year old White female. ...").
    pub age: RwSignal<String>,
    pub sex: RwSignal<String>,
    pub race: RwSignal<String>,
    /// The loaded model's manifest says it was trained with them.
    pub demographics: RwSignal<bool>,
    pub seed: RwSignal<String>,
    pub steps: RwSignal<String>,
    pub guidance: RwSignal<String>,
    /// None: the model's own.
    pub scheduler: RwSignal<Option<SchedulerKind>>,
    pub count: RwSignal<String>,
    /// Empty: the model's own size.
    pub size: RwSignal<String>,
    pub source: RwSignal<String>,
    pub authorization: RwSignal<String>,
    pub cookies: RwSignal<bool>,
    /// What the worker says the loaded model is (its family, size, prediction).
    pub loaded_about: RwSignal<String>,
    pub storage: RwSignal<Option<Storage>>,
    /// Where the running batch or conversion is, or how the last one ended.
    pub progress: RwSignal<Option<Progress>>,
    pub preview: RwSignal<Option<String>>,
    pub frames: RwSignal<Vec<Frame>>,
    pub frames_title: RwSignal<String>,
    pub strip_maps: RwSignal<Vec<WordMap>>,
    pub images: RwSignal<Vec<Image>>,
    pub comparing: RwSignal<bool>,
    pub tokens: RwSignal<Option<TokenCount>>,
    /// The model came from this computer (a folder, or stored in this browser).
    pub from_disk: RwSignal<bool>,
    pub stored: RwSignal<Vec<crate::model_store::StoredModel>>,
    pub convert_dtype: RwSignal<TensorDType>,
    pub convert_demographics: RwSignal<bool>,
    pub check: RwSignal<Option<Check>>,
    pub opened: RwSignal<Option<crate::edit_panel::OpenedImage>>,
    /// The finding preset last chosen (the select, or N in the presenter view).
    pub preset: RwSignal<Option<usize>>,
    pub presenting: RwSignal<bool>,
    /// "Profile one step" in the GPU panel: asked, answered or failed.
    pub profile: RwSignal<ProfileState>,
    pending: StoredValue<Pending, LocalStorage>,
}

impl Store {
    /// The store as a share link (or no link) sets it; `example`: the
    /// prompt starts as an example sentence.
    /// `profile`: where the worker's step profile goes (the GPU panel's).
    pub fn new(params: &ShareParams, example: bool, profile: RwSignal<ProfileState>) -> Self {
        let (compare_vary, compare_value) = match &params.compare {
            Some(Compare::Subject(v)) => (Varies::of(v), v.value()),
            _ => (Varies::Findings, String::new()),
        };
        let subject = &params.subject;
        Store {
            phase: RwSignal::new(Phase::Loading),
            info: RwSignal::new(None),
            prompt: RwSignal::new(match example && params.prompt.is_empty() {
                true => EXAMPLE_PROMPT.to_string(),
                false => params.prompt.clone(),
            }),
            compare_prompt: RwSignal::new(match &params.compare {
                Some(Compare::Findings(f)) => f.clone(),
                _ => String::new(),
            }),
            compare_vary: RwSignal::new(compare_vary),
            compare_value: RwSignal::new(compare_value),
            negative: RwSignal::new(params.negative.clone()),
            age: RwSignal::new(subject.age.map(|a| a.to_string()).unwrap_or_default()),
            sex: RwSignal::new(
                subject
                    .sex
                    .map(|x| x.name().to_string())
                    .unwrap_or_default(),
            ),
            race: RwSignal::new(subject.race.clone().unwrap_or_default()),
            demographics: RwSignal::new(false),
            seed: RwSignal::new(params.seed.unwrap_or(1).to_string()),
            steps: RwSignal::new(params.steps.to_string()),
            guidance: RwSignal::new(params.guidance.to_string()),
            scheduler: RwSignal::new(params.scheduler),
            count: RwSignal::new(params.count.to_string()),
            size: RwSignal::new(params.size.map(|s| s.to_string()).unwrap_or_default()),
            source: RwSignal::new(
                params
                    .model
                    .clone()
                    .unwrap_or_else(|| DEFAULT_MODEL.to_string()),
            ),
            authorization: RwSignal::new(String::new()),
            cookies: RwSignal::new(false),
            loaded_about: RwSignal::new(String::new()),
            storage: RwSignal::new(None),
            progress: RwSignal::new(None),
            preview: RwSignal::new(None),
            frames: RwSignal::new(Vec::new()),
            frames_title: RwSignal::new(String::new()),
            strip_maps: RwSignal::new(Vec::new()),
            images: RwSignal::new(Vec::new()),
            comparing: RwSignal::new(false),
            tokens: RwSignal::new(None),
            from_disk: RwSignal::new(false),
            stored: RwSignal::new(Vec::new()),
            convert_dtype: RwSignal::new(TensorDType::F16),
            convert_demographics: RwSignal::new(false),
            check: RwSignal::new(None),
            opened: RwSignal::new(None),
            preset: RwSignal::new(None),
            presenting: RwSignal::new(false),
            profile,
            pending: StoredValue::new_local((None, None)),
        }
    }

    /// The store the panel provided.
    pub fn get() -> Self {
        expect_context::<Store>()
    }

    pub fn fail_input(self, message: String) {
        self.phase.set(Phase::failed(Failure::Input { message }));
    }

    /// The bundled demo model is the one in use (not a URL, nor a folder
    /// or a model stored in this browser).
    pub fn on_demo_model(self) -> bool {
        self.source.get() == DEFAULT_MODEL && !self.from_disk.get()
    }

    /// Loading, converting or generating: nothing else may start.
    pub fn busy(self) -> bool {
        self.phase.with(Phase::is_busy)
    }

    fn subject_query(self) -> String {
        format!(
            "&age={}&sex={}&race={}",
            urlencode(self.age.get_untracked().trim()),
            urlencode(self.sex.get_untracked().trim()),
            urlencode(self.race.get_untracked().trim())
        )
    }

    /// The patient's fields show for a model trained with them, or a link
    /// that sets them.
    pub fn show_subject(self) -> bool {
        self.demographics.get()
            || !(self.age.get().is_empty()
                && self.sex.get().is_empty()
                && self.race.get().is_empty())
    }

    /// The prompt as the model reads it (the findings alone when no
    /// demographic field is filled or a field does not parse).
    pub fn composed(self, findings: &str) -> String {
        ShareParams::parse(&self.subject_query())
            .map(|q| q.subject.compose(findings))
            .unwrap_or_else(|_| findings.to_string())
    }

    /// The settings as typed, parsed as a share link is; a setting that
    /// does not parse fails the phase with its reason.
    pub fn settings(self, mode: Mode) -> Option<ShareParams> {
        let text = format!(
            "prompt={}&negative={}&seed={}&steps={}&guidance={}&count={}&size={}{}{}{}",
            urlencode(&self.prompt.get_untracked()),
            urlencode(&self.negative.get_untracked()),
            self.seed.get_untracked().trim(),
            self.steps.get_untracked().trim(),
            self.guidance.get_untracked().trim(),
            self.count.get_untracked().trim(),
            urlencode(self.size.get_untracked().trim()),
            match self.scheduler.get_untracked() {
                None => String::new(),
                Some(k) => format!("&scheduler={}", urlencode(k.name())),
            },
            match mode {
                Mode::Compare => match self.compare_vary.get_untracked() {
                    Varies::Findings => format!(
                        "&compare={}",
                        urlencode(&self.compare_prompt.get_untracked())
                    ),
                    field => format!(
                        "&compare_{}={}",
                        field.name(),
                        urlencode(self.compare_value.get_untracked().trim())
                    ),
                },
                Mode::Batch => String::new(),
            },
            self.subject_query()
        );
        ShareParams::parse(&text)
            .map_err(|e| self.fail_input(e.to_string()))
            .ok()
    }

    /// Generate (a batch) or Compare (the pair).
    pub fn start(self, mode: Mode) {
        let Some(p) = self.settings(mode) else {
            return;
        };
        if p.prompt.trim().is_empty() {
            self.fail_input(format!(
                "the prompt is empty: describe the findings, e.g. \u{201c}{EXAMPLE_PROMPT}\u{201d}"
            ));
            return;
        }
        if mode == Mode::Compare && p.compare.is_none() {
            self.fail_input(format!(
                "compare: give the other image's {}",
                self.compare_vary.get_untracked().label()
            ));
            return;
        }
        // A folder on this computer cannot go into a link.
        let link_model = match self.from_disk.get_untracked() {
            true => DEFAULT_MODEL.to_string(),
            false => self.source.get_untracked(),
        };
        let jobs = jobs(&p, mode, &link_model);
        self.comparing.set(mode == Mode::Compare);
        self.phase.set(Phase::Generating { images: jobs.len() });
        send(ToWorker::Generate { settings: p, jobs });
    }

    /// Loads the model: from "Model source"'s URL, or `files` (a folder's
    /// name, None for loose files, and its files). Once it is in, `run`
    /// runs or `link_error` is reported.
    pub fn start_load(
        self,
        run: Option<Mode>,
        link_error: Option<String>,
        files: Option<(Option<String>, Vec<web_sys::File>)>,
    ) {
        self.pending.set_value((run, link_error));
        self.phase.set(Phase::Loading);
        let Some(c) = client() else {
            return;
        };
        self.from_disk.set(files.is_some());
        // The texts a first run encodes, so the worker encodes them
        // while the UNet streams (none before a prompt is typed; a
        // guidance that does not parse is refused at Generate).
        let early_texts = {
            let p = self.composed(&self.prompt.get_untracked());
            let n = self.negative.get_untracked();
            let g = self.guidance.get_untracked().trim().parse().unwrap_or(0.0);
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
                url: Some(self.source.get_untracked()),
                authorization: Some(self.authorization.get_untracked().trim().to_string())
                    .filter(|a| !a.is_empty()),
                cookies: self.cookies.get_untracked(),
                early_texts,
                folder: None,
            }),
        }
    }

    /// A model stored in this browser.
    pub fn load_stored(self, name: String) {
        self.from_disk.set(true);
        self.pending.set_value((None, None));
        self.phase.set(Phase::Loading);
        send(ToWorker::LoadStored { name });
    }

    /// A folder from disk: a converted one loads; a diffusers one (RoentGen
    /// as its authors distribute it) is converted in the worker and stored.
    pub fn open_folder(self, pairs: Vec<(String, web_sys::File)>) {
        let paths: Vec<String> = pairs.iter().map(|(p, _)| p.clone()).collect();
        let (folder, rel) = crate::web_folder::relative(&paths);
        let has = |p: &str| rel.iter().any(|r| r == p);
        let files: Vec<web_sys::File> = pairs.into_iter().map(|(_, f)| f).collect();
        if has("manifest.json") {
            self.start_load(None, None, Some((folder, files)));
        } else if has("unet/config.json") || has("model_index.json") {
            let Some(c) = client() else { return };
            self.from_disk.set(true);
            self.pending.set_value((None, None));
            self.phase.set(Phase::Converting);
            c.send_with_files(
                &ToWorker::Convert {
                    name: crate::model_store::name_from(folder.as_deref().unwrap_or("model")),
                    dtype: self.convert_dtype.get_untracked(),
                    paths: rel,
                    demographic_prompts: self.convert_demographics.get_untracked(),
                },
                &files,
            );
        } else {
            self.fail_input(
                "this is neither a converted model folder (manifest.json) nor a diffusers \
                 folder (model_index.json, text_encoder/, unet/, vae/, tokenizer/, scheduler/)"
                    .into(),
            );
        }
    }

    /// Finding preset `i`: its prompt, and its prompt without the finding
    /// to compare with.
    pub fn apply_preset(self, i: usize) {
        if let Some((_, with, without)) = PRESETS.get(i) {
            self.preset.set(Some(i));
            self.prompt.set(with.to_string());
            self.compare_prompt.set(without.to_string());
            self.compare_vary.set(Varies::Findings);
        }
    }

    /// The worker's news, into the store.
    pub fn on_event(self, ev: FromWorker, set_probe: WriteSignal<Option<crate::probe::Probe>>) {
        match ev {
            FromWorker::Phase {
                phase: Phase::Ready,
            } => {
                let (run, link_error) = self.pending.get_value();
                self.pending.set_value((None, None));
                match (link_error, run) {
                    (Some(e), _) => self.fail_input(format!("link: {e}")),
                    (None, Some(mode)) => {
                        self.phase.set(Phase::Ready);
                        self.start(mode);
                    }
                    (None, None) => self.phase.set(Phase::Ready),
                }
            }
            FromWorker::Phase { phase } => self.phase.set(phase),
            FromWorker::Info { info } => self.info.set(Some(info)),
            FromWorker::Storage { storage } => self.storage.set(Some(storage)),
            FromWorker::StoredModels { models } => self.stored.set(models),
            FromWorker::Check { check } => self.check.set(Some(check)),
            // For benchmark scripts: the timings as `window.roentgenSubmissions`.
            FromWorker::Submissions { timings } => set_window_json("roentgenSubmissions", &timings),
            FromWorker::UnetCall { result } => set_window_json("roentgenUnetCall", &result),
            FromWorker::Loaded {
                label,
                about,
                demographic_prompts,
            } => {
                self.loaded_about.set(about);
                self.demographics.set(demographic_prompts);
                if self.from_disk.get_untracked() {
                    // Images name the folder they came from.
                    self.source.set(label);
                }
                send(ToWorker::Tokens {
                    text: self.prompt.get_untracked(),
                });
            }
            FromWorker::Tokens { count } => self.tokens.set(count),
            FromWorker::Progress { progress } => self.progress.set(Some(progress)),
            FromWorker::Preview { src } => self.preview.set(src),
            FromWorker::FramesReset { title } => {
                self.frames.set(Vec::new());
                self.strip_maps.set(Vec::new());
                self.frames_title.set(title);
            }
            FromWorker::Frame { frame } => self.frames.update(|f| f.push(frame)),
            FromWorker::ImagesReset => self.images.set(Vec::new()),
            FromWorker::Image { image } => {
                self.strip_maps.set(image.maps.clone());
                self.images.update(|v| v.push(image));
            }
            FromWorker::Probe { probe } => set_probe.set(Some(probe)),
            FromWorker::Profile { result } => self.profile.set(match result {
                Ok(p) => ProfileState::Done(p),
                Err(e) => ProfileState::Failed(e),
            }),
            FromWorker::EditImage {
                src,
                width,
                height,
                name,
                read_as,
            } => self.opened.set(Some(crate::edit_panel::OpenedImage {
                src,
                width,
                height,
                name,
                read_as,
            })),
            FromWorker::Started => {}
        }
    }
}

/// A benchmark's answer, left on `window` as plain data for its script.
pub(super) fn set_window_json(name: &str, value: &impl serde::Serialize) {
    if let (Some(w), Ok(json)) = (web_sys::window(), serde_json::to_string(value))
        && let Ok(value) = js_sys::JSON::parse(&json)
    {
        let _ = js_sys::Reflect::set(&w, &name.into(), &value);
    }
}
