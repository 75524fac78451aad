//! Sinusoidal timestep embedding (`shaders/timestep.wgsl`).

use bytemuck::{Pod, Zeroable};

use super::even;
use crate::kernel::{Access, KernelSpec};
use crate::shaders::TIMESTEP;
use crate::{DType, GpuContext, GpuError, Tensor};

/// Mirrors `Params` in `shaders/timestep.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct TimestepParams {
    pub rows: u32,
    pub dim: u32,
    pub flip_sin_to_cos: u32,
    pub _pad0: u32,
    pub timestep: f32,
    pub shift: f32,
    pub max_period: f32,
    pub _pad1: u32,
}

pub const PARAMS_LAYOUT: crate::kernel::ParamsLayout = crate::params_layout!(
    TimestepParams; rows, dim, flip_sin_to_cos, _pad0, timestep, shift, max_period, _pad1
);

const SPEC: KernelSpec = KernelSpec {
    file: TIMESTEP,
    entry: "timestep_embedding",
    storage: &[Access::ReadWrite],
};

/// The settings of diffusers' `Timesteps` module (`time_proj`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimestepConfig {
    pub dim: usize,
    pub flip_sin_to_cos: bool,
    pub downscale_freq_shift: f32,
    pub max_period: f32,
}

/// `get_timestep_embedding([t] * rows, ...)`: [rows, dim].
pub fn timestep_embedding(
    ctx: &GpuContext,
    t: f32,
    rows: usize,
    cfg: TimestepConfig,
    dtype: DType,
) -> Result<Tensor, GpuError> {
    even("timestep_embedding", "dim", cfg.dim)?;
    let out = Tensor::output(ctx, &format!("time_proj(t={t})"), &[rows, cfg.dim], dtype)?;
    let params = TimestepParams {
        rows: rows as u32,
        dim: cfg.dim as u32,
        flip_sin_to_cos: cfg.flip_sin_to_cos as u32,
        timestep: t,
        shift: cfg.downscale_freq_shift,
        max_period: cfg.max_period,
        ..Default::default()
    };
    let pairs = (rows * cfg.dim / 2) as u32;
    ctx.dispatch(
        &SPEC,
        ctx.path_for(dtype),
        &params,
        &[&out.buffer],
        pairs.div_ceil(64),
    )?;
    Ok(out)
}
