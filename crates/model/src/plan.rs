//! A dry run of the whole pipeline on an adapter: every buffer, pipeline and
//! bind group created and every dispatch validated against the adapter's
//! limits, nothing run (the context is made with `dry_run`). `roentgen
//! plan` and the page's "Check this device" both use it, so the verdict a
//! user reads before downloading is the one the CLI prints.

use roentgen_gpu::{Counters, GpuContext, WorkPeaks};
use roentgen_weights::Manifest;

use crate::{GivenNoise, GpuBackend, Model, ModelError, ModelLoader, Request, SchedulerKind};

/// What a dry run allocated and validated.
#[derive(Clone, Debug)]
pub struct PlanReport {
    pub size: usize,
    pub steps: usize,
    pub tensors: usize,
    pub weights_bytes: u64,
    pub peak_bytes: u64,
    pub largest_buffer_bytes: u64,
    pub max_binding_bytes: u64,
    pub max_workgroups: u32,
    pub counts: Counters,
    /// The largest submission and dispatch of the run, in FLOPs (cut where
    /// a real run cuts them: the submission budget holds at this size).
    pub work: WorkPeaks,
}

/// A model whose weights are empty buffers of their sizes, from the
/// manifest and tokenizer alone: nothing downloaded.
pub fn manifest_only<'c>(
    backend: GpuBackend<'c>,
    manifest: &Manifest,
    tokenizer: &[u8],
) -> Result<Model<GpuBackend<'c>>, ModelError> {
    let mut loader = ModelLoader::new(backend, manifest, tokenizer)?;
    for i in loader.shard_order() {
        loader.add_shard(i, &vec![0; manifest.shards[i].bytes as usize])?;
    }
    loader.finish()
}

/// Builds `steps` sampler steps of a `size` x `size` image with
/// classifier-free guidance, plus the text encoder and the VAE decode.
/// Weights' memory is what the context holds when called.
pub async fn plan(
    ctx: &GpuContext,
    model: &Model<GpuBackend<'_>>,
    size: usize,
    steps: usize,
) -> Result<PlanReport, ModelError> {
    let weights_bytes = ctx.memory.live();
    ctx.memory.reset_peak();
    let vae_scale = model.vae_scale();
    let down = 1 << (model.unet.cfg.block_out_channels.len() - 1);
    if size == 0 || !size.is_multiple_of(vae_scale * down) {
        return Err(ModelError::Input(format!(
            "size {size}: must be a multiple of {}",
            vae_scale * down
        )));
    }
    let side = size / vae_scale;
    let req = Request {
        prompt: "plan".into(),
        negative: String::new(),
        steps,
        guidance: 4.0,
        scheduler: SchedulerKind::Ddim,
        seed: 0,
        latent_hw: (side, side),
    };
    ctx.flush();
    ctx.stats.take_peaks();
    let before = ctx.stats.snapshot();
    model
        .generate(&req, GivenNoise::default(), false, |_| true)
        .await?;
    ctx.flush();
    Ok(PlanReport {
        size,
        steps,
        tensors: model.weights.names().count(),
        weights_bytes,
        peak_bytes: ctx.memory.peak(),
        largest_buffer_bytes: ctx.memory.largest(),
        max_binding_bytes: ctx.report.limits.max_storage_buffer_binding_size,
        max_workgroups: ctx.report.limits.max_compute_workgroups_per_dimension,
        counts: ctx.stats.snapshot().since(&before),
        work: ctx.stats.take_peaks(),
    })
}

impl PlanReport {
    /// The numbers the verdict is made of.
    pub fn fits(&self) -> Fits {
        Fits {
            size: self.size,
            peak_bytes: self.peak_bytes,
            dispatches: self.counts.dispatches,
        }
    }

    /// One line a user can act on.
    pub fn verdict(&self, before_download: bool) -> String {
        self.fits().verdict(before_download)
    }
}

/// A plan that fits: the image side it was made for, the GPU memory it
/// needs at its peak, and the dispatches validated. The page's worker sends
/// this and the page words it, with the same sentence the CLI prints.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Fits {
    pub size: usize,
    pub peak_bytes: u64,
    pub dispatches: u64,
}

impl Fits {
    /// One line a user can act on; `before_download`: made from the
    /// manifest alone.
    pub fn verdict(&self, before_download: bool) -> String {
        let need = if self.peak_bytes >= 1_000_000_000 {
            format!("{:.2} GB", self.peak_bytes as f64 / 1e9)
        } else {
            format!("{:.0} MB", self.peak_bytes as f64 / 1e6)
        };
        format!(
            "fits this adapter's limits; it needs {need} of GPU memory at {}x{}{} ({} dispatches \
             validated, none run). WebGPU does not say how much memory a GPU has: with less, use \
             q8 weights (about half the weights) or a smaller image",
            self.size,
            self.size,
            if before_download {
                ", from the manifest alone: nothing downloaded"
            } else {
                ""
            },
            self.dispatches
        )
    }
}
