//! Pipelines and dispatch: the one place that talks to wgpu for compute.
//!
//! Bind group layouts are explicit (uniform Params at binding 0, storage
//! buffers from 1) so entry points that ignore a binding still share a layout.

use std::sync::Arc;

use bytemuck::Pod;
use wgpu::util::DeviceExt;

use crate::shaders::{self, ShaderFile};
use crate::{ComputePath, GpuContext, GpuError};

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

impl GpuContext {
    fn pipeline(&self, spec: &KernelSpec, path: ComputePath) -> Arc<wgpu::ComputePipeline> {
        let key = PipelineKey {
            file: spec.file.name,
            entry: spec.entry,
            path,
        };
        let mut cache = self.pipelines.lock().expect("pipeline cache poisoned");
        if let Some(p) = cache.get(&key) {
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
                has_dynamic_offset: false,
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
        let pipeline = Arc::new(self.device.create_compute_pipeline(
            &wgpu::ComputePipelineDescriptor {
                label: Some(&label),
                layout: Some(&layout),
                module: &module,
                entry_point: Some(spec.entry),
                compilation_options: Default::default(),
                cache: None,
            },
        ));
        cache.insert(key, pipeline.clone());
        pipeline
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
    /// browser a trip to the GPU process) and each uses its own uniform
    /// buffer, so batching never reorders data.
    pub fn dispatch_3d<'b, P: Pod, B: Copy + Into<Binding<'b>>>(
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
        let pipeline = self.pipeline(spec, path);
        let label = format!("{}.{}", spec.file.name, spec.entry);
        let uniform = self
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(&label),
                contents: bytemuck::bytes_of(params),
                usage: wgpu::BufferUsages::UNIFORM,
            });
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: uniform.as_entire_binding(),
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
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(&label),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        self.dispatches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if self.dry_run {
            return Ok(());
        }
        let mut pending = self.pending.lock().expect("pending encoder lock");
        let (encoder, count) = pending.get_or_insert_with(|| {
            let e = self
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("batched dispatches"),
                });
            (e, 0)
        });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(&label),
                timestamp_writes: None,
            });
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(x, y, z);
        }
        *count += 1;
        if *count >= DISPATCHES_PER_SUBMIT {
            let (encoder, _) = pending.take().expect("just recorded");
            self.queue.submit([encoder.finish()]);
        }
        Ok(())
    }

    /// Submits the dispatches recorded so far. Reads call it first; so must
    /// anything that waits for the GPU (benchmarks).
    pub fn flush(&self) {
        if let Some((encoder, _)) = self.pending.lock().expect("pending encoder lock").take() {
            self.queue.submit([encoder.finish()]);
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
