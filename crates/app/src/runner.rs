//! (Worker side.) Runs a batch of images on the loaded model: each sampler
//! step awaited, so a Cancel message gets in between steps, with progress and
//! time left, a live preview and the strip of steps sent to the page.

use std::cell::Cell;
use std::rc::Rc;

use base64::Engine;
use roentgen_model::attention_maps::overlay_rgb8;
use roentgen_model::share::ShareParams;
use roentgen_model::{
    EditSource, GivenNoise, ModelError, Output, Request, RunOptions, Step, preview,
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

/// Makes `jobs` with the settings of `p`, from the prompt alone or, with
/// `edit`, from the open radiograph. Ok(false) when cancelled (the images
/// finished so far stay).
pub async fn run(
    model: Rc<PageModel>,
    p: &ShareParams,
    jobs: Vec<Job>,
    source: &str,
    edit: Option<&crate::editing::EditInput>,
    emit: &Emit,
) -> Result<bool, String> {
    CANCEL.with(|c| c.set(false));
    emit(FromWorker::ImagesReset);
    let (h, w) = model.default_latent_hw();
    let scheduler = p
        .scheduler
        .unwrap_or_else(|| model.scheduler.default_kind());
    let t0 = js_sys::Date::now();
    let n = jobs.len();
    let mut steps_done_before = 0usize;
    for (j, job) in jobs.into_iter().enumerate() {
        let req = Request {
            prompt: job.prompt.clone(),
            negative: p.negative.clone(),
            steps: p.steps,
            guidance: p.guidance,
            scheduler,
            seed: job.seed,
            latent_hw: (h, w),
        };
        emit(FromWorker::FramesReset {
            title: job.caption.clone(),
        });
        let done_before = steps_done_before;
        let mut calls = p.steps;
        let mut last = String::new();
        // Each step's preview, kept to draw the words' maps over afterwards.
        let mut frames: Vec<(Vec<u8>, usize, usize)> = Vec::new();
        // Word maps are left on: one small pass per cross-attention layer.
        let opts = RunOptions {
            watch: true,
            attention_maps: true,
            checkpoints: true,
        };
        let on_step = |s: Step<'_>| {
            calls = s.total;
            let elapsed = (js_sys::Date::now() - t0) / 1e3;
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
        let out = match edit {
            Some(e) => {
                let src = EditSource {
                    image: e.image.clone(),
                    strength: e.from.strength,
                    mask: e.mask.clone(),
                    blend: e.blend.clone(),
                };
                model
                    .edit(&req, &src, GivenNoise::default(), opts, on_step)
                    .await
            }
            None => {
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
            Err(e) => return Err(e.to_string()),
        };
        steps_done_before += calls;
        let text = match edit {
            Some(e) => roentgen_model::png::edit_metadata(&req, source, &e.from),
            None => roentgen_model::png::metadata(&req, source),
        };
        let src = png_url(out.width, out.height, &out.rgb8(), &text)?;
        let maps = word_maps(&out, &frames)?;
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
