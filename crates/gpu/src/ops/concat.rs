//! Channel concatenation for skip connections (`shaders/concat.wgsl`).

use bytemuck::{Pod, Zeroable};

use super::{even, mismatch, same_dtype};
use crate::kernel::{Access, KernelSpec};
use crate::shaders::CONCAT;
use crate::{GpuContext, GpuError, Tensor};

/// Mirrors `Params` in `shaders/concat.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct ConcatParams {
    pub out_pairs: u32,
    pub ca: u32,
    pub cb: u32,
    pub hw: u32,
}

pub const PARAMS_LAYOUT: crate::kernel::ParamsLayout =
    crate::params_layout!(ConcatParams; out_pairs, ca, cb, hw);

const SPEC: KernelSpec = KernelSpec {
    file: CONCAT,
    entry: "concat_channels",
    storage: &[Access::Read, Access::Read, Access::ReadWrite],
};

/// `torch.cat([a, b], dim=1)` for `a` [N, Ca, ...] and `b` [N, Cb, ...].
pub fn concat_channels(ctx: &GpuContext, a: &Tensor, b: &Tensor) -> Result<Tensor, GpuError> {
    const OP: &str = "concat_channels";
    if a.shape.len() < 2
        || b.shape.len() != a.shape.len()
        || a.shape[0] != b.shape[0]
        || a.shape[2..] != b.shape[2..]
    {
        return Err(mismatch(
            OP,
            format!("b like {:?} but for channels", a.shape),
            format!("{:?}", b.shape),
        ));
    }
    same_dtype(OP, a, &[b])?;
    let hw: usize = a.shape[2..].iter().product();
    even(OP, "H*W", hw)?;
    let mut shape = a.shape.clone();
    shape[1] += b.shape[1];
    let out = Tensor::output(
        ctx,
        &format!("cat({}, {})", a.name, b.name),
        &shape,
        a.dtype,
    )?;
    let pairs = out.pairs() as u32;
    let params = ConcatParams {
        out_pairs: pairs,
        ca: a.shape[1] as u32,
        cb: b.shape[1] as u32,
        hw: hw as u32,
    };
    ctx.dispatch(
        &SPEC,
        ctx.path_for(a.dtype),
        &params,
        &[&a.buffer, &b.buffer, &out.buffer],
        pairs.div_ceil(256),
    )?;
    Ok(out)
}
