//! A sampler object per scheduler: it holds its plan (the timestep, input
//! scale and add_noise coefficients of every step, from `scheduler/`) and
//! its own memory, and turns each UNet output into the one fused update the
//! backend runs (`Backend::step`). DDIM, Euler and Euler ancestral carry
//! nothing between steps; PNDM keeps its last three noise predictions and
//! the sample of its first step; DPM-Solver++ its previous x0. A new sampler
//! is a plan function and, if it remembers something, a type here.
//!
//! What a sampler remembers can be taken out as a [`Memory`] and put into a
//! fresh sampler of the same plan: a run then carries on from its last
//! finished step on another device (the page's recovery after a GPU reset).

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

    /// Steps taken so far and the tensors the next steps need.
    fn memory(&self) -> Memory<&B::Tensor>;

    /// Takes up where `memory` was taken (from a sampler of the same plan).
    fn restore(&mut self, memory: Memory<B::Tensor>) -> Result<(), ModelError>;
}

/// What a sampler carries between steps.
#[derive(Clone, Debug, PartialEq)]
pub struct Memory<T> {
    /// Steps taken.
    pub done: usize,
    /// PNDM's last guided noise predictions, oldest first (empty for the
    /// others).
    pub history: Vec<T>,
    /// PNDM's latents before its first step; DPM-Solver++'s previous x0.
    pub saved: Option<T>,
}

impl<T> Memory<T> {
    /// The same memory with each tensor passed through `f` (to the host
    /// and back).
    pub fn try_map<U, E>(self, mut f: impl FnMut(T) -> Result<U, E>) -> Result<Memory<U>, E> {
        Ok(Memory {
            done: self.done,
            history: self
                .history
                .into_iter()
                .map(&mut f)
                .collect::<Result<_, _>>()?,
            saved: self.saved.map(f).transpose()?,
        })
    }
}

/// `memory` checked against what a sampler of `plan` can hold.
fn checked<T>(
    plan: &Plan,
    name: &str,
    m: &Memory<T>,
    max_history: usize,
) -> Result<(), ModelError> {
    if m.done > plan.steps.len()
        || m.history.len() > max_history
        || (m.done == 0 && m.saved.is_some())
    {
        return Err(ModelError::Input(format!(
            "{name} cannot resume at step {} of {} with {} remembered predictions",
            m.done,
            plan.steps.len(),
            m.history.len()
        )));
    }
    Ok(())
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
            StepUpdate::EulerAncestral { c_x, dt, sigma_up } => {
                noise_t = noise()?;
                Update::EulerAncestral {
                    c_x,
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

    fn memory(&self) -> Memory<&B::Tensor> {
        Memory {
            done: self.done,
            history: Vec::new(),
            saved: None,
        }
    }

    fn restore(&mut self, m: Memory<B::Tensor>) -> Result<(), ModelError> {
        checked(&self.plan, "this sampler", &m, 0)?;
        if m.saved.is_some() {
            return Err(ModelError::Input(
                "a memoryless sampler was handed a saved tensor".into(),
            ));
        }
        self.done = m.done;
        Ok(())
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

    fn memory(&self) -> Memory<&B::Tensor> {
        Memory {
            done: self.done,
            history: self.history.iter().collect(),
            saved: self.saved.as_ref(),
        }
    }

    fn restore(&mut self, m: Memory<B::Tensor>) -> Result<(), ModelError> {
        checked(&self.plan, "PNDM", &m, 3)?;
        self.done = m.done;
        self.history = m.history;
        self.saved = m.saved;
        Ok(())
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

    fn memory(&self) -> Memory<&B::Tensor> {
        Memory {
            done: self.done,
            history: Vec::new(),
            saved: self.prev_x0.as_ref(),
        }
    }

    fn restore(&mut self, m: Memory<B::Tensor>) -> Result<(), ModelError> {
        checked(&self.plan, "DPM-Solver++", &m, 0)?;
        self.done = m.done;
        self.prev_x0 = m.saved;
        Ok(())
    }
}
