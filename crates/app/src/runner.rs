//! (Worker side.) Runs a batch of images on the loaded model: each sampler
//! step awaited, so a Cancel message gets in between steps, with progress and
//! time left, a live preview and the strip of steps sent to the page.

use std::rc::Rc;

use base64::Engine;
use roentgen_model::attention_maps::overlay_rgb8;
use roentgen_model::share::ShareParams;
use roentgen_model::{
    Checkpoint, EditSource, GivenNoise, ModelError, Output, Request, RunOptions, Step, preview,
};

use crate::loader::{Emit, PageModel};
use crate::news::{Progress, ResumePoint, StepAt};
use crate::protocol::{Frame, FromWorker, Image, Job, WordMap};
use crate::worker_state;

/// Asks the running batch to stop after its current step.
pub fn cancel() {
    worker_state::with(|w| w.cancel_run.set(true));
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
    /// Where it carries on, for the progress line.
    pub fn point(&self) -> ResumePoint {
        ResumePoint {
            image: self.job + 1,
            step: self.checkpoint.as_ref().map(Checkpoint::done),
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
    worker_state::with(|w| w.cancel_run.set(false));
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
    let mut batch = Batch {
        model: &model,
        images: jobs.len(),
        t0: js_sys::Date::now(),
        steps_before: 0,
        source,
        edit,
        emit,
    };
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
        if !batch.image(j, job, req, from.take()).await? {
            return Ok(false);
        }
    }
    emit(FromWorker::Preview { src: None });
    emit(FromWorker::Progress {
        progress: Progress::Finished {
            images: batch.images,
            secs: (js_sys::Date::now() - batch.t0) / 1e3,
        },
    });
    Ok(true)
}

/// A batch under way: what each of its images needs, and the steps the
/// images before took (for the time left).
struct Batch<'a> {
    model: &'a Rc<PageModel>,
    images: usize,
    t0: f64,
    steps_before: usize,
    source: &'a str,
    edit: Option<&'a crate::editing::EditInput>,
    emit: &'a Emit,
}

impl Batch<'_> {
    /// Makes image `j` (`job`, as `req`), from its start or from `resumed`,
    /// sending each step's progress and preview, then the image with its
    /// word maps. Ok(false) when the visitor cancelled it.
    async fn image(
        &mut self,
        j: usize,
        job: Job,
        req: Request,
        resumed: Option<Resume>,
    ) -> Result<bool, Stopped> {
        let (model, n, t0, emit) = (self.model, self.images, self.t0, self.emit);
        if resumed.is_none() {
            emit(FromWorker::FramesReset {
                title: job.caption.clone(),
            });
        }
        let (checkpoint, frames_before) = match resumed {
            Some(r) => (r.checkpoint, r.frames),
            None => (None, Vec::new()),
        };
        let done_before = self.steps_before;
        let mut calls = req.steps;
        let mut last: Option<StepAt> = None;
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
            newest = s.checkpoint;
            let done = done_before + s.done;
            let per_step = (js_sys::Date::now() - t0) / 1e3 / done as f64;
            let at = StepAt {
                image: j + 1,
                images: n,
                step: s.done,
                steps: s.total,
                secs_per_step: per_step,
            };
            last = Some(at);
            emit(FromWorker::Progress {
                progress: Progress::Step {
                    at,
                    left_secs: (n * s.total).saturating_sub(done) as f64 * per_step,
                },
            });
            if let Some(l) = s.latents {
                frames.push(send_preview(l, s.shape, s.done, emit));
            }
            !worker_state::with(|w| w.cancel_run.get())
        };
        let src = self.edit.map(|e| EditSource {
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
                    progress: Progress::Cancelled { at: last },
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
        self.steps_before += calls;
        self.send_image(job, &req, &out, &frames)
            .map_err(|error| Stopped { error, at: None })?;
        Ok(true)
    }

    /// The finished image as its PNG (with the metadata that makes it
    /// again) and each word's map over it and over the step previews.
    fn send_image(
        &self,
        job: Job,
        req: &Request,
        out: &Output,
        frames: &[(Vec<u8>, usize, usize)],
    ) -> Result<(), String> {
        let text = match self.edit {
            Some(e) => roentgen_model::png::edit_metadata(req, self.source, &e.from),
            None => roentgen_model::png::metadata(req, self.source),
        };
        let src = png_url(out.width, out.height, &out.rgb8(), &text)?;
        let maps = word_maps(out, frames)?;
        (self.emit)(FromWorker::Image {
            image: Image {
                src,
                caption: job.caption,
                file_name: job.file_name,
                link: job.link,
                maps,
            },
        });
        Ok(())
    }
}

/// Sends a step's latents as the live preview and a frame of the strip;
/// returns its pixels, kept to draw the words' maps over.
fn send_preview(
    latents: &[f32],
    shape: [usize; 4],
    step: usize,
    emit: &Emit,
) -> (Vec<u8>, usize, usize) {
    let [_, _, lh, lw] = shape;
    let rgb = preview::latents_rgb8(latents, shape);
    if let Ok(url) = png_url(lw, lh, &rgb, &[]) {
        emit(FromWorker::Preview {
            src: Some(url.clone()),
        });
        emit(FromWorker::Frame {
            frame: Frame { src: url, step },
        });
    }
    (rgb, lw, lh)
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
