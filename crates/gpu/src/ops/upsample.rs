//! Nearest 2x upsampling (`shaders/upsample.wgsl`).

use bytemuck::{Pod, Zeroable};

use super::{mismatch, runs, slice, too_large};
use crate::kernel::{Access, KernelSpec};
use crate::shaders::UPSAMPLE;
use crate::{GpuContext, GpuError, Tensor};

/// Mirrors `Params` in `shaders/upsample.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct UpsampleParams {
    pub out_pairs: u32,
    pub h: u32,
    pub w: u32,
    pub _pad0: u32,
}

pub const PARAMS_LAYOUT: crate::kernel::ParamsLayout =
    crate::params_layout!(UpsampleParams; out_pairs, h, w, _pad0);

const SPEC: KernelSpec = KernelSpec {
    file: UPSAMPLE,
    entry: "upsample_nearest2x",
    storage: &[Access::Read, Access::ReadWrite],
};

/// `interpolate(x, scale_factor=2, mode="nearest")` for `x` [N, C, H, W].
pub fn upsample_nearest2x(ctx: &GpuContext, x: &Tensor) -> Result<Tensor, GpuError> {
    super::plain("upsample_nearest2x", &[x])?;
    let [n, c, h, w] = <[usize; 4]>::try_from(x.shape.as_slice()).map_err(|_| {
        mismatch(
            "upsample_nearest2x",
            "[N, C, H, W]",
            format!("{:?}", x.shape),
        )
    })?;
    let out = Tensor::output(
        ctx,
        &format!("upsample({})", x.name),
        &[n, c, 2 * h, 2 * w],
        x.dtype,
    )?;
    // Planes are independent: a tensor over the binding limit goes a run of
    // planes at a time.
    let esize = x.dtype.size() as u64;
    let (in_plane, out_plane) = ((h * w) as u64 * esize, (4 * h * w) as u64 * esize);
    let max = ctx.report.limits.max_storage_buffer_binding_size;
    let planes = runs(n * c, &[in_plane, out_plane], max, 1)
        .ok_or_else(|| too_large(SPEC.entry, &out, out_plane, max))?;
    for r in planes {
        let pairs = (r.len() * 2 * h * w) as u32;
        let params = UpsampleParams {
            out_pairs: pairs,
            h: h as u32,
            w: w as u32,
            _pad0: 0,
        };
        ctx.dispatch(
            &SPEC,
            ctx.path_for(x.dtype),
            &params,
            &[slice(x, &r, in_plane), slice(&out, &r, out_plane)],
            pairs.div_ceil(256),
        )?;
    }
    Ok(out)
}
