//! What the worker tells the page besides its phase: how a run or a
//! conversion is going, the download and storage lines, the device check
//! and the token count, each as numbers and names. The worker measures and
//! the page words it (each type's `Display` is the line the page shows), so
//! a line can be reworded, or translated, without touching the worker, and
//! nothing the page decides on is parsed back out of a sentence.

use roentgen_model::plan::Fits;
use roentgen_weights::progress::{DownloadSnapshot, duration};
use serde::{Deserialize, Serialize};

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// "1.23 GB" above a gigabyte, "456.7 MB" below.
pub(crate) fn gb(bytes: u64) -> String {
    match bytes >= 1_000_000_000 {
        true => format!("{:.2} GB", bytes as f64 / 1e9),
        false => format!("{:.1} MB", mb(bytes)),
    }
}

/// A finished sampler step: `step` of `steps` of image `image` (from 1) of
/// `images`, at `secs_per_step` over the batch so far.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepAt {
    pub image: usize,
    pub images: usize,
    pub step: usize,
    pub steps: usize,
    pub secs_per_step: f64,
}

/// "image 1 of 2 · step 3 of 20 · 0.52 s per step".
impl std::fmt::Display for StepAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "image {} of {} · step {} of {} · {:.2} s per step",
            self.image, self.images, self.step, self.steps, self.secs_per_step
        )
    }
}

/// Where a batch stopped by a lost device carries on: image `image` (from
/// 1), after its step `step`, or from its start when None.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResumePoint {
    pub image: usize,
    pub step: Option<usize>,
}

/// "step 3 of image 1", or "the start of image 1".
impl std::fmt::Display for ResumePoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.step {
            Some(s) => write!(f, "step {s} of image {}", self.image),
            None => write!(f, "the start of image {}", self.image),
        }
    }
}

/// The progress line: where a run or a conversion is, and how it ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Progress {
    /// A step finished; `left_secs` for the batch at the rate so far.
    Step { at: StepAt, left_secs: f64 },
    /// The visitor stopped the batch after step `at` (None: before any).
    Cancelled { at: Option<StepAt> },
    /// The batch made `images` images in `secs`.
    Finished { images: usize, secs: f64 },
    /// The device was lost mid-batch; the model loads again to carry on.
    Reloading { from: ResumePoint },
    /// Converting a folder: `done` of `total` bytes read, `file` the one now.
    Converting {
        done: u64,
        total: u64,
        file: String,
        bytes_per_sec: f64,
        left_secs: f64,
        heap_bytes: u64,
    },
    /// The visitor stopped a conversion; its partial model was deleted.
    ConversionCancelled,
    /// Folder `name` was converted and stored in `secs`.
    Converted {
        name: String,
        secs: f64,
        heap_bytes: u64,
    },
}

impl std::fmt::Display for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Progress::Step { at, left_secs } => {
                write!(f, "{at} · about {} left", duration(*left_secs))
            }
            Progress::Cancelled { at: Some(at) } => write!(f, "cancelled ({at})"),
            Progress::Cancelled { at: None } => f.write_str("cancelled before the first step"),
            Progress::Finished { images, secs } => write!(
                f,
                "{images} image{} in {secs:.1} s",
                if *images == 1 { "" } else { "s" }
            ),
            Progress::Reloading { from } => write!(
                f,
                "the GPU device was lost: loading the model again to carry on from {from}"
            ),
            Progress::Converting {
                done,
                total,
                file,
                bytes_per_sec,
                left_secs,
                heap_bytes,
            } => write!(
                f,
                "converting: {} of {} read ({file}) · {:.0} MB/s · about {} left · wasm heap {:.0} MB",
                gb(*done),
                gb(*total),
                bytes_per_sec / 1e6,
                duration(*left_secs),
                mb(*heap_bytes)
            ),
            Progress::ConversionCancelled => f.write_str("conversion cancelled: nothing was kept"),
            Progress::Converted {
                name,
                secs,
                heap_bytes,
            } => write!(
                f,
                "converted {name:?} in {secs:.1} s (wasm heap {:.0} MB); it stays in this browser: load it from the list next time",
                mb(*heap_bytes)
            ),
        }
    }
}

/// Where the weights of a finished load came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum WeightsFrom {
    /// A folder on this computer, or the models stored in this browser
    /// (`place` says which).
    Local { place: String },
    /// The network, `cached` of the shards from this browser's cache
    /// (`cache` names the store: Cache API, OPFS).
    Network { cached: usize, cache: String },
}

/// A load's account: what came, from where, how fast, what it holds now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Loaded {
    pub bytes: u64,
    pub shards: usize,
    pub from: WeightsFrom,
    pub secs: f64,
    pub heap_bytes: u64,
    pub gpu_bytes: u64,
    /// The prompt was encoded at this second, this many shards before the end.
    pub early: Option<(f64, usize)>,
    /// Shards the browser would not store (full?): downloaded again next time.
    pub not_stored: Vec<String>,
}

/// The download line, and the worker's other short notes about models and
/// storage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Info {
    Downloading {
        at: DownloadSnapshot,
        heap_bytes: u64,
    },
    Loaded(Loaded),
    /// The device was lost while a batch ran (the batch carries on itself).
    DeviceLostMidBatch {
        reason: String,
    },
    StoredListFailed {
        error: String,
    },
    Deleted {
        name: String,
    },
    DeleteFailed {
        name: String,
        error: String,
    },
    CacheCleared,
    CacheClearFailed {
        error: String,
    },
    /// Submissions can only be timed on a device, made by the first load.
    NothingToTime,
}

impl std::fmt::Display for Info {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Info::Downloading { at, heap_bytes } => {
                write!(f, "downloading: {at} · wasm heap {:.0} MB", mb(*heap_bytes))
            }
            Info::Loaded(l) => {
                let whence = match &l.from {
                    WeightsFrom::Local { place } => format!("{} shards, {place}", l.shards),
                    WeightsFrom::Network { cached, cache } => format!(
                        "{cached} of {} shards from this browser's cache ({cache})",
                        l.shards
                    ),
                };
                write!(
                    f,
                    "weights: {:.1} MB, {whence}, {:.1} s; wasm heap {:.0} MB, GPU {:.0} MB",
                    mb(l.bytes),
                    l.secs,
                    mb(l.heap_bytes),
                    mb(l.gpu_bytes)
                )?;
                if let Some((at, missing)) = l.early {
                    write!(
                        f,
                        "; prompt encoded at {at:.1} s, {missing} shards before the end"
                    )?;
                }
                if !l.not_stored.is_empty() {
                    write!(
                        f,
                        "; not kept for next time (storage full?): {}",
                        l.not_stored.join(", ")
                    )?;
                }
                Ok(())
            }
            Info::DeviceLostMidBatch { reason } => {
                write!(f, "the GPU device was lost ({reason})")
            }
            Info::StoredListFailed { error } => {
                write!(f, "could not list the stored models: {error}")
            }
            Info::Deleted { name } => write!(f, "deleted stored model {name:?}"),
            Info::DeleteFailed { name, error } => write!(f, "could not delete {name:?}: {error}"),
            Info::CacheCleared => {
                f.write_str("cache cleared: the next visit downloads the weights again")
            }
            Info::CacheClearFailed { error } => write!(f, "could not clear the cache: {error}"),
            Info::NothingToTime => f.write_str("no GPU device to time yet: load a model first"),
        }
    }
}

/// This site's storage: bytes used and allowed (None where the browser
/// does not say), and whether the browser keeps it when the disk runs low.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Storage {
    pub used_and_quota: Option<(f64, f64)>,
    pub persisted: Option<bool>,
}

impl std::fmt::Display for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kept = match self.persisted {
            Some(true) => "; persistent: kept until you clear it",
            Some(false) => {
                "; not persistent: the browser may clear it when the disk runs low (bookmarking or installing the page usually lets it keep it)"
            }
            None => "",
        };
        match self.used_and_quota {
            Some((used, quota)) => write!(
                f,
                "storage: {:.1} MB used by this site, of {:.1} GB the browser allows{kept}",
                used / 1e6,
                quota / 1e9
            ),
            None => f.write_str("storage: this browser does not report its usage"),
        }
    }
}

/// The device check ("Check this device"): running, its verdict, or why
/// the model cannot run here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Check {
    Running,
    Fits {
        fits: Fits,
        secs: f64,
        weights_bytes: u64,
    },
    Refused {
        message: String,
    },
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Check::Running => {
                f.write_str("checking this device: building the pipeline without running it…")
            }
            Check::Fits {
                fits,
                secs,
                weights_bytes,
            } => write!(
                f,
                "this device: {} ({secs:.1} s, {:.0} MB of weights)",
                fits.verdict(true),
                mb(*weights_bytes)
            ),
            Check::Refused { message } => write!(f, "this device: {message}"),
        }
    }
}

/// The prompt's length in CLIP tokens, of the 77 it reads, and the words it
/// would cut.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenCount {
    pub used: usize,
    pub cut: String,
}

/// "12 / 77 tokens", or "... ; cut: the rest".
impl std::fmt::Display for TokenCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} / 77 tokens", self.used)?;
        if !self.cut.is_empty() {
            write!(f, "; cut: {}", self.cut)?;
        }
        Ok(())
    }
}
