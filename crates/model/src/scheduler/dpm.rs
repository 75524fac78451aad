//! DPM-Solver++ 2M, midpoint, `final_sigmas_type = "zero"`
//! (`DPMSolverMultistepScheduler.set_timesteps`, `convert_model_output`,
//! `dpm_solver_first_order_update`, `multistep_dpm_solver_second_order_update`).

use super::config::TimestepSpacing;
use super::{
    AddNoise, Plan, Prediction, SchedulerConfig, SchedulerKind, StepPlan, StepUpdate, interp,
};

/// `set_timesteps`: n + 1 points, descending, without the smallest, for
/// linspace and leading; n points for trailing.
fn timesteps(cfg: &SchedulerConfig, n: usize) -> Vec<i64> {
    let spacing = cfg.checked_spacing(SchedulerKind::DpmSolver2M);
    let points = match spacing {
        TimestepSpacing::Trailing => n,
        _ => n + 1,
    };
    let mut ts: Vec<i64> = spacing
        .timesteps(cfg.num_train_timesteps, points, cfg.steps_offset, false)
        .into_iter()
        .map(|t| t as i64)
        .collect();
    ts.reverse();
    ts.truncate(n);
    ts
}

/// (alpha_t, sigma_t) of the VP form for an Euler-style sigma.
fn alpha_sigma(s: f64) -> (f64, f64) {
    let a = 1.0 / (s * s + 1.0).sqrt();
    (a, s * a)
}

fn lambda(s: f64) -> f64 {
    let (a, sg) = alpha_sigma(s);
    a.ln() - sg.ln()
}

pub(super) fn plan(cfg: &SchedulerConfig, n: usize, begin: usize) -> Plan {
    let table = cfg.sigmas();
    let ts = timesteps(cfg, n);
    let mut sigmas: Vec<f64> = ts
        .iter()
        .map(|&t| interp(&table, t as f64) as f32 as f64)
        .collect();
    sigmas.push(0.0);
    let steps = (begin..ts.len())
        .map(|i| {
            let (s0, s_next) = (sigmas[i], sigmas[i + 1]);
            let (alpha_s0, sigma_s0) = alpha_sigma(s0);
            let (alpha_t, sigma_t) = alpha_sigma(s_next);
            let (a_x, a_e) = match cfg.prediction() {
                // x0 = alpha_s0 x - sigma_s0 v
                Some(Prediction::V) => (alpha_s0, -sigma_s0),
                // x0 = (x - sigma_s0 e) / alpha_s0
                _ => (1.0 / alpha_s0, -sigma_s0 / alpha_s0),
            };
            // sigma_next = 0 makes lambda_t infinite and exp(-h) zero: x' = x0.
            let h = lambda(s_next) - lambda(s0);
            let em1 = (-h).exp() - 1.0;
            let c0 = if sigma_s0 > 0.0 {
                sigma_t / sigma_s0
            } else {
                0.0
            };
            // lower_order_final: the last step is first order, and so is the
            // first one taken (no previous x0 yet).
            let first_order = i == begin || i == ts.len() - 1;
            let (c1, c_prev) = if first_order {
                (-alpha_t * em1, 0.0)
            } else {
                let h0 = lambda(s0) - lambda(sigmas[i - 1]);
                let r0 = h0 / h;
                // D0 = x0, D1 = (x0 - x0_prev) / r0; x' = c0 x - a_t em1 D0 - 0.5 a_t em1 D1
                (-alpha_t * em1 * (1.0 + 0.5 / r0), 0.5 * alpha_t * em1 / r0)
            };
            StepPlan {
                t: ts[i] as f32,
                input_scale: 1.0,
                noised: AddNoise {
                    signal: alpha_s0 as f32,
                    noise: sigma_s0 as f32,
                },
                update: StepUpdate::DpmSolver2M {
                    a_x: a_x as f32,
                    a_e: a_e as f32,
                    c0: c0 as f32,
                    c1: c1 as f32,
                    c_prev: c_prev as f32,
                },
            }
        })
        .collect();
    Plan {
        init_noise_sigma: 1.0,
        steps,
    }
}
