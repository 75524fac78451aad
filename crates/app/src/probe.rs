//! What the page learns about WebGPU on load: whether the browser offers it
//! (asked on the page's thread: a property read, nothing more), and, from the
//! worker, the adapter and whether the kernels from `shaders/` give the right
//! answers on it. The check runs in the worker on the very device that then
//! holds the model, so its pipelines are compiled once and the page's thread
//! never opens a GPU device.

use roentgen_gpu::selfcheck::{self, KernelCheck};
use roentgen_gpu::{AdapterReport, DType, GpuContext};
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

/// What the worker found, sent to the page once, before it takes any message.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Probe {
    /// WebGPU exists but gave no adapter or device, or a kernel failed to run.
    Failed { message: String },
    Ready {
        report: AdapterReport,
        checks: Vec<KernelCheck>,
        /// Seconds the device took to appear and the check took to run
        /// (mostly shader compilation on a software adapter).
        device_s: f64,
        check_s: f64,
    },
}

fn get(obj: &JsValue, key: &str) -> Option<JsValue> {
    js_sys::Reflect::get(obj, &JsValue::from_str(key))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

/// `navigator.gpu` exists in this scope (the page's window or the worker).
pub fn has_webgpu() -> bool {
    get(&js_sys::global(), "navigator")
        .and_then(|n| get(&n, "gpu"))
        .is_some()
}

/// wgpu reports only `GPUAdapterInfo.description`, which Chromium leaves empty;
/// vendor and architecture ("google", "swiftshader") are what identify it.
async fn browser_adapter_label() -> Option<String> {
    let gpu = get(&get(&js_sys::global(), "navigator")?, "gpu")?;
    let request: js_sys::Function = get(&gpu, "requestAdapter")?.into();
    let promise: js_sys::Promise = request.call0(&gpu).ok()?.into();
    let adapter = wasm_bindgen_futures::JsFuture::from(promise).await.ok()?;
    let info = get(&adapter, "info")?;
    let parts: Vec<String> = ["vendor", "architecture", "device", "description"]
        .iter()
        .filter_map(|k| get(&info, k)?.as_string())
        .filter(|s| !s.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// (Worker side.) Runs the kernel self-check on the worker's device, on the
/// f16 storage the model computes with (packed in `u32` where the adapter
/// lacks shader-f16): the pipelines it compiles are the model's own, cached
/// for the first image. The f32 variants are checked natively
/// (`roentgen adapter`, `cargo test`) and compiled in Chromium by the
/// browser tests; checking them here would only delay every visitor.
pub async fn run(ctx: &GpuContext, device_s: f64) -> Probe {
    let t0 = js_sys::Date::now();
    let clock = || js_sys::Date::now() / 1e3;
    match selfcheck::run(ctx, &[DType::F16], &clock).await {
        Ok(checks) => {
            let mut report = ctx.report.clone();
            if report.name.is_empty() {
                report.name = browser_adapter_label()
                    .await
                    .unwrap_or_else(|| "unnamed adapter".into());
            }
            Probe::Ready {
                report,
                checks,
                device_s,
                check_s: (js_sys::Date::now() - t0) / 1e3,
            }
        }
        Err(e) => Probe::Failed {
            message: e.to_string(),
        },
    }
}
