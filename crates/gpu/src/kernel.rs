//! Pipelines and dispatch: the one place that talks to wgpu for compute.
//!
//! Bind group layouts are explicit (uniform Params at binding 0, storage
//! buffers from 1) so entry points that ignore a binding still share a layout.

use std::sync::Arc;

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

/// Dispatches per queue submission.
pub const DISPATCHES_PER_SUBMIT: u32 = 64;

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
    count: u32,
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
        let t = crate::stats::now();
        let r = self.record(spec, path, params, storage, groups);
        GpuStats::add(&self.stats.dispatch_host_ns, crate::stats::nanos_since(t));
        r
    }

    fn record<'b, P: Pod, B: Copy + Into<Binding<'b>>>(
        &self,
        spec: &KernelSpec,
        path: ComputePath,
        params: &P,
        storage: &[B],
        [x, y, z]: [u32; 3],
    ) -> Result<(), GpuError> {
        let storage: Vec<Binding> = storage.iter().map(|&b| b.into()).collect();
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
        let max_dim = self.report.limits.max_compute_workgroups_per_dimension;
        if let Some(&d) = [x, y, z].iter().find(|&&d| d > max_dim) {
            return Err(GpuError::DeviceLimit {
                what: "workgroups per dimension",
                requested: d as u64,
                max: max_dim as u64,
            });
        }
        if x == 0 || y == 0 || z == 0 {
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
        let bind_key = BindKey {
            pipeline: key,
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
                layout: &compiled.layout,
                entries: &entries,
            })
        });
        if created {
            GpuStats::add(&self.stats.bind_groups_created, 1);
        }
        GpuStats::add(&self.stats.dispatches, 1);
        let written = storage
            .iter()
            .zip(spec.storage)
            .filter(|(_, a)| **a == Access::ReadWrite)
            .map(|(b, _)| b.size)
            .sum();
        GpuStats::add(&self.stats.bytes_written, written);
        if self.dry_run {
            return Ok(());
        }
        let mut pending = self.pending.lock().expect("pending encoder lock");
        let batch = pending.get_or_insert_with(|| {
            let mut encoder = self
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("batched dispatches"),
                });
            let pass = encoder
                .begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("batched dispatches"),
                    timestamp_writes: None,
                })
                .forget_lifetime();
            Batch {
                pass,
                encoder,
                params: Vec::with_capacity(
                    (self.uniform_stride * DISPATCHES_PER_SUBMIT as u64) as usize,
                ),
                count: 0,
            }
        });
        let offset = batch.count as u64 * self.uniform_stride;
        batch.params.resize(offset as usize, 0);
        batch.params.extend_from_slice(params);
        batch.pass.set_pipeline(&compiled.pipeline);
        batch.pass.set_bind_group(0, &bind_group, &[offset as u32]);
        batch.pass.dispatch_workgroups(x, y, z);
        batch.count += 1;
        if batch.count >= DISPATCHES_PER_SUBMIT {
            let batch = pending.take().expect("just recorded");
            self.submit(batch); // still under the lock, as in `flush`
        }
        Ok(())
    }

    fn submit(&self, batch: Batch) {
        let Batch {
            pass,
            encoder,
            params,
            ..
        } = batch;
        drop(pass);
        self.queue.write_buffer(&self.uniforms, 0, &params);
        GpuStats::add(&self.stats.submits, 1);
        self.queue.submit([encoder.finish()]);
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
