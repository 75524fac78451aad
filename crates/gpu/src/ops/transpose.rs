//! Batched 2-D transpose (`shaders/transpose.wgsl`): NCHW features to tokens
//! and back around each transformer.

use bytemuck::{Pod, Zeroable};

use super::{even, mismatch};
use crate::kernel::{Access, KernelSpec};
use crate::shaders::TRANSPOSE;
use crate::{GpuContext, GpuError, Tensor};

/// Mirrors `Params` in `shaders/transpose.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct TransposeParams {
    pub out_pairs: u32,
    pub rows: u32,
    pub cols: u32,
    pub _pad0: u32,
}

pub const PARAMS_LAYOUT: crate::kernel::ParamsLayout =
    crate::params_layout!(TransposeParams; out_pairs, rows, cols, _pad0);

const SPEC: KernelSpec = KernelSpec {
    file: TRANSPOSE,
    entry: "transpose",
    storage: &[Access::Read, Access::ReadWrite],
};

/// `x.permute(0, 2, 1)` for `x` [B, R, C]: output [B, C, R]; R must be even.
pub fn transpose(ctx: &GpuContext, x: &Tensor) -> Result<Tensor, GpuError> {
    super::plain("transpose", &[x])?;
    let [b, r, c] = <[usize; 3]>::try_from(x.shape.as_slice())
        .map_err(|_| mismatch("transpose", "[B, R, C]", format!("{:?}", x.shape)))?;
    even("transpose", "R (the output's inner size)", r)?;
    let out = Tensor::output(ctx, &format!("transpose({})", x.name), &[b, c, r], x.dtype)?;
    let pairs = out.pairs() as u32;
    let params = TransposeParams {
        out_pairs: pairs,
        rows: r as u32,
        cols: c as u32,
        _pad0: 0,
    };
    ctx.dispatch(
        &SPEC,
        ctx.path_for(x.dtype),
        &params,
        &[&x.buffer, &out.buffer],
        pairs.div_ceil(256),
    )?;
    Ok(out)
}
