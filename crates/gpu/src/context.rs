//! Adapter and device acquisition, and the report the page and CLI show.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::kernel::{Batch, Compiled, PipelineKey, SubmitMeter};
use crate::residency::Residency;
use crate::{ComputePath, DType, GpuError};

/// Knobs for [`GpuContext::new`].
#[derive(Clone, Debug)]
pub struct ContextOptions {
    /// Use `shader-f16` when the adapter has it. Tests turn this off to run the
    /// packed-f16 path (the browser's path on most machines) on the same adapter.
    pub allow_shader_f16: bool,
    /// Fill every op's output with NaN before the kernel runs, so an element
    /// a kernel forgets to write fails the tests. Costs a host upload per op.
    pub poison_outputs: bool,
    /// Validate every op (buffers, bind groups, pipelines, limits) but submit
    /// nothing: `roentgen plan` builds a full-size pipeline this way on an
    /// adapter far too slow to run it.
    pub dry_run: bool,
    /// Run linear layers on cooperative matrices (tensor cores) where the
    /// device offers wgpu's experimental feature (8x8 f32 in wgpu 30). Off
    /// unless asked (natively: `ROENTGEN_COOPERATIVE_MATRIX=1`): the path is
    /// verified only on hardware that has it.
    pub cooperative_matrix: bool,
    /// FLOPs one submission may carry ([`crate::kernel::SUBMIT_BUDGET_FLOPS`]
    /// unless a test or benchmark sets another, to see the cuts).
    pub submit_budget_flops: u64,
}

impl Default for ContextOptions {
    fn default() -> Self {
        Self {
            allow_shader_f16: true,
            poison_outputs: false,
            dry_run: false,
            cooperative_matrix: cooperative_matrix_asked(),
            submit_budget_flops: crate::kernel::SUBMIT_BUDGET_FLOPS,
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn cooperative_matrix_asked() -> bool {
    std::env::var("ROENTGEN_COOPERATIVE_MATRIX").is_ok_and(|v| v == "1")
}

#[cfg(target_arch = "wasm32")]
fn cooperative_matrix_asked() -> bool {
    false
}

/// The adapter offers the cooperative-matrix feature in the one
/// configuration our kernel uses: 8x8x8, f32 inputs and accumulator.
fn cooperative_matrix_8x8_f32(adapter: &wgpu::Adapter) -> bool {
    adapter
        .features()
        .contains(wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX)
        && adapter.cooperative_matrix_properties().iter().any(|p| {
            (p.m_size, p.n_size, p.k_size) == (8, 8, 8)
                && p.ab_type == wgpu::CooperativeScalarType::F32
                && p.cr_type == wgpu::CooperativeScalarType::F32
        })
}

/// The limits that decide how work is split (DESIGN.md, "Respect the adapter's limits").
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LimitsReport {
    pub max_storage_buffer_binding_size: u64,
    pub max_buffer_size: u64,
    pub max_compute_workgroup_storage_size: u32,
    pub max_compute_invocations_per_workgroup: u32,
    pub max_compute_workgroups_per_dimension: u32,
}

impl LimitsReport {
    fn from_limits(l: &wgpu::Limits) -> Self {
        Self {
            max_storage_buffer_binding_size: l.max_storage_buffer_binding_size,
            max_buffer_size: l.max_buffer_size,
            max_compute_workgroup_storage_size: l.max_compute_workgroup_storage_size,
            max_compute_invocations_per_workgroup: l.max_compute_invocations_per_workgroup,
            max_compute_workgroups_per_dimension: l.max_compute_workgroups_per_dimension,
        }
    }
}

/// What the adapter is and can do, as shown to the user.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdapterReport {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    /// The adapter offers `shader-f16`.
    pub shader_f16_available: bool,
    /// The device was created with `shader-f16` and kernels use it.
    pub shader_f16_enabled: bool,
    /// The adapter offers cooperative matrices (8x8 f32) ...
    #[serde(default)]
    pub cooperative_matrix_available: bool,
    /// ... and linear layers use them (asked for, and granted).
    #[serde(default)]
    pub cooperative_matrix_enabled: bool,
    /// The device times passes with timestamp queries (profiles).
    #[serde(default)]
    pub timestamp_query: bool,
    pub limits: LimitsReport,
}

impl AdapterReport {
    /// "NAME (BACKEND)": how benchmarks and profiles name the adapter.
    pub fn label(&self) -> String {
        format!("{} ({})", self.name, self.backend)
    }
}

/// A device, its queue, and the compiled pipelines, shared by every op.
pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub report: AdapterReport,
    pub(crate) poison_outputs: bool,
    pub(crate) dry_run: bool,
    /// Bytes our tensors hold on this device.
    pub memory: Arc<crate::memory::MemoryMeter>,
    /// Dispatches, buffers and bind groups created, submits, host time.
    pub stats: crate::GpuStats,
    pub(crate) pipelines: Mutex<HashMap<PipelineKey, Arc<Compiled>>>,
    /// Dispatches recorded but not yet submitted (see [`GpuContext::flush`]).
    pub(crate) pending: Mutex<Option<Batch>>,
    /// Where a dry run (which records nothing) would cut its submissions.
    pub(crate) dry_meter: Mutex<SubmitMeter>,
    pub(crate) submit_budget_flops: u64,
    /// Submissions timed one by one, while a benchmark asks
    /// ([`GpuContext::time_submissions`]).
    pub(crate) submit_log: Mutex<Option<Vec<crate::kernel::SubmitTiming>>>,
    /// A profile runs: one dispatch per submission (see profile.rs).
    pub(crate) profiling: std::sync::atomic::AtomicBool,
    /// Where timestamp queries are offered: the query set a profiled
    /// pass writes, and the buffers it is read back through.
    pub(crate) timestamps: Option<crate::profile::Timestamps>,
    /// In the browser, when each timed submission was made and when the
    /// queue said it was done (ms; NaN until then).
    #[cfg(target_arch = "wasm32")]
    pub(crate) submit_marks: Arc<Mutex<Vec<(f64, f64)>>>,
    /// Every dispatch's Params, one aligned slot per dispatch of a batch,
    /// written once per submit (see kernel.rs).
    pub(crate) uniforms: wgpu::Buffer,
    pub(crate) uniform_stride: u64,
    /// Pooled buffers and cached bind groups (residency.rs).
    pub(crate) residency: Arc<Residency>,
    /// The first error the device reported outside an error scope (a shader
    /// this browser's compiler rejects, a binding it refuses). WebGPU only
    /// reports such errors as events, and the kernels' outputs then keep
    /// whatever they held, so every read-back checks this first: a broken
    /// kernel becomes an error with the browser's message, never a plausible
    /// grey image.
    device_error: Arc<Mutex<Option<String>>>,
}

impl GpuContext {
    /// Asks for the best adapter and a device with every limit it offers:
    /// the model's buffers need far more than WebGPU's defaults.
    pub async fn new(options: ContextOptions) -> Result<Self, GpuError> {
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::NoAdapter {
                reason: e.to_string(),
            })?;
        let info = adapter.get_info();
        let available = adapter.features();
        let shader_f16_available = available.contains(wgpu::Features::SHADER_F16);
        let shader_f16_enabled = shader_f16_available && options.allow_shader_f16;
        let mut required_features = wgpu::Features::empty();
        if shader_f16_enabled {
            required_features |= wgpu::Features::SHADER_F16;
        }
        // For profiles (natively: the browser's readback cannot be waited on).
        let timestamp_query = cfg!(not(target_arch = "wasm32"))
            && available.contains(wgpu::Features::TIMESTAMP_QUERY);
        if timestamp_query {
            required_features |= wgpu::Features::TIMESTAMP_QUERY;
        }
        let cooperative_matrix_available = cooperative_matrix_8x8_f32(&adapter);
        let cooperative_matrix_enabled = cooperative_matrix_available && options.cooperative_matrix;
        let mut experimental_features = wgpu::ExperimentalFeatures::disabled();
        if cooperative_matrix_enabled {
            required_features |= wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX;
            // SAFETY: wgpu asks us to acknowledge that experimental features
            // may have bugs; the path is opt-in and checked by the op tests
            // on the device that has it.
            experimental_features = unsafe { wgpu::ExperimentalFeatures::enabled() };
        }
        let limits = adapter.limits();
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("roentgen"),
                required_features,
                required_limits: limits.clone(),
                experimental_features,
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::NoDevice {
                reason: e.to_string(),
            })?;
        let device_error: Arc<Mutex<Option<String>>> = Arc::default();
        let first = device_error.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let mut slot = first.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert_with(|| e.to_string());
        }));
        let report = AdapterReport {
            name: info.name,
            backend: info.backend.to_str().to_string(),
            device_type: format!("{:?}", info.device_type),
            driver: format!("{} {}", info.driver, info.driver_info)
                .trim()
                .to_string(),
            shader_f16_available,
            shader_f16_enabled,
            cooperative_matrix_available,
            cooperative_matrix_enabled,
            timestamp_query,
            limits: LimitsReport::from_limits(&device.limits()),
        };
        let timestamps = timestamp_query.then(|| crate::profile::Timestamps::new(&device, &queue));
        let uniform_stride = (device.limits().min_uniform_buffer_offset_alignment as u64).max(256);
        let uniforms = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("dispatch params"),
            size: uniform_stride * crate::kernel::DISPATCHES_PER_SUBMIT as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        // In the browser wgpu's handles are not Send; the context and its
        // tensors stay on the worker's one thread there.
        #[allow(clippy::arc_with_non_send_sync)]
        let residency = Arc::new(Residency::default());
        Ok(Self {
            device,
            queue,
            report,
            poison_outputs: options.poison_outputs,
            dry_run: options.dry_run,
            memory: residency.memory.clone(),
            uniforms,
            uniform_stride,
            residency,
            stats: Default::default(),
            pipelines: Mutex::new(HashMap::new()),
            pending: Mutex::new(None),
            dry_meter: Mutex::new(SubmitMeter::default()),
            submit_budget_flops: options.submit_budget_flops.max(1),
            submit_log: Mutex::new(None),
            profiling: Default::default(),
            timestamps,
            #[cfg(target_arch = "wasm32")]
            submit_marks: Arc::default(),
            device_error,
        })
    }

    /// The device's first uncaptured error, if any (it stays: after one the
    /// device's results cannot be trusted).
    pub fn check_device(&self) -> Result<(), GpuError> {
        let slot = self.device_error.lock().unwrap_or_else(|p| p.into_inner());
        match slot.as_ref() {
            Some(reason) => Err(GpuError::Device {
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Frees the idle buffers kept for reuse (and the bind groups naming
    /// them). Returns bytes freed.
    pub fn trim(&self) -> u64 {
        self.residency.trim()
    }

    /// Whether dropped op outputs are kept for reuse (the default) or freed
    /// (turning it off frees the pool): on for work that repeats, off for a
    /// one-shot phase whose sizes never come back.
    pub fn reuse_buffers(&self, on: bool) {
        self.residency.set_reuse(on);
    }

    /// Bind groups cached for reuse.
    pub fn cached_bind_groups(&self) -> usize {
        self.residency.cached_bind_groups()
    }

    /// The path a kernel on `dtype` storage runs on this device.
    pub fn path_for(&self, dtype: DType) -> ComputePath {
        match dtype {
            DType::F32 => ComputePath::F32,
            DType::F16 if self.report.shader_f16_enabled => ComputePath::F16Native,
            DType::F16 => ComputePath::F16Packed,
        }
    }
}
