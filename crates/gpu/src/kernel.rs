//! Pipelines and dispatch: the one place that talks to wgpu for compute.
//!
//! Bind group layouts are explicit (uniform Params at binding 0, storage
//! buffers from 1) so entry points that ignore a binding still share a layout.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytemuck::Pod;

use crate::residency::BindKey;
use crate::shaders::{self, ShaderFile};
use crate::{ComputePath, GpuContext, GpuError, GpuStats};

/// How a kernel uses one storage binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    Read,
    ReadWrite,
}

/// A storage binding: the bytes [offset, offset + size) of a buffer (all of
/// it, from a `&wgpu::Buffer`). Ranges let an op bind a tensor larger than
/// the adapter's binding limit a slice at a time.
#[derive(Clone, Copy, Debug)]
pub struct Binding<'a> {
    pub buffer: &'a wgpu::Buffer,
    pub offset: u64,
    pub size: u64,
}

impl<'a> From<&'a wgpu::Buffer> for Binding<'a> {
    fn from(buffer: &'a wgpu::Buffer) -> Self {
        Binding {
            buffer,
            offset: 0,
            size: buffer.size(),
        }
    }
}

/// The GEMM kernels' storage bindings (matmul and conv2d share one layout):
/// input, weights, bias, output, residual, per-channel bias.
pub const GEMM_BINDINGS: &[Access] = GEMM_Q8_BINDINGS.split_at(6).0;

/// The same plus binding 7, a q8 weight's scales.
pub const GEMM_Q8_BINDINGS: &[Access] = &[
    Access::Read,
    Access::Read,
    Access::Read,
    Access::ReadWrite,
    Access::Read,
    Access::Read,
    Access::Read,
];

/// Storage binding offsets must be multiples of this (WebGPU's
/// minStorageBufferOffsetAlignment is at most 256 on every adapter).
pub const BINDING_OFFSET_ALIGNMENT: u64 = 256;

/// One entry point of one shader file, with its storage bindings in order.
#[derive(Clone, Copy, Debug)]
pub struct KernelSpec {
    pub file: ShaderFile,
    pub entry: &'static str,
    pub storage: &'static [Access],
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct PipelineKey {
    file: &'static str,
    entry: &'static str,
    path: ComputePath,
}

/// Splits a flat workgroup count into (x, y) within the per-dimension limit;
/// kernels rebuild the flat index as `x + y * num_workgroups.x * WG`.
pub fn fold_workgroups(groups: u32, max_per_dim: u32) -> Result<(u32, u32), GpuError> {
    if groups <= max_per_dim {
        return Ok((groups.max(1), 1));
    }
    let y = groups.div_ceil(max_per_dim);
    if y > max_per_dim {
        return Err(GpuError::DeviceLimit {
            what: "workgroups per dispatch",
            requested: groups as u64,
            max: max_per_dim as u64 * max_per_dim as u64,
        });
    }
    Ok((max_per_dim, y))
}

/// Dispatches per queue submission, at most.
pub const DISPATCHES_PER_SUBMIT: u32 = 64;

/// Arithmetic one queue submission may carry, at most (FLOPs, a multiply-add
/// counting 2), unless one dispatch alone is larger. A desktop OS resets a GPU
/// whose submission runs for about two seconds, and a weak laptop GPU runs
/// our kernels at tens of GFLOP/s: 64 dispatches of a 512x512 image's VAE
/// convolutions (77 GFLOP each) would hold one for minutes. At this budget a
/// GPU needs 10 GFLOP/s to stay under two seconds; `roentgen bench
/// submissions` measures what a submission takes on the adapter, and the
/// largest ops split (conv2d by output pixels, matmul by rows, attention by
/// query rows: whole tiles each) so that no single dispatch exceeds it either.
pub const SUBMIT_BUDGET_FLOPS: u64 = 20_000_000_000;

/// How many dispatches and FLOPs the batch being recorded holds; decides
/// where one submission ends. Kept apart from [`Batch`] so a dry run (which
/// records nothing) cuts its submissions where a real run would.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SubmitMeter {
    pub(crate) count: u32,
    pub(crate) flops: u64,
    /// Kernel entry points of the batch's first and last dispatch (what a
    /// timed submission is reported as).
    pub(crate) first: &'static str,
    pub(crate) last: &'static str,
    /// The shader file of the first dispatch ("matmul+q8"): its kernel
    /// family, for a profile (one dispatch per submission).
    pub(crate) family: &'static str,
    /// Bytes of every binding the batch's dispatches bind.
    pub(crate) bytes: u64,
}

impl SubmitMeter {
    /// Whether the batch must be submitted before a dispatch of `flops` joins
    /// it: it would pass the budget (a dispatch over budget goes alone).
    fn closes_before(&self, flops: u64, budget: u64) -> bool {
        self.count > 0 && self.flops + flops > budget
    }

    /// Adds a dispatch; whether the batch is now full (by count: `limit`
    /// dispatches, DISPATCHES_PER_SUBMIT or 1 while profiling).
    fn add(&mut self, spec: &KernelSpec, flops: u64, bytes: u64, limit: u32) -> bool {
        if self.count == 0 {
            self.first = spec.entry;
            self.family = spec.file.name;
        }
        self.last = spec.entry;
        self.count += 1;
        self.flops += flops;
        self.bytes += bytes;
        self.count >= limit
    }
}

/// One submission as `GpuContext::time_submissions` measured it: natively
/// the host waited for the GPU after each; in the browser the queue said
/// when each was done, and the queue runs them in order, so `secs` is that
/// submission alone either way.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SubmitTiming {
    pub dispatches: u32,
    pub flops: u64,
    pub secs: f64,
    pub first: &'static str,
    pub last: &'static str,
    /// The first dispatch's shader file (its kernel family).
    pub family: &'static str,
    /// Bytes its dispatches bind (read and written).
    pub bytes: u64,
    /// The GPU's own time for it, from timestamp queries, where the
    /// adapter offers them and a profile asked (natively).
    pub gpu_secs: Option<f64>,
}

/// A compiled kernel and its bind group layout.
pub(crate) struct Compiled {
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
}

/// Dispatches recorded into one compute pass and not yet submitted, with
/// their Params packed at `uniform_stride` apart (written to the uniform
/// buffer just before the submit: queue writes land before the commands of
/// the next submit and after those of earlier ones, so one buffer serves
/// every batch).
pub(crate) struct Batch {
    /// Declared before the encoder: the pass must end (drop) first.
    pass: wgpu::ComputePass<'static>,
    encoder: wgpu::CommandEncoder,
    params: Vec<u8>,
    meter: SubmitMeter,
    /// The pass writes timestamps at its start and end (profiling).
    timestamped: bool,
}

impl GpuContext {
    fn pipeline(&self, key: &PipelineKey, spec: &KernelSpec, path: ComputePath) -> Arc<Compiled> {
        let mut cache = self.pipelines.lock().expect("pipeline cache poisoned");
        if let Some(p) = cache.get(key) {
            return p.clone();
        }
        let label = format!("{}.{} [{}]", spec.file.name, spec.entry, path.name());
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(&label),
                source: wgpu::ShaderSource::Wgsl(shaders::source(spec.file, path).into()),
            });
        let mut entries = vec![wgpu::BindGroupLayoutEntry {
            binding: 0,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: true,
                min_binding_size: None,
            },
            count: None,
        }];
        for (i, access) in spec.storage.iter().enumerate() {
            entries.push(wgpu::BindGroupLayoutEntry {
                binding: i as u32 + 1,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Storage {
                        read_only: *access == Access::Read,
                    },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            });
        }
        let bgl = self
            .device
            .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some(&label),
                entries: &entries,
            });
        let layout = self
            .device
            .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(&label),
                bind_group_layouts: &[Some(&bgl)],
                immediate_size: 0,
            });
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(&label),
                layout: Some(&layout),
                module: &module,
                entry_point: Some(spec.entry),
                compilation_options: Default::default(),
                cache: None,
            });
        let compiled = Arc::new(Compiled {
            pipeline,
            layout: bgl,
        });
        cache.insert(key.clone(), compiled.clone());
        compiled
    }

    /// Records and submits one dispatch of `groups` workgroups (folded into 2-D
    /// when over the adapter's per-dimension limit). Storage bindings are
    /// whole buffers (`&wgpu::Buffer`) or byte ranges ([`Binding`]).
    pub fn dispatch<'b, P: Pod, B: Copy + Into<Binding<'b>>>(
        &self,
        spec: &KernelSpec,
        path: ComputePath,
        params: &P,
        storage: &[B],
        groups: u32,
    ) -> Result<(), GpuError> {
        let (x, y) = fold_workgroups(
            groups,
            self.report.limits.max_compute_workgroups_per_dimension,
        )?;
        self.dispatch_3d(spec, path, params, storage, [x, y, 1])
    }

    /// [`GpuContext::dispatch_3d`] for a dispatch that does `flops` of
    /// arithmetic (GEMMs, convolutions, attention): the submission budget
    /// ([`SUBMIT_BUDGET_FLOPS`]) counts these; the bandwidth-bound kernels
    /// (norms, elementwise, copies) are a small share of a step's time and
    /// count as nothing.
    pub fn dispatch_work<'b, P: Pod, B: Copy + Into<Binding<'b>>>(
        &self,
        spec: &KernelSpec,
        path: ComputePath,
        params: &P,
        storage: &[B],
        groups: [u32; 3],
        flops: u64,
    ) -> Result<(), GpuError> {
        let t = crate::stats::now();
        let r = self.record(spec, path, params, storage, groups, flops);
        GpuStats::add(&self.stats.dispatch_host_ns, crate::stats::nanos_since(t));
        r
    }

    /// Records one dispatch of an explicit workgroup grid. Dispatches are
    /// batched into one command buffer per DISPATCHES_PER_SUBMIT (a UNet step
    /// is hundreds of them; a submit each costs a driver round trip, and in a
    /// browser a trip to the GPU process); their Params share one uniform
    /// buffer at dynamic offsets, written once per submit (see [`Batch`]).
    pub fn dispatch_3d<'b, P: Pod, B: Copy + Into<Binding<'b>>>(
        &self,
        spec: &KernelSpec,
        path: ComputePath,
        params: &P,
        storage: &[B],
        groups: [u32; 3],
    ) -> Result<(), GpuError> {
        self.dispatch_work(spec, path, params, storage, groups, 0)
    }

    /// Checks a dispatch against the kernel and the adapter's limits, then
    /// records it into the open batch (or, in a dry run, only counts it).
    fn record<'b, P: Pod, B: Copy + Into<Binding<'b>>>(
        &self,
        spec: &KernelSpec,
        path: ComputePath,
        params: &P,
        storage: &[B],
        groups: [u32; 3],
        flops: u64,
    ) -> Result<(), GpuError> {
        let storage: Vec<Binding> = storage.iter().map(|&b| b.into()).collect();
        self.check_bindings(spec, &storage)?;
        let max_dim = self.report.limits.max_compute_workgroups_per_dimension;
        if let Some(&d) = groups.iter().find(|&&d| d > max_dim) {
            return Err(GpuError::DeviceLimit {
                what: "workgroups per dimension",
                requested: d as u64,
                max: max_dim as u64,
            });
        }
        if groups.contains(&0) {
            return Ok(());
        }
        let key = PipelineKey {
            file: spec.file.name,
            entry: spec.entry,
            path,
        };
        let compiled = self.pipeline(&key, spec, path);
        let params = bytemuck::bytes_of(params);
        let uniform_size = (params.len() as u64).next_multiple_of(16);
        if uniform_size > self.uniform_stride {
            return Err(GpuError::ShapeMismatch {
                op: spec.entry,
                expected: format!("Params of at most {} bytes", self.uniform_stride),
                got: params.len().to_string(),
            });
        }
        let bind_group = self.bind_group(key, spec, &compiled.layout, uniform_size, &storage);
        self.count(spec, &storage, flops);
        let bytes = storage.iter().map(|b| b.size).sum();
        if self.dry_run {
            // Nothing is recorded, but submissions are cut as a real run cuts
            // them, so `plan` reports the largest one at full size.
            let mut meter = self.dry_meter.lock().expect("dry-run meter lock");
            if meter.closes_before(flops, self.submit_budget_flops) {
                self.close_meter(std::mem::take(&mut *meter));
            }
            if meter.add(spec, flops, bytes, DISPATCHES_PER_SUBMIT) {
                self.close_meter(std::mem::take(&mut *meter));
            }
            return Ok(());
        }
        self.enqueue(
            spec,
            bytes,
            &compiled.pipeline,
            &bind_group,
            params,
            groups,
            flops,
        );
        Ok(())
    }

    /// As many bindings as the kernel declares, each within the adapter's
    /// binding size and inside its buffer at an aligned offset.
    fn check_bindings(&self, spec: &KernelSpec, storage: &[Binding]) -> Result<(), GpuError> {
        if storage.len() != spec.storage.len() {
            return Err(GpuError::ShapeMismatch {
                op: spec.entry,
                expected: format!("{} storage bindings", spec.storage.len()),
                got: format!("{}", storage.len()),
            });
        }
        let max_binding = self.report.limits.max_storage_buffer_binding_size;
        for (i, b) in storage.iter().enumerate() {
            if b.size > max_binding {
                return Err(GpuError::BindingTooLarge {
                    kernel: format!("{}.{}", spec.file.name, spec.entry),
                    binding: i + 1,
                    requested: b.size,
                    max: max_binding,
                });
            }
            if b.offset % BINDING_OFFSET_ALIGNMENT != 0 || b.offset + b.size > b.buffer.size() {
                return Err(GpuError::ShapeMismatch {
                    op: spec.entry,
                    expected: format!(
                        "binding {} inside its buffer at a multiple of {BINDING_OFFSET_ALIGNMENT} bytes",
                        i + 1
                    ),
                    got: format!("{}..{} of {}", b.offset, b.offset + b.size, b.buffer.size()),
                });
            }
        }
        Ok(())
    }

    /// The bind group of these buffers for this pipeline: made once and
    /// kept while the buffers live (see `Residency`); binding 0 is the
    /// shared uniform buffer at a dynamic offset.
    fn bind_group(
        &self,
        pipeline: PipelineKey,
        spec: &KernelSpec,
        layout: &wgpu::BindGroupLayout,
        uniform_size: u64,
        storage: &[Binding],
    ) -> wgpu::BindGroup {
        let bind_key = BindKey {
            pipeline,
            uniform_size,
            storage: storage
                .iter()
                .map(|b| (b.buffer.clone(), b.offset, b.size))
                .collect(),
        };
        let (bind_group, created) = self.residency.bind_group(bind_key, || {
            let mut entries = vec![wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &self.uniforms,
                    offset: 0,
                    size: wgpu::BufferSize::new(uniform_size),
                }),
            }];
            for (i, b) in storage.iter().enumerate() {
                entries.push(wgpu::BindGroupEntry {
                    binding: i as u32 + 1,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: b.buffer,
                        offset: b.offset,
                        size: wgpu::BufferSize::new(b.size),
                    }),
                });
            }
            self.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(spec.entry),
                layout,
                entries: &entries,
            })
        });
        if created {
            GpuStats::add(&self.stats.bind_groups_created, 1);
        }
        bind_group
    }

    /// The dispatch into the counters: one more, the bytes its read-write
    /// bindings hold, its declared arithmetic.
    fn count(&self, spec: &KernelSpec, storage: &[Binding], flops: u64) {
        GpuStats::add(&self.stats.dispatches, 1);
        let written = storage
            .iter()
            .zip(spec.storage)
            .filter(|(_, a)| **a == Access::ReadWrite)
            .map(|(b, _)| b.size)
            .sum();
        GpuStats::add(&self.stats.bytes_written, written);
        GpuStats::add(&self.stats.flops, flops);
        self.stats
            .dispatch_flops_peak
            .fetch_max(flops, Ordering::Relaxed);
    }

    /// Records the dispatch into the open batch (opening one, or submitting
    /// the full one first when this dispatch would take it past the
    /// submission budget); a batch that reaches its count is submitted.
    #[allow(clippy::too_many_arguments)] // one dispatch, as `record` checked it
    fn enqueue(
        &self,
        spec: &KernelSpec,
        bytes: u64,
        pipeline: &wgpu::ComputePipeline,
        bind_group: &wgpu::BindGroup,
        params: &[u8],
        [x, y, z]: [u32; 3],
        flops: u64,
    ) {
        let mut pending = self.pending.lock().expect("pending encoder lock");
        if pending
            .as_ref()
            .is_some_and(|b| b.meter.closes_before(flops, self.submit_budget_flops))
        {
            let batch = pending.take().expect("just checked");
            self.submit(batch);
        }
        let profiling = self.profiling.load(Ordering::Relaxed);
        let batch = pending.get_or_insert_with(|| {
            let mut encoder = self
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("batched dispatches"),
                });
            // Profiling natively with timestamp queries: the pass (one
            // dispatch) is stamped at its start and end.
            let stamps = self.timestamps.as_ref().filter(|_| profiling);
            let pass = encoder
                .begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("batched dispatches"),
                    timestamp_writes: stamps.map(|t| wgpu::ComputePassTimestampWrites {
                        query_set: &t.query_set,
                        beginning_of_pass_write_index: Some(0),
                        end_of_pass_write_index: Some(1),
                    }),
                })
                .forget_lifetime();
            Batch {
                pass,
                encoder,
                params: Vec::with_capacity(
                    (self.uniform_stride * DISPATCHES_PER_SUBMIT as u64) as usize,
                ),
                meter: SubmitMeter::default(),
                timestamped: stamps.is_some(),
            }
        });
        let offset = batch.meter.count as u64 * self.uniform_stride;
        batch.params.resize(offset as usize, 0);
        batch.params.extend_from_slice(params);
        batch.pass.set_pipeline(pipeline);
        batch.pass.set_bind_group(0, bind_group, &[offset as u32]);
        batch.pass.dispatch_workgroups(x, y, z);
        let limit = if profiling { 1 } else { DISPATCHES_PER_SUBMIT };
        if batch.meter.add(spec, flops, bytes, limit) {
            let batch = pending.take().expect("just recorded");
            self.submit(batch); // still under the lock, as in `flush`
        }
    }

    fn submit(&self, batch: Batch) {
        let Batch {
            pass,
            mut encoder,
            params,
            meter,
            timestamped,
        } = batch;
        drop(pass);
        let stamps = self.timestamps.as_ref().filter(|_| timestamped);
        if let Some(t) = stamps {
            t.resolve(&mut encoder);
        }
        self.queue.write_buffer(&self.uniforms, 0, &params);
        self.close_meter(meter);
        #[cfg(not(target_arch = "wasm32"))]
        let t = std::time::Instant::now();
        self.queue.submit([encoder.finish()]);
        #[cfg(not(target_arch = "wasm32"))]
        self.time_submission(meter, t, stamps);
        #[cfg(target_arch = "wasm32")]
        self.mark_submission(meter);
    }

    /// In the browser nothing may wait: when timing is on, a submission
    /// logs when it was made, and the queue calls back when it is done.
    #[cfg(target_arch = "wasm32")]
    fn mark_submission(&self, meter: SubmitMeter) {
        let mut log = self.submit_log.lock().expect("submission log lock");
        let Some(log) = log.as_mut() else { return };
        let index = log.len();
        log.push(SubmitTiming {
            dispatches: meter.count,
            flops: meter.flops,
            secs: f64::NAN,
            first: meter.first,
            last: meter.last,
            family: meter.family,
            bytes: meter.bytes,
            gpu_secs: None,
        });
        let marks = self.submit_marks.clone();
        marks
            .lock()
            .expect("submission marks lock")
            .push((now_ms(), f64::NAN));
        self.queue.on_submitted_work_done(move || {
            if let Some(m) = marks.lock().expect("submission marks lock").get_mut(index) {
                m.1 = now_ms();
            }
        });
    }

    /// Counts a submission (real or dry-run) and its size.
    fn close_meter(&self, meter: SubmitMeter) {
        GpuStats::add(&self.stats.submits, 1);
        self.stats
            .submit_flops_peak
            .fetch_max(meter.flops, Ordering::Relaxed);
    }

    /// Waits for the submission just made when timing is on, and logs it.
    #[cfg(not(target_arch = "wasm32"))]
    fn time_submission(
        &self,
        meter: SubmitMeter,
        t: std::time::Instant,
        stamps: Option<&crate::profile::Timestamps>,
    ) {
        let mut log = self.submit_log.lock().expect("submission log lock");
        if let Some(log) = log.as_mut() {
            let _ = self.device.poll(wgpu::PollType::wait_indefinitely());
            let secs = t.elapsed().as_secs_f64();
            log.push(SubmitTiming {
                dispatches: meter.count,
                flops: meter.flops,
                secs,
                first: meter.first,
                last: meter.last,
                family: meter.family,
                bytes: meter.bytes,
                gpu_secs: stamps.and_then(|s| s.read(&self.device)),
            });
        }
    }

    /// From now on, waits for the GPU after every submission and logs how
    /// long each took (a benchmark's tool: it serializes the host and the
    /// GPU). Returns the submissions logged since the last call.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn time_submissions(&self, on: bool) -> Vec<SubmitTiming> {
        self.flush();
        let _ = self.device.poll(wgpu::PollType::wait_indefinitely());
        let mut log = self.submit_log.lock().expect("submission log lock");
        let done = log.take().unwrap_or_default();
        *log = on.then(Vec::new);
        done
    }

    /// From now on, logs every submission and when the queue finished it
    /// (the browser cannot wait, so submissions still overlap the host's
    /// recording of the next). Returns the submissions logged since the
    /// last call once the queue has finished them all: each one's time is
    /// its completion less the later of its submission and the previous
    /// completion.
    #[cfg(target_arch = "wasm32")]
    pub async fn time_submissions(&self, on: bool) -> Vec<SubmitTiming> {
        self.flush();
        self.queue_idle().await;
        let mut log = self.submit_log.lock().expect("submission log lock");
        let mut done = log.take().unwrap_or_default();
        *log = on.then(Vec::new);
        let marks = std::mem::take(&mut *self.submit_marks.lock().expect("submission marks lock"));
        let mut previous = f64::NEG_INFINITY;
        for (t, (made, finished)) in done.iter_mut().zip(marks) {
            t.secs = (finished - made.max(previous)) / 1e3;
            previous = finished;
        }
        done
    }

    /// Resolves once the queue has finished everything submitted before.
    #[cfg(target_arch = "wasm32")]
    pub async fn queue_idle(&self) {
        let (tx, rx) = futures_channel::oneshot::channel();
        self.queue.on_submitted_work_done(move || {
            let _ = tx.send(());
        });
        let _ = rx.await;
    }

    /// Submits the dispatches recorded so far. Reads call it first; so must
    /// anything that waits for the GPU (benchmarks).
    pub fn flush(&self) {
        // Submitted under the lock: batches reach the queue in the order they
        // were recorded, each after its own Params (threads share the pool,
        // so a later batch may reuse a buffer an earlier one still reads).
        let mut pending = self.pending.lock().expect("pending encoder lock");
        if let Some(batch) = pending.take() {
            self.submit(batch);
        }
        if self.dry_run {
            let mut meter = self.dry_meter.lock().expect("dry-run meter lock");
            if meter.count > 0 {
                self.close_meter(std::mem::take(&mut *meter));
            }
        }
    }

    /// Flushes and blocks until the GPU is idle (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn wait(&self) {
        self.flush();
        let _ = self.device.poll(wgpu::PollType::wait_indefinitely());
    }
}

/// Byte layout of a `#[repr(C)]` Params struct, checked against the WGSL
/// `struct Params` by naga in the tests.
#[derive(Clone, Copy, Debug)]
pub struct ParamsLayout {
    pub size: usize,
    pub fields: &'static [(&'static str, usize)],
}

/// `params_layout!(Struct; field, field, ...)` at compile time.
#[macro_export]
macro_rules! params_layout {
    ($t:ty; $($f:ident),+ $(,)?) => {
        $crate::kernel::ParamsLayout {
            size: ::core::mem::size_of::<$t>(),
            fields: &[$((stringify!($f), ::core::mem::offset_of!($t, $f))),+],
        }
    };
}

/// Milliseconds since the first call (natively; the page's clock is below).
#[cfg(not(target_arch = "wasm32"))]
pub fn now_ms() -> f64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs_f64()
        * 1e3
}

/// The page's clock in ms: `performance.now()` (finer than `Date.now()`,
/// which browsers round to a millisecond or more), else `Date.now()`.
#[cfg(target_arch = "wasm32")]
pub fn now_ms() -> f64 {
    let global = js_sys::global();
    js_sys::Reflect::get(&global, &"performance".into())
        .ok()
        .and_then(|perf| {
            let now = js_sys::Reflect::get(&perf, &"now".into()).ok()?;
            js_sys::Function::from(now).call0(&perf).ok()?.as_f64()
        })
        .unwrap_or_else(js_sys::Date::now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_stays_within_the_limit_and_covers_every_group() {
        assert_eq!(fold_workgroups(1, 65535).unwrap(), (1, 1));
        assert_eq!(fold_workgroups(65535, 65535).unwrap(), (65535, 1));
        let (x, y) = fold_workgroups(65536, 65535).unwrap();
        assert!(x <= 65535 && y <= 65535 && x * y >= 65536);
        let (x, y) = fold_workgroups(1_000_000, 1000).unwrap();
        assert!(x <= 1000 && y <= 1000 && x * y >= 1_000_000);
        assert!(fold_workgroups(1_000_001, 1000).is_err());
    }
}
