//! Runs a batch of images on the loaded model: each sampler step awaited, so
//! the page stays responsive between steps, shows progress with time left, a
//! live preview and the strip of steps, and can cancel.

use std::cell::Cell;
use std::rc::Rc;

use base64::Engine;
use leptos::prelude::*;
use roentgen_model::share::ShareParams;
use roentgen_model::{ModelError, Request, Step, preview};
use roentgen_weights::progress::duration;

use crate::gallery::{Frame, Image};
use crate::loader::PageModel;

thread_local! {
    static CANCEL: Cell<bool> = const { Cell::new(false) };
}

/// Asks the running batch to stop after its current step.
pub fn cancel() {
    CANCEL.with(|c| c.set(true));
}

/// One image to make.
pub struct Job {
    pub prompt: String,
    pub seed: u64,
    pub caption: String,
    pub file_name: String,
    pub link: String,
}

/// Where a run reports.
#[derive(Clone, Copy)]
pub struct Ui {
    pub progress: RwSignal<String>,
    pub preview: RwSignal<Option<String>>,
    pub frames: RwSignal<Vec<Frame>>,
    pub frames_title: RwSignal<String>,
    pub images: RwSignal<Vec<Image>>,
}

fn png_url(w: usize, h: usize, rgb: &[u8], text: &[(&str, String)]) -> Result<String, String> {
    let png = roentgen_model::png::encode_rgb8(w, h, rgb, text)?;
    Ok(format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    ))
}

/// Makes `jobs` with the settings of `p`. Ok(false) when cancelled (the
/// images finished so far stay).
pub async fn run(
    model: Rc<PageModel>,
    p: &ShareParams,
    jobs: Vec<Job>,
    source: &str,
    ui: Ui,
) -> Result<bool, String> {
    CANCEL.with(|c| c.set(false));
    ui.images.set(Vec::new());
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
        ui.frames.set(Vec::new());
        ui.frames_title.set(job.caption.clone());
        let done_before = steps_done_before;
        let mut calls = p.steps;
        let out = model
            .generate(&req, None, true, |s: Step<'_>| {
                calls = s.total;
                let elapsed = (js_sys::Date::now() - t0) / 1e3;
                let done = done_before + s.done;
                let per_step = elapsed / done as f64;
                let left = (n * s.total - done) as f64 * per_step;
                ui.progress.set(format!(
                    "image {} of {n} · step {} of {} · {:.2} s per step · about {} left",
                    j + 1,
                    s.done,
                    s.total,
                    per_step,
                    duration(left)
                ));
                if let Some(l) = s.latents {
                    let [_, _, lh, lw] = s.shape;
                    if let Ok(url) = png_url(lw, lh, &preview::latents_rgb8(l, s.shape), &[]) {
                        ui.preview.set(Some(url.clone()));
                        ui.frames.update(|f| {
                            f.push(Frame {
                                src: url,
                                step: s.done,
                            })
                        });
                    }
                }
                !CANCEL.with(|c| c.get())
            })
            .await;
        let out = match out {
            Ok(o) => o,
            Err(ModelError::Cancelled) => {
                ui.progress.update(|t| {
                    *t = format!("cancelled ({})", t.replace(" · about", ", was about"))
                });
                ui.preview.set(None);
                return Ok(false);
            }
            Err(e) => return Err(e.to_string()),
        };
        steps_done_before += calls;
        let src = png_url(
            out.width,
            out.height,
            &out.rgb8(),
            &roentgen_model::png::metadata(&req, source),
        )?;
        ui.images.update(|v| {
            v.push(Image {
                src,
                caption: job.caption,
                file_name: job.file_name,
                link: job.link,
            })
        });
    }
    ui.preview.set(None);
    ui.progress.set(format!(
        "{n} image{} in {:.1} s",
        if n == 1 { "" } else { "s" },
        (js_sys::Date::now() - t0) / 1e3
    ));
    Ok(true)
}
