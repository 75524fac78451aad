//! (Worker side.) "Profile one step": one UNet call on the CFG batch of two
//! at the loaded model's own size, with every dispatch submitted alone and
//! timed by when the queue says it is done, summed by kernel family. A
//! visitor with a real GPU can send us the table (or its JSON) and we see
//! where a step's time goes on hardware we do not have.

use roentgen_gpu::profile::Profile;
use roentgen_model::Backend;
use roentgen_model::attention_maps::MapRecorder;
use roentgen_model::noise::gaussian;

use crate::{loader, worker_state};

/// The profile, or why there is none (no model yet, or a run in progress).
pub async fn run() -> Result<Profile, String> {
    let model = loader::model().ok_or("load a model first: the profile times its UNet")?;
    let ctx = loader::current_context().ok_or("no GPU device: load a model first")?;
    // The page offers the button only while nothing runs; a run started
    // meanwhile would be timed with the step.
    if worker_state::with(|w| w.busy.get()) {
        return Err("a run is in progress: profile when it has finished".into());
    }
    let b = &model.backend;
    let (h, w) = model.default_latent_hw();
    let c = model.unet.cfg.in_channels;
    let (context, _) = model
        .encode_text(&["", "profile"])
        .map_err(|e| e.to_string())?;
    let x = b
        .upload("latents", &[2, c, h, w], &gaussian(1, 2 * c * h * w))
        .map_err(|e| e.to_string())?;
    // The page records the words' maps on every step (runner.rs), so the
    // profiled step does too: their kernels are part of what a visitor waits for.
    let maps = MapRecorder::new((h, w), 1);
    let step = || {
        let out = model
            .unet
            .forward_mapped(b, &model.weights, &x, 500.0, &context, Some(&maps));
        maps.clear();
        out
    };
    // Compiled and warm before the timed call, as in `roentgen bench unet`
    // (the profile flushes and waits for it before timing).
    drop(step().map_err(|e| e.to_string())?);
    let (out, profile) = ctx.profile_async(step).await;
    drop(out.map_err(|e| e.to_string())?);
    Ok(profile)
}
