//! Classifier-free guidance and the fused latent updates (`shaders/scheduler.wgsl`).
//! The coefficients come from the host-side schedulers in the model crate.

use bytemuck::{Pod, Zeroable};

use super::{mismatch, same_dtype};
use crate::kernel::{Access, KernelSpec};
use crate::shaders::SCHEDULER;
use crate::{GpuContext, GpuError, Tensor};

/// Mirrors `Params` in `shaders/scheduler.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct SchedulerParams {
    pub pairs: u32,
    pub cfg: u32,
    pub guidance: f32,
    pub c0: f32,
    pub c1: f32,
    pub c2: f32,
    pub c3: f32,
    pub c4: f32,
    pub c5: f32,
    pub _pad0: u32,
    pub _pad1: u32,
    pub _pad2: u32,
}

pub const PARAMS_LAYOUT: crate::kernel::ParamsLayout = crate::params_layout!(
    SchedulerParams; pairs, cfg, guidance, c0, c1, c2, c3, c4, c5, _pad0, _pad1, _pad2
);

/// One update, with the coefficients the host computed (see scheduler.wgsl
/// for each formula). Generic over the tensor so the model's CPU backend
/// takes the same updates.
/// DDIM with `clip_sample`: x0 = clamp(a_x x + a_e e, -clip, clip);
/// x' = c_x x + c_x0 x0 + c_e e. One struct from the plan to the kernel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClippedDdim {
    pub a_x: f32,
    pub a_e: f32,
    pub clip: f32,
    pub c_x: f32,
    pub c_x0: f32,
    pub c_e: f32,
}

pub enum Update<'a, T = Tensor> {
    /// aux = guided eps; x passes through unchanged (no x output is written).
    CfgOnly,
    /// x' = c0 x + c1 e.
    Ddim { c0: f32, c1: f32 },
    /// DDIM with `clip_sample` (see [`ClippedDdim`]).
    DdimClipped(ClippedDdim),
    /// x' = x + dt e.
    Euler { dt: f32 },
    /// x' = c_x x + dt e + sigma_up noise (c_x is 1 on epsilon; on
    /// v-prediction the output is read as v, linear in x).
    EulerAncestral {
        c_x: f32,
        dt: f32,
        sigma_up: f32,
        noise: &'a T,
    },
    /// e' = w[0] e + w[1] h[0] + w[2] h[1] + w[3] h[2]; x' = c0 x + c1 e'; aux = e.
    Pndm {
        c0: f32,
        c1: f32,
        w: [f32; 4],
        history: [&'a T; 3],
    },
    /// x0 = a_x x + a_e e; x' = c0 x + c1 x0 + c_prev prev_x0; aux = x0.
    DpmSolver2M {
        a_x: f32,
        a_e: f32,
        c0: f32,
        c1: f32,
        c_prev: f32,
        prev_x0: &'a T,
    },
}

// Copy for any tensor type: the variants hold only numbers and references
// (derive would demand `T: Copy`).
impl<T> Clone for Update<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Update<'_, T> {}

/// Results of one update.
pub struct Updated {
    /// The new latents.
    pub x: Tensor,
    /// What the scheduler keeps: the guided eps (CFG, PNDM) or x0 (DPM-Solver++); else unwritten.
    pub aux: Tensor,
}

impl<'a> Update<'a> {
    /// The shader entry, its constants, and the three extra inputs it reads
    /// (history, noise or the previous x0; `x` where it reads none).
    fn kernel(self, x: &'a Tensor) -> (&'static str, SchedulerParams, [&'a Tensor; 3]) {
        match self {
            Update::CfgOnly => ("cfg_combine", SchedulerParams::default(), [x, x, x]),
            Update::Ddim { c0, c1 } => (
                "ddim_step",
                SchedulerParams {
                    c0,
                    c1,
                    ..Default::default()
                },
                [x, x, x],
            ),
            Update::DdimClipped(c) => (
                "ddim_clip_step",
                SchedulerParams {
                    c0: c.c_x,
                    c1: c.c_x0,
                    c2: c.a_x,
                    c3: c.a_e,
                    c4: c.clip,
                    c5: c.c_e,
                    ..Default::default()
                },
                [x, x, x],
            ),
            Update::Euler { dt } => (
                "euler_step",
                SchedulerParams {
                    c0: dt,
                    ..Default::default()
                },
                [x, x, x],
            ),
            Update::EulerAncestral {
                c_x,
                dt,
                sigma_up,
                noise,
            } => (
                "euler_ancestral_step",
                SchedulerParams {
                    c0: dt,
                    c1: sigma_up,
                    c2: c_x,
                    ..Default::default()
                },
                [noise, x, x],
            ),
            Update::Pndm { c0, c1, w, history } => (
                "pndm_step",
                SchedulerParams {
                    c0,
                    c1,
                    c2: w[0],
                    c3: w[1],
                    c4: w[2],
                    c5: w[3],
                    ..Default::default()
                },
                history,
            ),
            Update::DpmSolver2M {
                a_x,
                a_e,
                c0,
                c1,
                c_prev,
                prev_x0,
            } => (
                "dpmpp_2m_step",
                SchedulerParams {
                    c0,
                    c1,
                    c2: a_x,
                    c3: a_e,
                    c4: c_prev,
                    ..Default::default()
                },
                [prev_x0, x, x],
            ),
        }
    }
}

/// Guides `eps` ([2, ...] = [uncond; cond] with `guidance`, or `x`'s shape
/// without) and applies `update` to latents `x`.
pub fn step(
    ctx: &GpuContext,
    eps: &Tensor,
    x: &Tensor,
    guidance: Option<f32>,
    update: Update,
) -> Result<Updated, GpuError> {
    const OP: &str = "scheduler";
    let n = x.numel();
    let expected = if guidance.is_some() { 2 * n } else { n };
    if eps.numel() != expected {
        return Err(mismatch(
            OP,
            format!("eps of {expected} values"),
            format!("{:?}", eps.shape),
        ));
    }
    super::even(OP, "latent size", n)?;
    let (entry, params, extra) = update.kernel(x);
    for t in extra {
        if t.numel() != n {
            return Err(mismatch(
                OP,
                format!("history/noise of {n} values"),
                format!("{} {:?}", t.name, t.shape),
            ));
        }
    }
    same_dtype(OP, x, &[eps, extra[0], extra[1], extra[2]])?;
    let pairs = n.div_ceil(2) as u32;
    let params = SchedulerParams {
        pairs,
        cfg: guidance.is_some() as u32,
        guidance: guidance.unwrap_or(1.0),
        ..params
    };
    let x_out = Tensor::output(ctx, &format!("{entry}.x"), &x.shape, x.dtype)?;
    let aux = Tensor::output(ctx, &format!("{entry}.aux"), &x.shape, x.dtype)?;
    let spec = KernelSpec {
        file: SCHEDULER,
        entry,
        storage: &[
            Access::Read,
            Access::Read,
            Access::Read,
            Access::Read,
            Access::Read,
            Access::ReadWrite,
            Access::ReadWrite,
        ],
    };
    ctx.dispatch(
        &spec,
        ctx.path_for(x.dtype),
        &params,
        &[
            &eps.buffer,
            &x.buffer,
            &extra[0].buffer,
            &extra[1].buffer,
            &extra[2].buffer,
            &x_out.buffer,
            &aux.buffer,
        ],
        pairs.div_ceil(256),
    )?;
    Ok(Updated { x: x_out, aux })
}
