//! Elementwise ops (`shaders/elementwise.wgsl`): activations, residual adds, scaling.

use bytemuck::{Pod, Zeroable};

use crate::kernel::{Access, KernelSpec};
use crate::shaders::ELEMENTWISE;
use crate::{GpuContext, GpuError, Tensor};

/// Mirrors `Params` in `shaders/elementwise.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct ElementwiseParams {
    pub pairs: u32,
    pub scalar: f32,
    pub _pad0: u32,
    pub _pad1: u32,
}

pub const PARAMS_LAYOUT: crate::kernel::ParamsLayout =
    crate::params_layout!(ElementwiseParams; pairs, scalar, _pad0, _pad1);

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
    let out = Tensor::poisoned(ctx, &format!("{entry}({})", a.name), &a.shape, a.dtype)?;
    let pairs = a.pairs() as u32;
    let params = ElementwiseParams {
        pairs,
        scalar,
        _pad0: 0,
        _pad1: 0,
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
