//! (Worker side.) The benchmark behind `scripts/browser-peer-bench.mjs`: one
//! UNet call of the loaded model on inputs the script gives, the same it
//! hands ONNX Runtime Web, so the two engines are timed on one call, in one
//! browser, on one adapter, and their outputs compared. Reached through the
//! page (`window.roentgenBenchUnetCall`), as Firefox's WebDriver BiDi
//! cannot evaluate in a worker.

use roentgen_gpu::kernel::now_ms;
use roentgen_model::Backend;

use crate::protocol::{UnetCall, UnetCallTimes};
use crate::{loader, worker_state};

/// `call.runs` timed UNet calls after one untimed warm-up. Each is timed
/// from its first command to its output read back on the CPU, as ONNX
/// Runtime's `session.run` is on the other side. An error when no model is
/// loaded, a run is in progress, or a shape does not fit the model.
pub async fn run(call: UnetCall) -> Result<UnetCallTimes, String> {
    let model = loader::model().ok_or("load a model first")?;
    let ctx = loader::current_context().ok_or("no GPU device")?;
    if worker_state::with(|w| w.busy.get()) {
        return Err("a run is in progress".into());
    }
    let b = &model.backend;
    let x = b
        .upload("latents", &call.sample_shape, &call.sample)
        .map_err(|e| e.to_string())?;
    let context = b
        .upload("text hidden states", &call.context_shape, &call.context)
        .map_err(|e| e.to_string())?;
    let once = async || {
        let out = model
            .unet
            .forward(b, &model.weights, &x, call.t, &context)
            .map_err(|e| e.to_string())?;
        b.read(&out).await.map_err(|e| e.to_string())
    };
    // Intermediate buffers pooled, as in the sampling loop.
    b.reuse_buffers(true);
    let timed = async {
        let mut output = once().await?;
        let mut ms = Vec::new();
        for _ in 0..call.runs.max(1) {
            let t0 = now_ms();
            output = once().await?;
            ms.push(now_ms() - t0);
        }
        Ok::<_, String>((output, ms))
    }
    .await;
    b.reuse_buffers(false);
    let (output, ms) = timed?;
    Ok(UnetCallTimes {
        output,
        ms,
        adapter: ctx.report.label(),
        math: match ctx.report.shader_f16_enabled {
            true => "f16",
            false => "f32",
        }
        .into(),
    })
}
