//! (Worker side.) The benchmark hook behind `scripts/browser-peer-bench.mjs`:
//! one UNet call of the loaded model on inputs the script gives, the same it
//! hands ONNX Runtime Web, so the two engines are timed on one call, in one
//! browser, on one adapter, and their outputs compared.
//!
//! Exported to JavaScript (the worker's `wasm_bindgen.bench_unet_call`)
//! rather than a page message: the script reaches the worker directly, and
//! the page's interface gains nothing a visitor would see.

use js_sys::{Array, Float32Array, Object, Reflect};
use roentgen_gpu::kernel::now_ms;
use roentgen_model::Backend;
use wasm_bindgen::prelude::*;

use crate::{loader, worker_state};

/// `runs` timed UNet calls after one untimed warm-up, on `sample`
/// ([B, C, h, w]) at timestep `t` with `context` ([B, 77, D]) as the text
/// encoder's hidden states. Each call is timed from its first command to
/// its output read back on the CPU, as ONNX Runtime's `session.run` is on
/// the other side. Returns `{ output: Float32Array, ms: number[], adapter:
/// string, math: 'f16' | 'f32' }` (math: the
/// activations' precision on this adapter); an error when no model is loaded, a run is in
/// progress, or a shape does not fit the model.
#[wasm_bindgen]
pub async fn bench_unet_call(
    sample: Vec<f32>,
    sample_shape: Vec<u32>,
    t: f32,
    context: Vec<f32>,
    context_shape: Vec<u32>,
    runs: u32,
) -> Result<Object, JsValue> {
    let err = |e: String| JsValue::from_str(&e);
    let model = loader::model().ok_or_else(|| err("load a model first".into()))?;
    let ctx = loader::current_context().ok_or_else(|| err("no GPU device".into()))?;
    if worker_state::with(|w| w.busy.get()) {
        return Err(err("a run is in progress".into()));
    }
    let shape = |s: &[u32]| s.iter().map(|&d| d as usize).collect::<Vec<_>>();
    let (sample_shape, context_shape) = (shape(&sample_shape), shape(&context_shape));
    let b = &model.backend;
    let x = b
        .upload("latents", &sample_shape, &sample)
        .map_err(|e| err(e.to_string()))?;
    let context = b
        .upload("text hidden states", &context_shape, &context)
        .map_err(|e| err(e.to_string()))?;
    // Intermediate buffers pooled, as in the sampling loop.
    b.reuse_buffers(true);
    let call = async || {
        let out = model
            .unet
            .forward(b, &model.weights, &x, t, &context)
            .map_err(|e| e.to_string())?;
        b.read(&out).await.map_err(|e| e.to_string())
    };
    let result = async {
        call().await?;
        let mut ms = Vec::new();
        let mut output = Vec::new();
        for _ in 0..runs.max(1) {
            let t0 = now_ms();
            output = call().await?;
            ms.push(now_ms() - t0);
        }
        Ok::<_, String>((output, ms))
    }
    .await;
    b.reuse_buffers(false);
    let (output, ms) = result.map_err(err)?;
    let o = Object::new();
    let set = |k: &str, v: &JsValue| Reflect::set(&o, &k.into(), v).map(drop);
    set("output", &Float32Array::from(&output[..]).into())?;
    set(
        "ms",
        &ms.iter().map(|&m| JsValue::from_f64(m)).collect::<Array>(),
    )?;
    set("adapter", &ctx.report.label().into())?;
    let math = match ctx.report.shader_f16_enabled {
        true => "f16",
        false => "f32",
    };
    set("math", &math.into())?;
    Ok(o)
}
