//! Layer normalization over the last dimension (`shaders/layer_norm.wgsl`).

use bytemuck::{Pod, Zeroable};

use super::{even, mismatch, same_dtype};
use crate::kernel::{Access, KernelSpec};
use crate::shaders::LAYER_NORM;
use crate::{GpuContext, GpuError, Tensor};

/// Mirrors `Params` in `shaders/layer_norm.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct LayerNormParams {
    pub rows: u32,
    pub d: u32,
    pub eps: f32,
    pub _pad0: u32,
}

pub const PARAMS_LAYOUT: crate::kernel::ParamsLayout =
    crate::params_layout!(LayerNormParams; rows, d, eps, _pad0);

const SPEC: KernelSpec = KernelSpec {
    file: LAYER_NORM,
    entry: "layer_norm",
    storage: &[Access::Read, Access::Read, Access::Read, Access::ReadWrite],
};

/// One invocation per row, for rows up to [`ROWS_MAX_D`] long.
const SPEC_ROWS: KernelSpec = KernelSpec {
    entry: "layer_norm_rows",
    ..SPEC
};

/// Rows up to this long are normalized one per invocation: a workgroup per
/// row would idle most of its 256 invocations (measured with "Profile one
/// step": layer_norm was 35% of the demo model's step on SwiftShader at D
/// 96-144). Longer rows (SD's 320-1280 channels, CLIP's 768) keep a
/// workgroup each, whose invocations share the row.
pub const ROWS_MAX_D: usize = 256;

/// Rows per workgroup of `layer_norm_rows`.
const ROWS_PER_WORKGROUP: usize = 64;

/// `LayerNorm(D, eps)(x)` for `x` [..., D].
pub fn layer_norm(
    ctx: &GpuContext,
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    eps: f32,
) -> Result<Tensor, GpuError> {
    const OP: &str = "layer_norm";
    let d = *x
        .shape
        .last()
        .ok_or_else(|| mismatch(OP, "rank >= 1", "scalar"))?;
    if gamma.numel() != d || beta.numel() != d {
        return Err(mismatch(
            OP,
            format!("gamma and beta of {d}"),
            format!("{:?} {:?}", gamma.shape, beta.shape),
        ));
    }
    even(OP, "D", d)?;
    same_dtype(OP, x, &[gamma, beta])?;
    let rows = x.numel() / d;
    let out = Tensor::output(ctx, &format!("layer_norm({})", x.name), &x.shape, x.dtype)?;
    let params = LayerNormParams {
        rows: rows as u32,
        d: d as u32,
        eps,
        _pad0: 0,
    };
    let (spec, groups) = match d <= ROWS_MAX_D {
        true => (&SPEC_ROWS, rows.div_ceil(ROWS_PER_WORKGROUP)),
        false => (&SPEC, rows),
    };
    ctx.dispatch(
        spec,
        ctx.path_for(x.dtype),
        &params,
        &[&x.buffer, &gamma.buffer, &beta.buffer, &out.buffer],
        groups as u32,
    )?;
    Ok(out)
}
