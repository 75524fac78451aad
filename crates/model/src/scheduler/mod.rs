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

pub use config::{BetaSchedule, Prediction, SchedulerConfig, TimestepSpacing};
pub use roentgen_gpu::ops::scheduler::ClippedDdim;

use serde::{Deserialize, Serialize};

use crate::ModelError;

/// Which sampler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    /// What `add_noise` does at this step's noise level: image-to-image
    /// starts from it, and masked editing puts the known region back at it.
    pub noised: AddNoise,
    pub update: StepUpdate,
}

/// `add_noise(x0, noise)` at one noise level: `signal * x0 + noise * noise`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AddNoise {
    pub signal: f32,
    pub noise: f32,
}

impl AddNoise {
    /// The variance-preserving form at `alphas_cumprod[t]` (DDIM, PNDM).
    pub(crate) fn at_alpha_cumprod(a: f64) -> Self {
        Self {
            signal: a.sqrt() as f32,
            noise: (1.0 - a).sqrt() as f32,
        }
    }
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
    /// x' = c_x x + dt out + sigma_up noise (c_x is 1 on epsilon).
    EulerAncestral {
        c_x: f32,
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

/// The whole plan for `steps` steps (text to image).
pub fn plan(kind: SchedulerKind, cfg: &SchedulerConfig, steps: usize) -> Result<Plan, ModelError> {
    plan_from(kind, cfg, steps, 0)
}

/// Where image-to-image starts in a `steps`-step schedule for `strength`
/// (`StableDiffusionImg2ImgPipeline.get_timesteps`: `int(steps * strength)`
/// steps run, the first `steps - that` are skipped). Every sampler here has
/// diffusers `order` 1, so this is also the index into its timesteps.
pub fn strength_begin(steps: usize, strength: f64) -> Result<usize, ModelError> {
    if !(strength > 0.0 && strength <= 1.0) {
        return Err(ModelError::Input(format!(
            "strength must be in (0, 1], got {strength}"
        )));
    }
    let run = ((steps as f64 * strength) as usize).min(steps);
    if run == 0 {
        return Err(ModelError::Input(format!(
            "strength {strength} of {steps} steps runs no step: raise the strength or the steps"
        )));
    }
    Ok(steps - run)
}

/// The plan for `steps` steps from step `begin` on (`set_begin_index`), as
/// the sampler runs it when it starts there: PNDM counts its warm-up from
/// the first step it takes, DPM-Solver++ takes a first-order step first.
pub fn plan_from(
    kind: SchedulerKind,
    cfg: &SchedulerConfig,
    steps: usize,
    begin: usize,
) -> Result<Plan, ModelError> {
    if steps == 0 || steps > cfg.num_train_timesteps {
        return Err(ModelError::Input(format!(
            "steps must be 1..={}, got {steps}",
            cfg.num_train_timesteps
        )));
    }
    if begin >= steps {
        return Err(ModelError::Input(format!(
            "a {steps}-step plan has no step {begin}"
        )));
    }
    cfg.check(kind)?;
    Ok(match kind {
        SchedulerKind::Pndm => pndm::plan(cfg, steps, begin),
        SchedulerKind::Ddim => ddim::plan(cfg, steps, begin),
        SchedulerKind::Euler => euler::plan(cfg, steps, begin, false),
        SchedulerKind::EulerAncestral => euler::plan(cfg, steps, begin, true),
        SchedulerKind::DpmSolver2M => dpm::plan(cfg, steps, begin),
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
