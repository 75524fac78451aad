//! Shows the WebGPU adapter, the limits that decide how the model is split,
//! and the result of the load-time kernel check (run by the worker, on the
//! device that holds the model; see [`crate::probe`]).

use leptos::prelude::*;
use roentgen_gpu::profile::{Profile, Timer};
use roentgen_gpu::selfcheck::KernelCheck;
use roentgen_gpu::{AdapterReport, LimitsReport};

use crate::probe::{Probe, has_webgpu};

fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes / (1024 * 1024))
}

#[component]
fn AdapterDetails(report: AdapterReport) -> impl IntoView {
    let LimitsReport {
        max_storage_buffer_binding_size,
        max_buffer_size,
        max_compute_workgroup_storage_size,
        max_compute_invocations_per_workgroup,
        max_compute_workgroups_per_dimension,
    } = report.limits;
    let f16 = if report.shader_f16_available {
        "shader-f16: yes (f16 arithmetic)"
    } else {
        "shader-f16: no (f16 weights unpacked to f32 arithmetic)"
    };
    view! {
        <p data-testid="adapter">
            {format!("Adapter: {} ({}, {})", report.name, report.backend, report.device_type)}
        </p>
        <p data-testid="shader-f16">{f16}</p>
        <table class="limits" data-testid="limits">
            <tr><th>"maxStorageBufferBindingSize"</th><td>{mib(max_storage_buffer_binding_size)}</td></tr>
            <tr><th>"maxBufferSize"</th><td>{mib(max_buffer_size)}</td></tr>
            <tr><th>"maxComputeWorkgroupStorageSize"</th><td>{format!("{max_compute_workgroup_storage_size} bytes")}</td></tr>
            <tr><th>"maxComputeInvocationsPerWorkgroup"</th><td>{max_compute_invocations_per_workgroup}</td></tr>
            <tr><th>"maxComputeWorkgroupsPerDimension"</th><td>{max_compute_workgroups_per_dimension}</td></tr>
        </table>
    }
}

#[component]
fn KernelChecks(checks: Vec<KernelCheck>, device_s: f64, check_s: f64) -> impl IntoView {
    let all_ok = checks.iter().all(KernelCheck::ok);
    let lines = checks
        .into_iter()
        .map(|c| {
            let verdict = if c.ok() { "OK" } else { "FAILED" };
            view! {
                <li>
                    {format!(
                        "{} [{}], {} values: max |error| {:.2e} (tolerance {:.0e}), {:.2} s {verdict}",
                        c.kernel, c.path.name(), c.elements, c.max_abs_err, c.tolerance, c.seconds
                    )}
                </li>
            }
        })
        .collect_view();
    view! {
        <p data-testid="kernel-check" class=if all_ok { "ok" } else { "bad" }>
            {if all_ok { "kernel OK" } else { "kernel FAILED" }}
        </p>
        <ul class="checks">{lines}</ul>
        <p class="note" data-testid="check-time">
            {format!("device in {device_s:.1} s, kernel check in {check_s:.1} s (in the worker)")}
        </p>
    }
}

/// True when the GPU panel has something the visitor must see: no WebGPU,
/// a failed adapter or device, or a kernel that computed wrong numbers.
fn problem(webgpu: bool, probe: &Option<Probe>) -> bool {
    match (webgpu, probe) {
        (false, _) => true,
        (true, Some(Probe::Failed { .. })) => true,
        (true, Some(Probe::Ready { checks, .. })) => !checks.iter().all(KernelCheck::ok),
        (true, None) => false,
    }
}

/// One line for the collapsed panel's summary: the adapter and the verdict.
fn summary(webgpu: bool, probe: &Option<Probe>) -> String {
    match (webgpu, probe) {
        (false, _) => "no WebGPU in this browser".into(),
        (true, None) => "checking…".into(),
        (true, Some(Probe::Failed { .. })) => "WebGPU failed".into(),
        (true, Some(Probe::Ready { report, checks, .. })) => {
            let verdict = if checks.iter().all(KernelCheck::ok) {
                "kernels OK"
            } else {
                "kernel check FAILED"
            };
            format!("{}, {verdict}", report.name)
        }
    }
}

/// The "Your GPU" panel below the generator: collapsed while all is well (a
/// visitor came for the image, not the limits table), opened by itself and
/// marked red when something is wrong. `probe` is filled when the worker
/// reports; without `navigator.gpu` the page says so at once.
#[component]
pub fn AdapterPanel(
    probe: ReadSignal<Option<Probe>>,
    profile: RwSignal<ProfileState>,
    idle: RwSignal<bool>,
) -> impl IntoView {
    let webgpu = has_webgpu();
    let bad = move || problem(webgpu, &probe.get());
    view! {
        <details class="panel gpu" data-testid="gpu-panel" aria-live="polite"
                open=bad class:bad-panel=bad>
            <summary>
                <h2>"Your GPU"</h2>
                <span data-testid="gpu-summary" class:bad=bad>{move || summary(webgpu, &probe.get())}</span>
            </summary>
            {move || match (webgpu, probe.get()) {
                (false, _) => view! {
                    <div data-testid="no-webgpu" class="bad">
                        <p>"This browser does not offer WebGPU, which RoentGen Web needs to run the model on your GPU."</p>
                        <p>
                            "Use a current Chrome or Edge (version 113 or later) on Windows, macOS or ChromeOS, "
                            "Chrome 121+ on Android, Safari 26+ on macOS or iOS, or Firefox 141+ on Windows. "
                            "On Linux, Chrome needs chrome://flags/#enable-unsafe-webgpu and #enable-vulkan turned on. "
                            "Check that hardware acceleration is enabled in the browser's settings."
                        </p>
                    </div>
                }.into_any(),
                (true, None) => view! { <p data-testid="adapter">"Asking the browser for a WebGPU adapter…"</p> }.into_any(),
                (true, Some(Probe::Failed { message })) => view! {
                    <p data-testid="adapter" class="bad">{format!("WebGPU is present but failed: {message}")}</p>
                }.into_any(),
                (true, Some(Probe::Ready { report, checks, device_s, check_s })) => view! {
                    <AdapterDetails report/>
                    <KernelChecks checks device_s check_s/>
                }.into_any(),
            }}
            <StepProfile profile idle/>
        </details>
    }
}

/// Where "Profile one step" is.
#[derive(Clone, Debug, PartialEq)]
pub enum ProfileState {
    NotRun,
    Running,
    Done(Profile),
    Failed(String),
}

/// "Profile one step": one UNet call at the model's size with every
/// dispatch timed alone, as a table by kernel family (dispatches, ms, share
/// of the step, GFLOP/s, GB/s) and as JSON to send us.
#[component]
fn StepProfile(profile: RwSignal<ProfileState>, idle: RwSignal<bool>) -> impl IntoView {
    let start = move |_| {
        profile.set(ProfileState::Running);
        crate::generate_panel::send(crate::protocol::ToWorker::Profile);
    };
    let running = move || profile.with(|p| *p == ProfileState::Running);
    view! {
        <div class="profile">
            <button data-testid="profile-step" on:click=start
                disabled=move || !idle.get() || running()>"Profile one step"</button>
            " "
            <span class="note">"Where one UNet step's time goes on this GPU, by kernel family."</span>
            {move || match profile.get() {
                ProfileState::NotRun => ().into_any(),
                ProfileState::Running => view! {
                    <p class="note" data-testid="profile-status">"profiling one step: every dispatch timed alone…"</p>
                }.into_any(),
                ProfileState::Failed(e) => view! {
                    <p class="bad" data-testid="profile-status">{format!("profile: {e}")}</p>
                }.into_any(),
                ProfileState::Done(p) => view! { <ProfileTable p/> }.into_any(),
            }}
        </div>
    }
}

#[component]
fn ProfileTable(p: Profile) -> impl IntoView {
    let json = serde_json::to_string_pretty(&p).unwrap_or_default();
    let href = format!(
        "data:application/json;charset=utf-8,{}",
        js_sys::encode_uri_component(&json)
    );
    let timer = match p.timer {
        Timer::GpuTimestamps => "GPU timestamp queries",
        Timer::SubmissionWallTime => {
            "when the queue finished each one-dispatch submission (no timestamp queries here)"
        }
    };
    let rows = p
        .rows
        .iter()
        .map(|r| {
            view! {
                <tr data-testid="profile-row">
                    <td>{r.family.clone()}</td>
                    <td>{r.dispatches}</td>
                    <td>{format!("{:.1}", r.ms)}</td>
                    <td>{format!("{:.1}%", 100.0 * r.share)}</td>
                    <td>{format!("{:.2}", r.gflops)}</td>
                    <td>{format!("{:.2}", r.gbps)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <p class="note" data-testid="profile-status">{format!(
            "one step, {} dispatches, {:.1} ms, timed by {timer}; each dispatch submitted alone, so slower than a real step: the shares are the point",
            p.dispatches, p.total_ms
        )}</p>
        <table class="profile-table" data-testid="profile-table">
            <thead><tr>
                <th>"kernel family"</th><th>"dispatches"</th><th>"ms"</th>
                <th>"share"</th><th>"GFLOP/s"</th><th>"GB/s"</th>
            </tr></thead>
            <tbody>{rows}</tbody>
        </table>
        <a data-testid="profile-json" download="roentgen-profile.json" href=href>"Save as JSON"</a>
    }
}
