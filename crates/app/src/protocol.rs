//! Messages between the page and its generation worker. The worker owns the
//! GPU device, the model and the downloads, so the page's thread never runs
//! a long task; each message is a JSON string (plus, for a local folder, the
//! chosen `File`s as a second element: they cannot go through JSON).

use serde::{Deserialize, Serialize};

use crate::probe::Probe;
use roentgen_model::share::ShareParams;

/// Page to worker.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ToWorker {
    /// Load a model from `url`, or from the files sent alongside when None.
    /// `early_texts` (the [negative, prompt] of the settings, or [prompt]
    /// without guidance) are encoded as soon as the text encoder's shards
    /// are in, while the UNet still streams; a first run with those texts
    /// starts without encoding them.
    Load {
        url: Option<String>,
        authorization: Option<String>,
        cookies: bool,
        #[serde(default)]
        early_texts: Vec<String>,
        /// With files: the chosen or dropped folder's name, which images
        /// name their model by. Sent, not read from the files: a File's
        /// `webkitRelativePath` is the browser's to keep or drop when it
        /// crosses to the worker.
        #[serde(default)]
        folder: Option<String>,
    },
    /// Count tokens of a prompt (once a model is loaded).
    Tokens {
        text: String,
    },
    /// Make `jobs` with `settings` (the page parsed and checked them).
    Generate {
        settings: ShareParams,
        jobs: Vec<Job>,
    },
    /// Convert the diffusers folder whose files are sent alongside (in the
    /// order of `paths`, each relative to the folder) into stored model
    /// `name`, f16 or q8; then load it. `demographic_prompts`: the model
    /// was trained with age, sex and race/ethnicity captions (RoentGen-v2),
    /// written into its manifest.
    Convert {
        name: String,
        /// F16 or Q8 (anything else is refused as a message the worker
        /// does not know, never taken for f16).
        dtype: roentgen_weights::TensorDType,
        paths: Vec<String>,
        demographic_prompts: bool,
    },
    /// Check whether this device can run a model (its URL, or a stored
    /// model's name) from its manifest alone: a dry run of the pipeline.
    Check {
        url: Option<String>,
        stored: Option<String>,
        authorization: Option<String>,
        cookies: bool,
    },
    /// Open the radiograph sent alongside (PNG, JPEG or DICOM) for editing,
    /// fitted to the loaded model's size by "crop" or "pad". It stays in the
    /// worker; nothing of it leaves the browser.
    OpenImage {
        fit: roentgen_imaging::Fit,
    },
    /// Edit the open radiograph.
    Edit(EditRequest),
    /// Load a model converted in this browser.
    LoadStored {
        name: String,
    },
    DeleteStored {
        name: String,
    },
    /// Stop the running batch after its current step, or the running
    /// conversion after its current tensor.
    Cancel,
    ClearCache,
    /// Destroy the device as a driver reset would (tests, devtools).
    LoseDevice,
    /// Time every GPU submission from now on (`on`), or stop and report
    /// them ([`FromWorker::Submissions`]): a benchmark's tool
    /// (`window.roentgenTimeSubmissions`, scripts/browser-submissions.mjs).
    TimeSubmissions {
        on: bool,
    },
    /// Time one UNet call (the CFG batch at the loaded model's size) with
    /// every dispatch alone, summed by kernel family ("Profile one step").
    Profile,
    /// Time one UNet call on given inputs, the same a peer engine is given
    /// (`window.roentgenBenchUnetCall`, scripts/browser-peer-bench.mjs);
    /// answered by [`FromWorker::UnetCall`].
    BenchUnetCall(UnetCall),
}

/// One UNet call of the loaded model: latents `sample` ([B, C, h, w]) at
/// timestep `t` with `context` ([B, 77, D]) as the text encoder's hidden
/// states, timed `runs` times after one untimed warm-up.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UnetCall {
    pub sample: Vec<f32>,
    pub sample_shape: Vec<usize>,
    pub t: f32,
    pub context: Vec<f32>,
    pub context_shape: Vec<usize>,
    pub runs: usize,
}

/// What [`UnetCall`] measured: the last call's output, each timed call's
/// milliseconds (first command to output read back on the CPU), the
/// adapter, and the activations' precision there ("f16" or "f32").
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UnetCallTimes {
    pub output: Vec<f32>,
    pub ms: Vec<f64>,
    pub adapter: String,
    pub math: String,
}

/// An edit of the open radiograph: `jobs` (one per seed) with the settings
/// of `settings`, `strength` of the schedule, and where it may change: the
/// mask painted over the shown image (`mask_width` x `mask_height` bytes,
/// base64, non-zero = change), or everywhere when None.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EditRequest {
    pub settings: ShareParams,
    pub jobs: Vec<Job>,
    pub strength: f64,
    pub mask: Option<String>,
    pub mask_width: usize,
    pub mask_height: usize,
    /// Put the original's pixels back outside the mask (feathered seam).
    pub keep_outside: bool,
}

/// One GPU submission as the worker timed it (`GpuContext::time_submissions`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SubmitTime {
    pub dispatches: u32,
    pub gflop: f64,
    pub secs: f64,
    /// The kernels of its first and last dispatch.
    pub first: String,
    pub last: String,
}

/// One image to make.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Job {
    pub prompt: String,
    pub seed: u64,
    pub caption: String,
    pub file_name: String,
    pub link: String,
}

/// One finished image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Image {
    /// `data:image/png;base64,...`: the exact PNG `roentgen generate` writes.
    pub src: String,
    pub caption: String,
    pub file_name: String,
    /// Query string that regenerates this image.
    pub link: String,
    /// Where the model attended for each word of the prompt.
    #[serde(default)]
    pub maps: Vec<WordMap>,
}

/// One word's attention map, drawn over the image and over each step's
/// frame of the strip (PNG data URLs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WordMap {
    pub word: String,
    pub overlay: String,
    pub steps: Vec<String>,
}

/// One step of the denoising, as the cheap latent preview.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    pub src: String,
    pub step: usize,
}

/// Where the worker is. The worker owns it and sends every change; the
/// page mirrors it (its status line is the `Display`, its `data-phase`
/// attribute the `name`) and decides from it alone what may be pressed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "kebab-case")]
pub enum Phase {
    /// Fetching or reading a model and uploading it to the GPU.
    Loading,
    /// A model is in and nothing runs.
    Ready,
    /// Converting a diffusers folder in the page.
    Converting,
    /// Making `images` images (steps and times come as `Progress`).
    Generating { images: usize },
    /// A run finished; its images are shown.
    Done,
    /// The visitor stopped a run or a conversion.
    Cancelled,
    /// Something failed; the reason says what to do.
    Failed { reason: Failure },
}

impl Phase {
    /// While it lasts, nothing else may start.
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            Phase::Loading | Phase::Converting | Phase::Generating { .. }
        )
    }

    /// What Cancel can stop.
    pub fn is_cancellable(&self) -> bool {
        matches!(self, Phase::Converting | Phase::Generating { .. })
    }

    /// The word browser tests and styles read (`data-phase`).
    pub fn name(&self) -> &'static str {
        match self {
            Phase::Loading => "loading",
            Phase::Ready => "ready",
            Phase::Converting => "converting",
            Phase::Generating { .. } => "generating",
            Phase::Done => "done",
            Phase::Cancelled => "cancelled",
            Phase::Failed { .. } => "failed",
        }
    }

    pub fn failed(reason: Failure) -> Self {
        Phase::Failed { reason }
    }
}

/// The status line: the phase's word, or "error: " and the reason.
impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Phase::Failed { reason } => write!(f, "error: {reason}"),
            other => f.write_str(other.name()),
        }
    }
}

/// Why a phase failed, by who can mend it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Failure {
    /// What the visitor typed or linked cannot be used (a setting, a link).
    Input { message: String },
    /// The model could not be fetched, read, checked or uploaded.
    Model { message: String },
    /// Nothing is loaded to run.
    NoModel,
    /// The GPU device was lost and not recovered.
    DeviceLost { message: String },
    /// Converting folder `name` failed.
    Convert { name: String, message: String },
    /// A radiograph to edit could not be opened or edited.
    Edit { message: String },
    /// The worker failed, or was sent what it does not know.
    Worker { message: String },
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Input { message }
            | Failure::Model { message }
            | Failure::DeviceLost { message }
            | Failure::Edit { message }
            | Failure::Worker { message } => f.write_str(message),
            Failure::NoModel => f.write_str("no model is loaded"),
            Failure::Convert { name, message } => write!(f, "converting {name:?}: {message}"),
        }
    }
}

/// The message that says the worker is now in `p`.
pub fn phase(p: Phase) -> FromWorker {
    FromWorker::Phase { phase: p }
}

/// The message that says the worker failed, and why.
pub fn failed(reason: Failure) -> FromWorker {
    phase(Phase::failed(reason))
}

/// Worker to page.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum FromWorker {
    /// The worker's handler is installed and its device checked: messages
    /// sent before this would be lost (its wasm loads asynchronously) or would
    /// race the check, so the page holds them till now.
    Started,
    /// The adapter and the kernel self-check on the worker's device; sent
    /// once, just before `Started`.
    Probe {
        probe: Probe,
    },
    /// What the worker is doing now; the page mirrors it.
    Phase {
        phase: Phase,
    },
    /// The download line, and short notes about models and storage.
    Info {
        info: crate::news::Info,
    },
    /// This site's storage, after anything that changed it.
    Storage {
        storage: crate::news::Storage,
    },
    /// The device check.
    Check {
        check: crate::news::Check,
    },
    /// The models converted and stored in this browser.
    StoredModels {
        models: Vec<crate::model_store::StoredModel>,
    },
    /// A model is in; `label` names it in PNG metadata.
    Loaded {
        label: String,
        /// The model's family and what sets it apart ("Stable Diffusion
        /// 2.x: 1024-wide text encoder (23 layers), 768x768, v-prediction").
        #[serde(default)]
        about: String,
        /// Its manifest says it was trained with demographic captions.
        #[serde(default)]
        demographic_prompts: bool,
    },
    /// The prompt's token count (None before a model's tokenizer is in).
    Tokens {
        count: Option<crate::news::TokenCount>,
    },
    /// How the running batch or conversion is going, and how it ended.
    Progress {
        progress: crate::news::Progress,
    },
    Preview {
        src: Option<String>,
    },
    /// A new image starts: its strip of steps begins empty.
    FramesReset {
        title: String,
    },
    Frame {
        frame: Frame,
    },
    ImagesReset,
    Image {
        image: Image,
    },
    /// The radiograph opened for editing, as the model will see it.
    EditImage {
        /// PNG data URL of the fitted image.
        src: String,
        width: usize,
        height: usize,
        name: String,
        /// How the file was read (format, window, inversion).
        read_as: String,
    },
    /// The submissions timed since `ToWorker::TimeSubmissions { on: true }`.
    Submissions {
        timings: Vec<SubmitTime>,
    },
    /// One step's profile, or why there is none.
    Profile {
        result: Result<roentgen_gpu::profile::Profile, String>,
    },
    /// A timed UNet call ([`ToWorker::BenchUnetCall`]), or why there is none.
    UnetCall {
        result: Result<UnetCallTimes, String>,
    },
}
