//! What the page learns about WebGPU on load: the adapter, and whether a
//! kernel from `shaders/` gives the right answer on it.

use roentgen_gpu::selfcheck::{self, KernelCheck};
use roentgen_gpu::{AdapterReport, ContextOptions, GpuContext};
use wasm_bindgen::JsValue;

/// The outcome of probing this browser.
#[derive(Clone, Debug)]
pub enum Probe {
    /// `navigator.gpu` is missing: this browser (or its settings) has no WebGPU.
    NoWebGpu,
    /// WebGPU exists but gave no adapter or device, or a kernel failed to run.
    Failed(String),
    Ready {
        report: AdapterReport,
        checks: Vec<KernelCheck>,
    },
}

fn has_navigator_gpu() -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    js_sys::Reflect::get(&window.navigator(), &JsValue::from_str("gpu"))
        .map(|gpu| !gpu.is_undefined() && !gpu.is_null())
        .unwrap_or(false)
}

fn get(obj: &JsValue, key: &str) -> Option<JsValue> {
    js_sys::Reflect::get(obj, &JsValue::from_str(key))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

/// wgpu reports only `GPUAdapterInfo.description`, which Chromium leaves empty;
/// vendor and architecture ("google", "swiftshader") are what identify it.
async fn browser_adapter_label() -> Option<String> {
    let navigator = web_sys::window()?.navigator();
    let gpu = get(&navigator, "gpu")?;
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

pub async fn probe() -> Probe {
    if !has_navigator_gpu() {
        return Probe::NoWebGpu;
    }
    let ctx = match GpuContext::new(ContextOptions::default()).await {
        Ok(ctx) => ctx,
        Err(e) => return Probe::Failed(e.to_string()),
    };
    match selfcheck::run(&ctx).await {
        Ok(checks) => {
            let mut report = ctx.report.clone();
            if report.name.is_empty() {
                report.name = browser_adapter_label()
                    .await
                    .unwrap_or_else(|| "unnamed adapter".into());
            }
            Probe::Ready { report, checks }
        }
        Err(e) => Probe::Failed(e.to_string()),
    }
}
