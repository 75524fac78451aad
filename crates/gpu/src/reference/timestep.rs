//! CPU reference for `shaders/timestep.wgsl` (diffusers' get_timestep_embedding).

use crate::ops::timestep::TimestepConfig;

pub fn timestep_embedding(t: f32, rows: usize, cfg: TimestepConfig) -> Vec<f32> {
    let half = cfg.dim / 2;
    let args: Vec<f64> = (0..half)
        .map(|i| {
            let exponent = -(cfg.max_period as f64).ln() * i as f64
                / (half as f64 - cfg.downscale_freq_shift as f64);
            t as f64 * exponent.exp()
        })
        .collect();
    let (sin, cos): (Vec<f64>, Vec<f64>) = args.iter().map(|a| (a.sin(), a.cos())).unzip();
    let row: Vec<f32> = if cfg.flip_sin_to_cos {
        [cos, sin].concat()
    } else {
        [sin, cos].concat()
    }
    .into_iter()
    .map(|v| v as f32)
    .collect();
    row.repeat(rows)
}
