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
    ctx.dispatch(
        &SPEC,
        ctx.path_for(x.dtype),
        &params,
        &[&x.buffer, &gamma.buffer, &beta.buffer, &out.buffer],
        rows as u32,
    )?;
    Ok(out)
}
