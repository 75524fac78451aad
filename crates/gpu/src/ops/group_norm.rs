//! Group normalization with optional fused SiLU (`shaders/group_norm.wgsl`).

use bytemuck::{Pod, Zeroable};

use super::{even, mismatch, runs, same_dtype, slice, too_large};
use crate::kernel::{Access, KernelSpec};
use crate::shaders::GROUP_NORM;
use crate::{GpuContext, GpuError, Tensor};

/// Mirrors `Params` in `shaders/group_norm.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct GroupNormParams {
    pub channels: u32,
    pub hw: u32,
    pub groups: u32,
    pub silu: u32,
    pub eps: f32,
    pub group0: u32,
    pub _pad1: u32,
    pub _pad2: u32,
}

pub const PARAMS_LAYOUT: crate::kernel::ParamsLayout =
    crate::params_layout!(GroupNormParams; channels, hw, groups, silu, eps, group0, _pad1, _pad2);

const SPEC: KernelSpec = KernelSpec {
    file: GROUP_NORM,
    entry: "group_norm",
    storage: &[Access::Read, Access::Read, Access::Read, Access::ReadWrite],
};

/// `GroupNorm(groups, C, eps)(x)` (then SiLU when `silu`) for `x` [N, C, ...].
pub fn group_norm(
    ctx: &GpuContext,
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    groups: usize,
    eps: f32,
    silu: bool,
) -> Result<Tensor, GpuError> {
    const OP: &str = "group_norm";
    if x.shape.len() < 2 {
        return Err(mismatch(OP, "x [N, C, ...]", format!("{:?}", x.shape)));
    }
    let (n, c) = (x.shape[0], x.shape[1]);
    let hw: usize = x.shape[2..].iter().product();
    if groups == 0 || c % groups != 0 {
        return Err(mismatch(
            OP,
            format!("C divisible by {groups} groups"),
            c.to_string(),
        ));
    }
    if gamma.numel() != c || beta.numel() != c {
        return Err(mismatch(
            OP,
            format!("gamma and beta of {c}"),
            format!("{:?} {:?}", gamma.shape, beta.shape),
        ));
    }
    even(OP, "H*W", hw)?;
    same_dtype(OP, x, &[gamma, beta])?;
    let out = Tensor::output(ctx, &format!("group_norm({})", x.name), &x.shape, x.dtype)?;
    let params = GroupNormParams {
        channels: c as u32,
        hw: hw as u32,
        groups: groups as u32,
        silu: silu as u32,
        eps,
        ..Default::default()
    };
    let max = ctx.report.limits.max_storage_buffer_binding_size;
    // Each (image, group) is contiguous: a tensor over the binding limit goes
    // a run of them at a time (one run, the whole tensor, when it fits).
    let unit = ((c / groups) * hw * x.dtype.size()) as u64;
    for r in runs(n * groups, &[unit], max, 1).ok_or_else(|| too_large(OP, x, unit, max))? {
        ctx.dispatch_3d(
            &SPEC,
            ctx.path_for(x.dtype),
            &GroupNormParams {
                group0: r.start as u32,
                ..params
            },
            &[
                slice(x, &r, unit),
                (&gamma.buffer).into(),
                (&beta.buffer).into(),
                slice(&out, &r, unit),
            ],
            [r.len() as u32, 1, 1],
        )?;
    }
    Ok(out)
}
