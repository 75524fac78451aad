//! Decoded image to RGBA8 pixels (`shaders/image.wgsl`).

use bytemuck::{Pod, Zeroable};

use super::mismatch;
use crate::kernel::{Access, KernelSpec};
use crate::shaders::IMAGE;
use crate::tensor::read_buffer;
use crate::{GpuContext, GpuError, Tensor};

/// Mirrors `Params` in `shaders/image.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct ImageParams {
    pub pixels: u32,
    pub _pad0: u32,
    pub _pad1: u32,
    pub _pad2: u32,
}

pub const PARAMS_LAYOUT: crate::kernel::ParamsLayout =
    crate::params_layout!(ImageParams; pixels, _pad0, _pad1, _pad2);

const SPEC: KernelSpec = KernelSpec {
    file: IMAGE,
    entry: "to_rgba8",
    storage: &[Access::Read, Access::ReadWrite],
};

/// RGBA8 pixels on the GPU, row-major.
pub struct Rgba8Image {
    pub buffer: wgpu::Buffer,
    pub width: usize,
    pub height: usize,
}

impl Rgba8Image {
    /// The pixels as bytes, R G B A per pixel, ready for a PNG or ImageData.
    pub async fn to_bytes(&self, ctx: &GpuContext) -> Result<Vec<u8>, GpuError> {
        read_buffer(ctx, &self.buffer, "rgba8").await
    }
}

/// The VAE's [3, H, W] output (values in [-1, 1]) as displayable pixels.
pub fn to_rgba8(ctx: &GpuContext, x: &Tensor) -> Result<Rgba8Image, GpuError> {
    super::plain("to_rgba8", &[x])?;
    let [3, h, w] = <[usize; 3]>::try_from(x.shape.as_slice())
        .map_err(|_| mismatch("to_rgba8", "[3, H, W]", format!("{:?}", x.shape)))?
    else {
        return Err(mismatch("to_rgba8", "[3, H, W]", format!("{:?}", x.shape)));
    };
    let buffer = ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(&format!("rgba8({})", x.name)),
        size: (h * w * 4) as u64,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    let params = ImageParams {
        pixels: (h * w) as u32,
        ..Default::default()
    };
    ctx.dispatch(
        &SPEC,
        ctx.path_for(x.dtype),
        &params,
        &[&x.buffer, &buffer],
        (h * w).div_ceil(256) as u32,
    )?;
    Ok(Rgba8Image {
        buffer,
        width: w,
        height: h,
    })
}
