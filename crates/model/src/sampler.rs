//! A sampler object per scheduler: it holds its plan (the timestep, input
//! scale and add_noise coefficients of every step, from `scheduler/`) and
//! its own memory, and turns each UNet output into the one fused update the
//! backend runs (`Backend::step`). DDIM, Euler and Euler ancestral carry
//! nothing between steps; PNDM keeps its last three noise predictions and
//! the sample of its first step; DPM-Solver++ its previous x0. A new sampler
//! is a plan function and, if it remembers something, a type here.

use crate::ModelError;
use crate::backend::{Backend, Update};
use crate::scheduler::{self, AddNoise, Plan, SchedulerConfig, SchedulerKind, StepUpdate};

/// One sampling run's sampler.
pub trait Sampler<B: Backend> {
    /// Every step it will take.
    fn plan(&self) -> &Plan;

    /// The timestep of each UNet call.
    fn timesteps(&self) -> Vec<f32> {
        self.plan().steps.iter().map(|s| s.t).collect()
    }

    /// `add_noise` at the level step `i` starts from: where image-to-image
    /// begins (step 0) and where a masked edit puts the kept region back.
    fn add_noise(&self, i: usize) -> Option<AddNoise> {
        self.plan().steps.get(i).map(|s| s.noised)
    }

    /// Applies the next step to latents `x` given the UNet's output `eps`
    /// (guided here when `guidance` is set); `noise` makes Euler ancestral's
    /// fresh noise for this step. Returns the new latents.
    fn step(
        &mut self,
        b: &B,
        x: B::Tensor,
        eps: &B::Tensor,
        guidance: Option<f32>,
        noise: &mut dyn FnMut() -> Result<B::Tensor, ModelError>,
    ) -> Result<B::Tensor, ModelError>;
}

/// The sampler `kind` for `steps` steps from step `begin` on (0 for text to
/// image; image-to-image starts later, see `scheduler::strength_begin`).
pub fn sampler<'a, B: Backend + 'a>(
    kind: SchedulerKind,
    cfg: &SchedulerConfig,
    steps: usize,
    begin: usize,
) -> Result<Box<dyn Sampler<B> + 'a>, ModelError>
where
    B::Tensor: 'a,
{
    let plan = scheduler::plan_from(kind, cfg, steps, begin)?;
    Ok(match kind {
        SchedulerKind::Pndm => Box::new(Pndm {
            plan,
            done: 0,
            history: Vec::new(),
            saved: None,
        }),
        SchedulerKind::DpmSolver2M => Box::new(DpmSolver {
            plan,
            done: 0,
            prev_x0: None,
        }),
        SchedulerKind::Ddim | SchedulerKind::Euler | SchedulerKind::EulerAncestral => {
            Box::new(Memoryless { plan, done: 0 })
        }
    })
}

/// DDIM (clipped or not), Euler and Euler ancestral: each step is a
/// function of the current latents and output alone.
struct Memoryless {
    plan: Plan,
    done: usize,
}

impl<B: Backend> Sampler<B> for Memoryless {
    fn plan(&self) -> &Plan {
        &self.plan
    }

    fn step(
        &mut self,
        b: &B,
        x: B::Tensor,
        eps: &B::Tensor,
        guidance: Option<f32>,
        noise: &mut dyn FnMut() -> Result<B::Tensor, ModelError>,
    ) -> Result<B::Tensor, ModelError> {
        let s = self.plan.steps[self.done];
        self.done += 1;
        let noise_t;
        let update = match s.update {
            StepUpdate::Ddim { c0, c1 } => Update::Ddim { c0, c1 },
            StepUpdate::DdimClipped(c) => Update::DdimClipped(c),
            StepUpdate::Euler { dt } => Update::Euler { dt },
            StepUpdate::EulerAncestral { dt, sigma_up } => {
                noise_t = noise()?;
                Update::EulerAncestral {
                    dt,
                    sigma_up,
                    noise: &noise_t,
                }
            }
            other => {
                return Err(ModelError::Input(format!(
                    "a memoryless sampler was given {other:?}"
                )));
            }
        };
        Ok(b.step(eps, &x, guidance, update)?.0)
    }
}

/// PLMS: the last three guided noise predictions and the latents before
/// its first step (its second call restarts there).
struct Pndm<T> {
    plan: Plan,
    done: usize,
    /// Oldest first, at most 3.
    history: Vec<T>,
    saved: Option<T>,
}

impl<B: Backend> Sampler<B> for Pndm<B::Tensor> {
    fn plan(&self) -> &Plan {
        &self.plan
    }

    fn step(
        &mut self,
        b: &B,
        x: B::Tensor,
        eps: &B::Tensor,
        guidance: Option<f32>,
        _noise: &mut dyn FnMut() -> Result<B::Tensor, ModelError>,
    ) -> Result<B::Tensor, ModelError> {
        let s = self.plan.steps[self.done];
        let StepUpdate::Pndm {
            c0,
            c1,
            w,
            from_saved,
            keep_eps,
        } = s.update
        else {
            return Err(ModelError::Input(format!("PNDM was given {:?}", s.update)));
        };
        let newest = |k: usize| {
            self.history
                .len()
                .checked_sub(k + 1)
                .map(|j| &self.history[j])
        };
        let base = match from_saved {
            true => self.saved.as_ref().unwrap_or(&x),
            false => &x,
        };
        // Unused history slots carry weight 0; any finite tensor will do.
        let history = [0, 1, 2].map(|k| newest(k).unwrap_or(&x));
        let (next, kept) = b.step(eps, base, guidance, Update::Pndm { c0, c1, w, history })?;
        if self.done == 0 {
            self.saved = Some(x);
        }
        if keep_eps {
            self.history.push(kept);
            if self.history.len() > 3 {
                self.history.remove(0);
            }
        }
        self.done += 1;
        Ok(next)
    }
}

/// DPM-Solver++ 2M: the previous step's x0.
struct DpmSolver<T> {
    plan: Plan,
    done: usize,
    prev_x0: Option<T>,
}

impl<B: Backend> Sampler<B> for DpmSolver<B::Tensor> {
    fn plan(&self) -> &Plan {
        &self.plan
    }

    fn step(
        &mut self,
        b: &B,
        x: B::Tensor,
        eps: &B::Tensor,
        guidance: Option<f32>,
        _noise: &mut dyn FnMut() -> Result<B::Tensor, ModelError>,
    ) -> Result<B::Tensor, ModelError> {
        let s = self.plan.steps[self.done];
        let StepUpdate::DpmSolver2M {
            a_x,
            a_e,
            c0,
            c1,
            c_prev,
        } = s.update
        else {
            return Err(ModelError::Input(format!(
                "DPM-Solver++ was given {:?}",
                s.update
            )));
        };
        let update = Update::DpmSolver2M {
            a_x,
            a_e,
            c0,
            c1,
            c_prev,
            prev_x0: self.prev_x0.as_ref().unwrap_or(&x),
        };
        let (next, x0) = b.step(eps, &x, guidance, update)?;
        self.prev_x0 = Some(x0);
        self.done += 1;
        Ok(next)
    }
}
