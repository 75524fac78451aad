//! A tensor is a labelled storage buffer with a shape and a storage type.

use half::f16;

use crate::{DType, GpuContext, GpuError};

/// Row-major tensor on the GPU. Buffers are padded to a whole number of
/// element pairs, because the packed-f16 path reads and writes `u32` words.
pub struct Tensor {
    pub buffer: wgpu::Buffer,
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub name: String,
    /// Some for a q8 weight: `buffer` then holds int8 values (four to a
    /// word) and this the f32 scale of each output channel (dimension 0).
    /// `dtype` is the activations' type it multiplies; only matmul's B
    /// (trans_b) and conv2d's weight accept it.
    pub q8_scales: Option<wgpu::Buffer>,
    /// Where the buffer goes when the tensor drops.
    slot: Option<Slot>,
}

struct Slot {
    /// This buffer's bytes on the context's memory meter.
    lease: crate::memory::Lease,
    /// A q8 weight's scales' bytes.
    extra: Option<crate::memory::Lease>,
    home: std::sync::Arc<crate::residency::Residency>,
    /// Back to the pool with this serial (op outputs, per-step inputs), or
    /// None: freed (weights).
    serial: Option<u64>,
}

/// Where a tensor's buffer came from.
enum Made {
    New(wgpu::Buffer),
    Pooled(crate::residency::Pooled),
}

impl Drop for Tensor {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            slot.home.release(&self.buffer, slot.lease, slot.serial);
        }
    }
}

/// f32 NaN and a pair of f16 NaNs: an element a kernel forgot to write reads
/// back as NaN and fails any comparison.
const POISON_F32: u32 = 0x7fc0_0000;
const POISON_F16_PAIR: u32 = 0x7e00_7e00;

/// Buffers hold a whole number of quads (four elements) so kernels may bind
/// them as arrays of `S4` (vec4) as well as of `S2` (pairs).
fn padded_len(numel: usize) -> usize {
    numel.div_ceil(4) * 4
}

const USAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

/// A storage buffer holding `contents` (a multiple of 4 bytes: buffers hold
/// whole quads). Written through the queue rather than mapped at creation:
/// in a browser a mapped range is a shared-memory copy the page's process
/// keeps until its garbage collector runs, which a 2 GB model load piles up;
/// a queue write is copied and released by the GPU process. Nothing can
/// have recorded a use of a buffer made here, so the write's place in the
/// queue does not matter.
fn buffer_with(ctx: &GpuContext, name: &str, contents: &[u8]) -> wgpu::Buffer {
    let buffer = ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(name),
        size: contents.len() as u64,
        usage: USAGE,
        mapped_at_creation: false,
    });
    if !ctx.dry_run {
        ctx.queue.write_buffer(&buffer, 0, contents);
        // Natively the write waits in a staging copy until the next submit:
        // push large ones out now, so a model load does not stage the whole
        // model in host memory first.
        if contents.len() >= 4 << 20 {
            ctx.queue.submit(std::iter::empty());
        }
    }
    buffer
}

/// Encodes f32 values in `dtype`, padded to whole pairs.
pub fn encode(data: &[f32], dtype: DType) -> Vec<u8> {
    let n = padded_len(data.len());
    match dtype {
        DType::F32 => {
            let mut v = data.to_vec();
            v.resize(n, 0.0);
            bytemuck::cast_slice(&v).to_vec()
        }
        DType::F16 => {
            let mut v: Vec<f16> = data.iter().map(|&x| f16::from_f32(x)).collect();
            v.resize(n, f16::ZERO);
            bytemuck::cast_slice(&v).to_vec()
        }
    }
}

/// Decodes `numel` elements of `dtype` from raw bytes.
pub fn decode(bytes: &[u8], dtype: DType, numel: usize) -> Vec<f32> {
    match dtype {
        DType::F32 => bytemuck::cast_slice::<u8, f32>(&bytes[..numel * 4]).to_vec(),
        DType::F16 => bytemuck::cast_slice::<u8, f16>(&bytes[..numel * 2])
            .iter()
            .map(|x| x.to_f32())
            .collect(),
    }
}

impl Tensor {
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// Number of element pairs the buffer holds (what elementwise kernels count).
    pub fn pairs(&self) -> usize {
        self.numel().div_ceil(2)
    }

    fn byte_len(shape: &[usize], dtype: DType) -> u64 {
        (padded_len(shape.iter().product()) * dtype.size()) as u64
    }

    fn check_size(ctx: &GpuContext, bytes: u64) -> Result<(), GpuError> {
        let max = ctx.report.limits.max_buffer_size;
        if bytes > max {
            return Err(GpuError::DeviceLimit {
                what: "buffer size",
                requested: bytes,
                max,
            });
        }
        Ok(())
    }

    /// A tensor over a buffer just created (counted) or taken from the pool.
    fn wrap(
        ctx: &GpuContext,
        made: Made,
        shape: &[usize],
        dtype: DType,
        name: &str,
        reuse: bool,
    ) -> Self {
        let (buffer, lease, serial) = match made {
            Made::New(buffer) => {
                ctx.stats.buffer_created(buffer.size());
                let lease = ctx.memory.lease(buffer.size());
                (buffer, lease, reuse.then(|| ctx.residency.next_serial()))
            }
            Made::Pooled(p) => (p.buffer, p.lease, Some(p.serial)),
        };
        Self {
            buffer,
            shape: shape.to_vec(),
            dtype,
            name: name.to_string(),
            q8_scales: None,
            slot: Some(Slot {
                lease,
                extra: None,
                home: ctx.residency.clone(),
                serial,
            }),
        }
    }

    /// An idle buffer of `bytes` from the pool, after the recorded ops are
    /// submitted so that `contents` written now cannot reach ops recorded
    /// before (which may still read the buffer's old contents).
    fn reused_with(ctx: &GpuContext, bytes: u64, contents: Option<&[u8]>) -> Option<Made> {
        let pooled = ctx.residency.take(bytes)?;
        if let Some(c) = contents
            && !ctx.dry_run
        {
            ctx.flush();
            ctx.queue.write_buffer(&pooled.buffer, 0, c);
        }
        Some(Made::Pooled(pooled))
    }

    /// Uploads f32 values, converted to `dtype`, into a buffer of its own
    /// (weights: freed when dropped).
    pub fn from_f32(
        ctx: &GpuContext,
        name: &str,
        shape: &[usize],
        data: &[f32],
        dtype: DType,
    ) -> Result<Self, GpuError> {
        Self::upload(ctx, name, shape, data, dtype, false)
    }

    /// Uploads per-step host data (initial latents, ancestral noise) into a
    /// pooled buffer: no buffer is created once the pool has one this size.
    pub fn input(
        ctx: &GpuContext,
        name: &str,
        shape: &[usize],
        data: &[f32],
        dtype: DType,
    ) -> Result<Self, GpuError> {
        Self::upload(ctx, name, shape, data, dtype, true)
    }

    fn upload(
        ctx: &GpuContext,
        name: &str,
        shape: &[usize],
        data: &[f32],
        dtype: DType,
        reuse: bool,
    ) -> Result<Self, GpuError> {
        let numel: usize = shape.iter().product();
        if numel != data.len() {
            return Err(GpuError::ShapeMismatch {
                op: "Tensor upload",
                expected: format!("{numel} values for shape {shape:?}"),
                got: format!("{}", data.len()),
            });
        }
        let bytes = Self::byte_len(shape, dtype);
        Self::check_size(ctx, bytes)?;
        let contents = encode(data, dtype);
        let pooled = reuse
            .then(|| Self::reused_with(ctx, bytes, Some(&contents)))
            .flatten();
        let made = pooled.unwrap_or_else(|| Made::New(buffer_with(ctx, name, &contents)));
        Ok(Self::wrap(ctx, made, shape, dtype, name, reuse))
    }

    /// A q8 weight: `values` int8 (row-major, `shape[0]` rows), `scales` one
    /// f32 per row; it multiplies activations of `dtype`. Held as int8 on the
    /// GPU (a quarter of f32, half of f16), dequantized by the GEMM kernels.
    pub fn q8(
        ctx: &GpuContext,
        name: &str,
        shape: &[usize],
        dtype: DType,
        values: &[u8],
        scales: &[f32],
    ) -> Result<Self, GpuError> {
        let numel: usize = shape.iter().product();
        let rows = shape.first().copied().unwrap_or(0);
        if values.len() != numel || scales.len() != rows || shape.len() < 2 {
            return Err(GpuError::ShapeMismatch {
                op: "Tensor::q8",
                expected: format!("{numel} int8 values and {rows} scales for {shape:?}"),
                got: format!("{} values, {} scales", values.len(), scales.len()),
            });
        }
        let mut padded = values.to_vec();
        padded.resize(padded_len(numel), 0);
        Self::check_size(ctx, padded.len() as u64)?;
        let buffer = buffer_with(ctx, name, &padded);
        let scale_bytes = bytemuck::cast_slice::<f32, u8>(scales);
        let label = format!("{name} scales");
        let scale_buffer = buffer_with(ctx, &label, scale_bytes);
        ctx.stats.buffer_created(scale_buffer.size());
        let scale_lease = ctx.memory.lease(scale_buffer.size());
        let mut t = Self::wrap(ctx, Made::New(buffer), shape, dtype, name, false);
        // One lease for both buffers: they live and die together.
        if let Some(slot) = t.slot.as_mut() {
            slot.extra = Some(scale_lease);
        }
        t.q8_scales = Some(scale_buffer);
        Ok(t)
    }

    /// Uploads values already encoded as `dtype` (little-endian), such as f16
    /// weights straight from a shard, without widening them on the host.
    pub fn from_bytes(
        ctx: &GpuContext,
        name: &str,
        shape: &[usize],
        dtype: DType,
        bytes: &[u8],
    ) -> Result<Self, GpuError> {
        let numel: usize = shape.iter().product();
        if bytes.len() != numel * dtype.size() {
            return Err(GpuError::ShapeMismatch {
                op: "Tensor::from_bytes",
                expected: format!("{} bytes for {shape:?} {dtype:?}", numel * dtype.size()),
                got: bytes.len().to_string(),
            });
        }
        let len = Self::byte_len(shape, dtype);
        Self::check_size(ctx, len)?;
        let mut padded;
        let contents = if bytes.len() as u64 == len {
            bytes
        } else {
            padded = bytes.to_vec();
            padded.resize(len as usize, 0);
            &padded[..]
        };
        let buffer = buffer_with(ctx, name, contents);
        Ok(Self::wrap(
            ctx,
            Made::New(buffer),
            shape,
            dtype,
            name,
            false,
        ))
    }

    /// An output tensor, pooled: NaN until a kernel writes it when the
    /// context poisons outputs (tests); else zeroed by wgpu when new, and
    /// holding an earlier op's values when reused (no kernel may read an
    /// output before writing it, which the poisoned tests check).
    pub fn output(
        ctx: &GpuContext,
        name: &str,
        shape: &[usize],
        dtype: DType,
    ) -> Result<Self, GpuError> {
        let bytes = Self::byte_len(shape, dtype);
        Self::check_size(ctx, bytes)?;
        let poison = ctx.poison_outputs.then(|| {
            let word = match dtype {
                DType::F32 => POISON_F32,
                DType::F16 => POISON_F16_PAIR,
            };
            vec![word; (bytes / 4) as usize]
        });
        let poison = poison.as_deref().map(bytemuck::cast_slice::<u32, u8>);
        if let Some(b) = Self::reused_with(ctx, bytes, poison) {
            return Ok(Self::wrap(ctx, b, shape, dtype, name, true));
        }
        let buffer = match poison {
            None => ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(name),
                size: bytes,
                usage: USAGE,
                mapped_at_creation: false,
            }),
            Some(contents) => buffer_with(ctx, name, contents),
        };
        Ok(Self::wrap(ctx, Made::New(buffer), shape, dtype, name, true))
    }

    /// Copies the tensor back and widens it to f32 (a q8 weight dequantized).
    pub async fn to_f32(&self, ctx: &GpuContext) -> Result<Vec<f32>, GpuError> {
        let bytes = read_buffer(ctx, &self.buffer, &self.name).await?;
        let Some(scales) = &self.q8_scales else {
            return Ok(decode(&bytes, self.dtype, self.numel()));
        };
        let scales = read_buffer(ctx, scales, &self.name).await?;
        let scales: &[f32] = bytemuck::cast_slice(&scales);
        let per_row = self.numel() / self.shape[0].max(1);
        Ok(bytes[..self.numel()]
            .iter()
            .enumerate()
            .map(|(i, &q)| q as i8 as f32 * scales[i / per_row])
            .collect())
    }
}

/// Copies a whole buffer back to the host. Works natively (by polling the
/// device) and in the browser (where the event loop resolves the map).
pub async fn read_buffer(
    ctx: &GpuContext,
    buffer: &wgpu::Buffer,
    name: &str,
) -> Result<Vec<u8>, GpuError> {
    let fail = |reason: String| GpuError::ReadBack {
        tensor: name.to_string(),
        reason,
    };
    ctx.check_device()?;
    let size = buffer.size();
    let staging = ctx.residency.take_staging(size).unwrap_or_else(|| {
        ctx.stats.buffer_created(size);
        ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("read-back staging"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    });
    let mut encoder = ctx
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("read-back"),
        });
    encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, size);
    // The kernels that wrote `buffer` may still be waiting in the batch.
    ctx.flush();
    ctx.queue.submit([encoder.finish()]);
    let (tx, rx) = futures_channel::oneshot::channel();
    staging.map_async(wgpu::MapMode::Read, .., move |r| {
        let _ = tx.send(r);
    });
    #[cfg(not(target_arch = "wasm32"))]
    ctx.device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| fail(e.to_string()))?;
    rx.await
        .map_err(|_| fail("the device dropped the map request".into()))?
        .map_err(|e| fail(e.to_string()))?;
    let bytes = staging
        .get_mapped_range(..)
        .map_err(|e| fail(e.to_string()))?
        .to_vec();
    staging.unmap();
    ctx.residency.return_staging(staging);
    // Errors of the commands just run arrive (in the browser, as events)
    // by the time their results map.
    ctx.check_device()?;
    Ok(bytes)
}
