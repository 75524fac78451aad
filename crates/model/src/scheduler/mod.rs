//! The five samplers, as host-side plans: for each UNet call, the timestep,
//! the input scale, and the coefficients of one fused latent update
//! (`shaders/scheduler.wgsl`). Each follows the diffusers function it cites,
//! configured from the model's `scheduler_config.json` the way
//! `SomeScheduler.from_config(config)` would be.

mod config;
mod ddim;
mod dpm;
mod euler;
mod pndm;

pub use config::{Prediction, SchedulerConfig};
pub use roentgen_gpu::ops::scheduler::ClippedDdim;

use crate::ModelError;

/// Which sampler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchedulerKind {
    Pndm,
    Ddim,
    Euler,
    EulerAncestral,
    DpmSolver2M,
}

impl SchedulerKind {
    pub const ALL: [SchedulerKind; 5] = [
        SchedulerKind::Pndm,
        SchedulerKind::Ddim,
        SchedulerKind::Euler,
        SchedulerKind::EulerAncestral,
        SchedulerKind::DpmSolver2M,
    ];

    /// The name the CLI, the share links and the goldens use.
    pub fn name(self) -> &'static str {
        match self {
            SchedulerKind::Pndm => "pndm",
            SchedulerKind::Ddim => "ddim",
            SchedulerKind::Euler => "euler",
            SchedulerKind::EulerAncestral => "euler-a",
            SchedulerKind::DpmSolver2M => "dpm++2m",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The sampler a diffusers `_class_name` stands for.
    pub fn from_class_name(class: &str) -> Option<Self> {
        Some(match class {
            "PNDMScheduler" => SchedulerKind::Pndm,
            "DDIMScheduler" => SchedulerKind::Ddim,
            "EulerDiscreteScheduler" => SchedulerKind::Euler,
            "EulerAncestralDiscreteScheduler" => SchedulerKind::EulerAncestral,
            "DPMSolverMultistepScheduler" => SchedulerKind::DpmSolver2M,
            _ => return None,
        })
    }
}

/// One UNet call and the update after it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepPlan {
    /// The timestep the UNet is conditioned on.
    pub t: f32,
    /// Latents are multiplied by this before the UNet (`scale_model_input`).
    pub input_scale: f32,
    pub update: StepUpdate,
}

/// The update's coefficients (see `Update` in the backend for each formula).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StepUpdate {
    /// x' = c0 x + c1 out: DDIM, and Euler on v-prediction (both linear).
    Ddim {
        c0: f32,
        c1: f32,
    },
    /// DDIM with `clip_sample`.
    DdimClipped(ClippedDdim),
    Euler {
        dt: f32,
    },
    EulerAncestral {
        dt: f32,
        sigma_up: f32,
    },
    /// PLMS: `w` mixes the current eps with the last three kept ones (newest
    /// first). `from_saved` starts from the latents saved at the first step
    /// instead of the current ones (diffusers' `cur_sample`); `keep_eps` says
    /// whether this eps joins the history (not on the second call).
    Pndm {
        c0: f32,
        c1: f32,
        w: [f32; 4],
        from_saved: bool,
        keep_eps: bool,
    },
    /// DPM-Solver++: x0 from (a_x, a_e); then x' = c0 x + c1 x0 + c_prev x0_prev.
    DpmSolver2M {
        a_x: f32,
        a_e: f32,
        c0: f32,
        c1: f32,
        c_prev: f32,
    },
}

/// A whole sampling run: the initial noise scale and every step.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub init_noise_sigma: f32,
    pub steps: Vec<StepPlan>,
}

pub fn plan(kind: SchedulerKind, cfg: &SchedulerConfig, steps: usize) -> Result<Plan, ModelError> {
    if steps == 0 || steps > cfg.num_train_timesteps {
        return Err(ModelError::Input(format!(
            "steps must be 1..={}, got {steps}",
            cfg.num_train_timesteps
        )));
    }
    cfg.check(kind)?;
    Ok(match kind {
        SchedulerKind::Pndm => pndm::plan(cfg, steps),
        SchedulerKind::Ddim => ddim::plan(cfg, steps),
        SchedulerKind::Euler => euler::plan(cfg, steps, false),
        SchedulerKind::EulerAncestral => euler::plan(cfg, steps, true),
        SchedulerKind::DpmSolver2M => dpm::plan(cfg, steps),
    })
}

/// `sigmas` interpolated at fractional timesteps, as `np.interp` over 0..T.
pub(crate) fn interp(values: &[f64], t: f64) -> f64 {
    let last = values.len() - 1;
    if t <= 0.0 {
        return values[0];
    }
    if t >= last as f64 {
        return values[last];
    }
    let i = t.floor() as usize;
    let f = t - i as f64;
    values[i] + f * (values[i + 1] - values[i])
}
