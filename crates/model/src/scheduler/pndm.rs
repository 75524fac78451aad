//! PNDM in PLMS mode with `skip_prk_steps` (`PNDMScheduler.set_timesteps`,
//! `.step_plms` and `._get_prev_sample`), on epsilon or v-prediction.

use super::ddim::integer_timesteps;
use super::{AddNoise, Plan, Prediction, SchedulerConfig, SchedulerKind, StepPlan, StepUpdate};

pub(super) fn plan(cfg: &SchedulerConfig, n: usize, begin: usize) -> Plan {
    let ac = cfg.alphas_cumprod();
    let final_alpha = if cfg.set_alpha_to_one.unwrap_or(false) {
        1.0
    } else {
        ac[0]
    };
    let ratio = (cfg.num_train_timesteps / n) as i64;
    // _timesteps descending [t_{n-1} .. t_0]; plms_timesteps repeats the
    // second one: [t_{n-1}, t_{n-2}, t_{n-2}, t_{n-3}, .., t_0].
    let desc = integer_timesteps(cfg, SchedulerKind::Pndm, n);
    let mut ts = vec![desc[0]];
    if n > 1 {
        ts.push(desc[1]);
    }
    ts.extend_from_slice(&desc[1..]);
    // Image-to-image slices the list; `counter` then counts from the first
    // step taken, so a start on the repeated entry re-runs it as a first step
    // and treats the next as the warm-up's second call (diffusers does).
    let steps = ts[begin..]
        .iter()
        .enumerate()
        .map(|(counter, &t)| {
            // step_plms: the second call re-runs the first step from the
            // saved sample with the mean of both eps (a Heun-like start).
            let (t, prev) = if counter == 1 {
                (t + ratio, t)
            } else {
                (t, t - ratio)
            };
            let kept = if counter < 2 { 1 } else { counter.min(4) };
            let w = match (counter, kept) {
                (0, _) => [1.0, 0.0, 0.0, 0.0],
                (1, _) => [0.5, 0.5, 0.0, 0.0],
                (_, 2) => [1.5, -0.5, 0.0, 0.0],
                (_, 3) => [23.0 / 12.0, -16.0 / 12.0, 5.0 / 12.0, 0.0],
                _ => [55.0 / 24.0, -59.0 / 24.0, 37.0 / 24.0, -9.0 / 24.0],
            };
            let a_t = ac[t as usize];
            let a_prev = if prev >= 0 {
                ac[prev as usize]
            } else {
                final_alpha
            };
            let (b_t, b_prev) = (1.0 - a_t, 1.0 - a_prev);
            let denom = a_t * b_prev.sqrt() + (a_t * b_t * a_prev).sqrt();
            // x' = c0 x + c1 e, e the mixed output; on v-prediction
            // _get_prev_sample first reads it as e = sqrt(a_t) v + sqrt(b_t) x
            // (x the sample it steps from): still linear in x and the mix.
            let (c0, c1) = ((a_prev / a_t).sqrt(), -(a_prev - a_t) / denom);
            let (c0, c1) = match cfg.prediction() {
                Some(Prediction::V) => (c0 + c1 * b_t.sqrt(), c1 * a_t.sqrt()),
                _ => (c0, c1),
            };
            // The listed timestep (the one the UNet sees and add_noise takes).
            let listed = if counter == 1 { prev } else { t };
            StepPlan {
                t: listed as f32,
                input_scale: 1.0,
                noised: AddNoise::at_alpha_cumprod(ac[listed as usize]),
                update: StepUpdate::Pndm {
                    c0: c0 as f32,
                    c1: c1 as f32,
                    w,
                    from_saved: counter == 1,
                    keep_eps: counter != 1,
                },
            }
        })
        .collect();
    Plan {
        init_noise_sigma: 1.0,
        steps,
    }
}
