//! DDIM with eta = 0 (`DDIMScheduler.set_timesteps` and `.step`), on
//! epsilon or v-prediction, with or without `clip_sample`.

use super::{
    AddNoise, ClippedDdim, Plan, Prediction, SchedulerConfig, SchedulerKind, StepPlan, StepUpdate,
};

/// Integer timesteps, descending, as `DDIMScheduler.set_timesteps` (and
/// PNDM's `_timesteps`).
pub(crate) fn integer_timesteps(cfg: &SchedulerConfig, kind: SchedulerKind, n: usize) -> Vec<i64> {
    let spacing = cfg.checked_spacing(kind);
    let mut ts: Vec<i64> = spacing
        .timesteps(cfg.num_train_timesteps, n, cfg.steps_offset, false)
        .into_iter()
        .map(|t| t as i64)
        .collect();
    ts.reverse();
    ts
}

pub(super) fn plan(cfg: &SchedulerConfig, n: usize, begin: usize) -> Plan {
    let ac = cfg.alphas_cumprod();
    let final_alpha = if cfg.set_alpha_to_one.unwrap_or(true) {
        1.0
    } else {
        ac[0]
    };
    let ratio = (cfg.num_train_timesteps / n) as i64;
    let steps = integer_timesteps(cfg, SchedulerKind::Ddim, n)
        .into_iter()
        .skip(begin)
        .map(|t| {
            let prev = t - ratio;
            let a_t = ac[t as usize];
            let noised = AddNoise::at_alpha_cumprod(a_t);
            let a_prev = if prev >= 0 {
                ac[prev as usize]
            } else {
                final_alpha
            };
            if cfg.clip_sample.unwrap_or(true) {
                // x0 clipped, then x' = sqrt(a_prev) x0 + sqrt(1 - a_prev) e
                // with e the model's noise (epsilon) or derived from v.
                let (a_x, a_e, e_x, e_o) = match cfg.prediction() {
                    Some(Prediction::V) => (
                        a_t.sqrt(),
                        -(1.0 - a_t).sqrt(),
                        (1.0 - a_t).sqrt(),
                        a_t.sqrt(),
                    ),
                    _ => (1.0 / a_t.sqrt(), -((1.0 - a_t) / a_t).sqrt(), 0.0, 1.0),
                };
                let d = (1.0 - a_prev).sqrt();
                return StepPlan {
                    t: t as f32,
                    input_scale: 1.0,
                    noised,
                    update: StepUpdate::DdimClipped(ClippedDdim {
                        a_x: a_x as f32,
                        a_e: a_e as f32,
                        clip: cfg.clip_sample_range as f32,
                        c_x: (d * e_x) as f32,
                        c_x0: a_prev.sqrt() as f32,
                        c_e: (d * e_o) as f32,
                    }),
                };
            }
            let (c0, c1) = match cfg.prediction() {
                // x0 = sqrt(a_t) x - sqrt(1 - a_t) v, e = sqrt(a_t) v + sqrt(1 - a_t) x
                Some(Prediction::V) => (
                    (a_prev * a_t).sqrt() + ((1.0 - a_prev) * (1.0 - a_t)).sqrt(),
                    ((1.0 - a_prev) * a_t).sqrt() - (a_prev * (1.0 - a_t)).sqrt(),
                ),
                // x0 = (x - sqrt(1 - a_t) e) / sqrt(a_t)
                _ => (
                    (a_prev / a_t).sqrt(),
                    (1.0 - a_prev).sqrt() - (a_prev * (1.0 - a_t) / a_t).sqrt(),
                ),
            };
            // x' = sqrt(a_prev) x0 + sqrt(1 - a_prev) e
            StepPlan {
                t: t as f32,
                input_scale: 1.0,
                noised,
                update: StepUpdate::Ddim {
                    c0: c0 as f32,
                    c1: c1 as f32,
                },
            }
        })
        .collect();
    Plan {
        init_noise_sigma: 1.0,
        steps,
    }
}
