//! Euler and Euler ancestral (`EulerDiscreteScheduler` and
//! `EulerAncestralDiscreteScheduler`: `set_timesteps`, `scale_model_input`,
//! `step` with s_churn = 0).

use super::config::TimestepSpacing;
use super::{
    AddNoise, Plan, Prediction, SchedulerConfig, SchedulerKind, StepPlan, StepUpdate, interp,
};

/// Float timesteps, descending, as `EulerDiscreteScheduler.set_timesteps`
/// (a linspace stays float32; the sigmas are interpolated there).
fn timesteps(cfg: &SchedulerConfig, kind: SchedulerKind, n: usize) -> Vec<f64> {
    let mut ts =
        cfg.checked_spacing(kind)
            .timesteps(cfg.num_train_timesteps, n, cfg.steps_offset, true);
    ts.reverse();
    ts
}

pub(super) fn plan(cfg: &SchedulerConfig, n: usize, begin: usize, ancestral: bool) -> Plan {
    let kind = if ancestral {
        SchedulerKind::EulerAncestral
    } else {
        SchedulerKind::Euler
    };
    let table = cfg.sigmas();
    let ts = timesteps(cfg, kind, n);
    let mut sigmas: Vec<f64> = ts.iter().map(|&t| interp(&table, t)).collect();
    sigmas.push(0.0);
    let max = sigmas.iter().cloned().fold(0.0, f64::max);
    let init_noise_sigma = match cfg.checked_spacing(kind) {
        TimestepSpacing::Linspace | TimestepSpacing::Trailing => max,
        TimestepSpacing::Leading => (max * max + 1.0).sqrt(),
    };
    let steps = ts
        .iter()
        .enumerate()
        .skip(begin)
        .map(|(i, &t)| {
            let (s, next) = (sigmas[i], sigmas[i + 1]);
            let update = if ancestral {
                let up = (next * next * (s * s - next * next) / (s * s)).sqrt();
                let down = (next * next - up * up).sqrt();
                let dt = down - s;
                // On v: x0 = x / (s^2 + 1) - v s / sqrt(s^2 + 1), and the
                // step x + (x - x0) / s * dt is again linear in (x, v).
                let (c_x, c_out) = if cfg.prediction() == Some(Prediction::V) {
                    (1.0 + dt * s / (s * s + 1.0), dt / (s * s + 1.0).sqrt())
                } else {
                    (1.0, dt)
                };
                StepUpdate::EulerAncestral {
                    c_x: c_x as f32,
                    dt: c_out as f32,
                    sigma_up: up as f32,
                }
            } else if cfg.prediction() == Some(Prediction::V) {
                // x0 = x / (s^2 + 1) - v s / sqrt(s^2 + 1); x' = x + (x - x0) / s * dt
                let dt = next - s;
                StepUpdate::Ddim {
                    c0: (1.0 + dt * s / (s * s + 1.0)) as f32,
                    c1: (dt / (s * s + 1.0).sqrt()) as f32,
                }
            } else {
                StepUpdate::Euler {
                    dt: (next - s) as f32,
                }
            };
            StepPlan {
                t: t as f32,
                input_scale: (1.0 / (s * s + 1.0).sqrt()) as f32,
                noised: AddNoise {
                    signal: 1.0,
                    noise: s as f32,
                },
                update,
            }
        })
        .collect();
    Plan {
        init_noise_sigma: init_noise_sigma as f32,
        steps,
    }
}
