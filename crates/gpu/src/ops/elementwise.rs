//! Elementwise ops (`shaders/elementwise.wgsl`): activations, residual adds, scaling.

use bytemuck::{Pod, Zeroable};

use super::{runs, slice, too_large};
use crate::kernel::{Access, KernelSpec};
use crate::shaders::ELEMENTWISE;
use crate::{GpuContext, GpuError, Tensor};

/// Mirrors `Params` in `shaders/elementwise.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct ElementwiseParams {
    pub pairs: u32,
    pub scalar: f32,
    pub inner: u32,
    pub channels: u32,
}

pub const PARAMS_LAYOUT: crate::kernel::ParamsLayout =
    crate::params_layout!(ElementwiseParams; pairs, scalar, inner, channels);

/// Workgroup size (the shader's `WG` override default).
pub const WG: u32 = 256;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Unary {
    Scale(f32),
    Silu,
    Gelu,
    QuickGelu,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binary {
    Add,
    Mul,
}

const BINDINGS: &[Access] = &[Access::Read, Access::Read, Access::ReadWrite];

fn spec(entry: &'static str) -> KernelSpec {
    KernelSpec {
        file: ELEMENTWISE,
        entry,
        storage: BINDINGS,
    }
}

fn run(
    ctx: &GpuContext,
    entry: &'static str,
    scalar: f32,
    a: &Tensor,
    b: &Tensor,
) -> Result<Tensor, GpuError> {
    super::plain(entry, &[a, b])?;
    // Element by element: a tensor over the binding limit goes a run of
    // pairs at a time (one run, the whole tensor, when it fits).
    let max = ctx.report.limits.max_storage_buffer_binding_size;
    let out = Tensor::output(ctx, &format!("{entry}({})", a.name), &a.shape, a.dtype)?;
    let unit = 2 * a.dtype.size() as u64;
    for r in runs(out.pairs(), &[unit], max, 1).ok_or_else(|| too_large(entry, a, unit, max))? {
        let params = ElementwiseParams {
            pairs: r.len() as u32,
            scalar,
            inner: 0,
            channels: 0,
        };
        ctx.dispatch(
            &spec(entry),
            ctx.path_for(a.dtype),
            &params,
            &[
                slice(a, &r, unit),
                slice(b, &r, unit),
                slice(&out, &r, unit),
            ],
            (r.len() as u32).div_ceil(WG),
        )?;
    }
    Ok(out)
}

fn run_shaped(
    ctx: &GpuContext,
    entry: &'static str,
    scalar: f32,
    inner: usize,
    a: &Tensor,
    b: &Tensor,
    out_shape: &[usize],
) -> Result<Tensor, GpuError> {
    super::plain(entry, &[a, b])?;
    let out = Tensor::output(ctx, &format!("{entry}({})", a.name), out_shape, a.dtype)?;
    let pairs = out.pairs() as u32;
    let params = ElementwiseParams {
        pairs,
        scalar,
        inner: inner as u32,
        channels: 0,
    };
    ctx.dispatch(
        &spec(entry),
        ctx.path_for(a.dtype),
        &params,
        &[&a.buffer, &b.buffer, &out.buffer],
        pairs.div_ceil(WG),
    )?;
    Ok(out)
}

/// `op(a)`, same shape and storage type as `a`.
pub fn unary(ctx: &GpuContext, op: Unary, a: &Tensor) -> Result<Tensor, GpuError> {
    let (entry, scalar) = match op {
        Unary::Scale(s) => ("scale", s),
        Unary::Silu => ("silu", 0.0),
        Unary::Gelu => ("gelu", 0.0),
        Unary::QuickGelu => ("quick_gelu", 0.0),
    };
    // Binding 2 is unused by unary entry points; `a` fills the slot.
    run(ctx, entry, scalar, a, a)
}

/// `a op b` for tensors of one shape and storage type.
pub fn binary(ctx: &GpuContext, op: Binary, a: &Tensor, b: &Tensor) -> Result<Tensor, GpuError> {
    if a.shape != b.shape || a.dtype != b.dtype {
        return Err(GpuError::ShapeMismatch {
            op: "elementwise.binary",
            expected: format!("{:?} {:?}", a.shape, a.dtype),
            got: format!("{:?} {:?}", b.shape, b.dtype),
        });
    }
    let entry = match op {
        Binary::Add => "add",
        Binary::Mul => "mul",
    };
    run(ctx, entry, 0.0, a, b)
}

/// diffusers' GEGLU activation: `h * gelu(gate)` where `x` [..., 2F] splits
/// into `[h | gate]` along the last dimension. Output [..., F]; F must be even.
pub fn geglu(ctx: &GpuContext, x: &Tensor) -> Result<Tensor, GpuError> {
    let two_f = *x.shape.last().unwrap_or(&0);
    if !two_f.is_multiple_of(4) {
        return Err(super::mismatch(
            "geglu",
            "last dimension 2F with F even",
            format!("{:?}", x.shape),
        ));
    }
    let mut shape = x.shape.clone();
    *shape.last_mut().unwrap() = two_f / 2;
    run_shaped(ctx, "geglu", 0.0, two_f / 2, x, x, &shape)
}

/// `x + bias[:, :, None, None]` for `x` [N, C, ...] and `bias` [N, C]: a
/// ResNet block adding its projected time embedding.
pub fn add_channel_bias(ctx: &GpuContext, x: &Tensor, bias: &Tensor) -> Result<Tensor, GpuError> {
    if x.shape.len() < 2 || bias.shape != x.shape[..2] {
        return Err(super::mismatch(
            "add_channel_bias",
            format!("bias {:?}", &x.shape[..x.shape.len().min(2)]),
            format!("{:?}", bias.shape),
        ));
    }
    super::same_dtype("add_channel_bias", x, &[bias])?;
    let hw: usize = x.shape[2..].iter().product();
    super::even("add_channel_bias", "H*W", hw)?;
    run_shaped(ctx, "add_channel_bias", 0.0, hw, x, bias, &x.shape)
}
