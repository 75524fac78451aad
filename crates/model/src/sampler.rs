//! What a sampler carries between steps — PNDM's last three noise
//! predictions and the sample saved at its first step, DPM-Solver++'s
//! previous x0 — and the one place where a planned step becomes the
//! backend's fused update (`Backend::step`). The plan (scheduler/) says what
//! each step computes; this says what it remembers.

use crate::ModelError;
use crate::backend::{Backend, Update};
use crate::scheduler::{StepPlan, StepUpdate};

/// A sampling run's memory, dropped with the run.
pub struct SamplerState<T> {
    /// Guided noise predictions PNDM keeps, oldest first (at most 3).
    history: Vec<T>,
    /// The latents before PNDM's first step (its second call restarts there).
    saved: Option<T>,
    /// DPM-Solver++'s previous x0.
    prev_x0: Option<T>,
    /// Steps taken so far.
    done: usize,
}

impl<T> Default for SamplerState<T> {
    fn default() -> Self {
        Self {
            history: Vec::new(),
            saved: None,
            prev_x0: None,
            done: 0,
        }
    }
}

impl<T> SamplerState<T> {
    /// Applies the next step of a plan to latents `x` given the UNet's output
    /// `eps` (guided here when `guidance` is set); `noise` makes Euler
    /// ancestral's fresh noise for this step. Returns the new latents.
    pub fn step<B: Backend<Tensor = T>>(
        &mut self,
        b: &B,
        s: &StepPlan,
        x: T,
        eps: &T,
        guidance: Option<f32>,
        noise: impl FnOnce() -> Result<T, ModelError>,
    ) -> Result<T, ModelError> {
        let noise_t;
        let newest = |k: usize| {
            self.history
                .len()
                .checked_sub(k + 1)
                .map(|j| &self.history[j])
        };
        let (base, update) = match s.update {
            StepUpdate::Ddim { c0, c1 } => (&x, Update::Ddim { c0, c1 }),
            StepUpdate::DdimClipped(c) => (&x, Update::DdimClipped(c)),
            StepUpdate::Euler { dt } => (&x, Update::Euler { dt }),
            StepUpdate::EulerAncestral { dt, sigma_up } => {
                noise_t = noise()?;
                (
                    &x,
                    Update::EulerAncestral {
                        dt,
                        sigma_up,
                        noise: &noise_t,
                    },
                )
            }
            StepUpdate::Pndm {
                c0,
                c1,
                w,
                from_saved,
                ..
            } => {
                let base = if from_saved {
                    self.saved.as_ref().unwrap_or(&x)
                } else {
                    &x
                };
                // Unused history slots carry weight 0; any finite tensor will do.
                let history = [0, 1, 2].map(|k| newest(k).unwrap_or(&x));
                (base, Update::Pndm { c0, c1, w, history })
            }
            StepUpdate::DpmSolver2M {
                a_x,
                a_e,
                c0,
                c1,
                c_prev,
            } => (
                &x,
                Update::DpmSolver2M {
                    a_x,
                    a_e,
                    c0,
                    c1,
                    c_prev,
                    prev_x0: self.prev_x0.as_ref().unwrap_or(&x),
                },
            ),
        };
        let (next, aux) = b.step(eps, base, guidance, update)?;
        match s.update {
            StepUpdate::Pndm { keep_eps, .. } => {
                if self.done == 0 {
                    self.saved = Some(x);
                }
                if keep_eps {
                    self.history.push(aux);
                    if self.history.len() > 3 {
                        self.history.remove(0);
                    }
                }
            }
            StepUpdate::DpmSolver2M { .. } => self.prev_x0 = Some(aux),
            _ => {}
        }
        self.done += 1;
        Ok(next)
    }
}
