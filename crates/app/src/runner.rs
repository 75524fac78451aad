//! (Worker side.) Runs a batch of images on the loaded model: each sampler
//! step awaited, so a Cancel message gets in between steps, with progress and
//! time left, a live preview and the strip of steps sent to the page.

use std::cell::Cell;
use std::rc::Rc;

use base64::Engine;
use roentgen_model::attention_maps::overlay_rgb8;
use roentgen_model::share::ShareParams;
use roentgen_model::{
    Checkpoint, EditSource, GivenNoise, ModelError, Output, Request, RunOptions, Step, preview,
};
use roentgen_weights::progress::duration;

use crate::loader::{Emit, PageModel};
use crate::protocol::{Frame, FromWorker, Image, Job, WordMap};

thread_local! {
    static CANCEL: Cell<bool> = const { Cell::new(false) };
}

/// Asks the running batch to stop after its current step.
pub fn cancel() {
    CANCEL.with(|c| c.set(true));
}

fn png_url(w: usize, h: usize, rgb: &[u8], text: &[(&str, String)]) -> Result<String, String> {
    let png = roentgen_model::png::encode_rgb8(w, h, rgb, text)?;
    Ok(format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    ))
}

/// Where a batch stopped when its GPU work failed: the image it was making
/// and that image's last finished step, from which `run` can carry on (on a
/// new device, after the model is loaded again).
pub struct Stopped {
    pub error: String,
    pub at: Option<Resume>,
}

/// A batch to carry on: image `job` from `checkpoint` (from its start when
/// no step had finished), with the previews of the steps before it.
pub struct Resume {
    pub job: usize,
    pub checkpoint: Option<Checkpoint>,
    frames: Vec<(Vec<u8>, usize, usize)>,
}

impl Resume {
    /// "step 3 of image 1", or "the start of image 1".
    pub fn describe(&self) -> String {
        match &self.checkpoint {
            Some(c) => format!("step {} of image {}", c.done(), self.job + 1),
            None => format!("the start of image {}", self.job + 1),
        }
    }
}

/// Makes `jobs` with the settings of `p`, from the prompt alone or, with
/// `edit`, from the open radiograph; with `from`, carries a stopped batch on
/// (the images before it are on the page already). Ok(false) when cancelled
/// (the images finished so far stay).
pub async fn run(
    model: Rc<PageModel>,
    p: &ShareParams,
    jobs: Vec<Job>,
    source: &str,
    edit: Option<&crate::editing::EditInput>,
    mut from: Option<Resume>,
    emit: &Emit,
) -> Result<bool, Stopped> {
    CANCEL.with(|c| c.set(false));
    let first_job = from.as_ref().map_or(0, |r| r.job);
    if from.is_none() {
        emit(FromWorker::ImagesReset);
    }
    let failed = |error: String| Stopped { error, at: None };
    let (h, w) = model
        .latent_hw_or_default(p.size)
        .map_err(|e| failed(e.to_string()))?;
    let scheduler = p
        .scheduler
        .unwrap_or_else(|| model.scheduler.default_kind());
    let t0 = js_sys::Date::now();
    let n = jobs.len();
    let mut steps_done_before = 0usize;
    for (j, job) in jobs.into_iter().enumerate().skip(first_job) {
        let req = Request {
            prompt: job.prompt.clone(),
            negative: p.negative.clone(),
            steps: p.steps,
            guidance: p.guidance,
            scheduler,
            seed: job.seed,
            latent_hw: (h, w),
        };
        let resumed = from.take();
        if resumed.is_none() {
            emit(FromWorker::FramesReset {
                title: job.caption.clone(),
            });
        }
        let (checkpoint, frames_before) = match resumed {
            Some(r) => (r.checkpoint, r.frames),
            None => (None, Vec::new()),
        };
        let done_before = steps_done_before;
        let mut calls = p.steps;
        let mut last = String::new();
        // Each step's preview, kept to draw the words' maps over afterwards.
        let mut frames: Vec<(Vec<u8>, usize, usize)> = frames_before;
        // The newest finished step, to carry on from if the device is lost.
        let mut newest: Option<Checkpoint> = checkpoint.clone();
        // Word maps are left on: one small pass per cross-attention layer.
        let opts = RunOptions {
            watch: true,
            attention_maps: true,
            checkpoints: true,
        };
        let on_step = |s: Step<'_>| {
            calls = s.total;
            let elapsed = (js_sys::Date::now() - t0) / 1e3;
            newest = s.checkpoint;
            let done = done_before + s.done;
            let per_step = elapsed / done as f64;
            let left = (n * s.total).saturating_sub(done) as f64 * per_step;
            last = format!(
                "image {} of {n} · step {} of {} · {:.2} s per step",
                j + 1,
                s.done,
                s.total,
                per_step,
            );
            emit(FromWorker::Progress {
                text: format!("{last} · about {} left", duration(left)),
            });
            if let Some(l) = s.latents {
                let [_, _, lh, lw] = s.shape;
                let rgb = preview::latents_rgb8(l, s.shape);
                let url = png_url(lw, lh, &rgb, &[]);
                frames.push((rgb, lw, lh));
                if let Ok(url) = url {
                    emit(FromWorker::Preview {
                        src: Some(url.clone()),
                    });
                    emit(FromWorker::Frame {
                        frame: Frame {
                            src: url,
                            step: s.done,
                        },
                    });
                }
            }
            !CANCEL.with(|c| c.get())
        };
        let src = edit.map(|e| EditSource {
            image: e.image.clone(),
            strength: e.from.strength,
            mask: e.mask.clone(),
            blend: e.blend.clone(),
        });
        let out = match (checkpoint, &src) {
            (Some(c), src) => {
                model
                    .resume(c, src.as_ref(), GivenNoise::default(), opts, on_step)
                    .await
            }
            (None, Some(src)) => {
                model
                    .edit(&req, src, GivenNoise::default(), opts, on_step)
                    .await
            }
            (None, None) => {
                model
                    .generate(&req, GivenNoise::default(), opts, on_step)
                    .await
            }
        };
        let out = match out {
            Ok(o) => o,
            Err(ModelError::Cancelled) => {
                emit(FromWorker::Preview { src: None });
                emit(FromWorker::Progress {
                    text: format!("cancelled ({last})"),
                });
                return Ok(false);
            }
            Err(e) => {
                return Err(Stopped {
                    error: e.to_string(),
                    at: Some(Resume {
                        job: j,
                        checkpoint: newest,
                        frames,
                    }),
                });
            }
        };
        steps_done_before += calls;
        let text = match edit {
            Some(e) => roentgen_model::png::edit_metadata(&req, source, &e.from),
            None => roentgen_model::png::metadata(&req, source),
        };
        let src = png_url(out.width, out.height, &out.rgb8(), &text).map_err(failed)?;
        let maps = word_maps(&out, &frames).map_err(failed)?;
        emit(FromWorker::Image {
            image: Image {
                src,
                caption: job.caption,
                file_name: job.file_name,
                link: job.link,
                maps,
            },
        });
    }
    emit(FromWorker::Preview { src: None });
    emit(FromWorker::Progress {
        text: format!(
            "{n} image{} in {:.1} s",
            if n == 1 { "" } else { "s" },
            (js_sys::Date::now() - t0) / 1e3
        ),
    });
    Ok(true)
}

/// Each word's map over the image and over each step's preview.
fn word_maps(out: &Output, frames: &[(Vec<u8>, usize, usize)]) -> Result<Vec<WordMap>, String> {
    let Some(maps) = &out.attention else {
        return Ok(Vec::new());
    };
    let rgb = out.rgb8();
    maps.words
        .iter()
        .enumerate()
        .map(|(i, word)| {
            let over = overlay_rgb8(&rgb, (out.width, out.height), &maps.mean[i], maps.latent_hw);
            let steps = frames
                .iter()
                .zip(&maps.steps)
                .map(|((frame, w, h), step)| {
                    png_url(
                        *w,
                        *h,
                        &overlay_rgb8(frame, (*w, *h), &step[i], maps.latent_hw),
                        &[],
                    )
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(WordMap {
                word: word.text.clone(),
                overlay: png_url(out.width, out.height, &over, &[])?,
                steps,
            })
        })
        .collect()
}
