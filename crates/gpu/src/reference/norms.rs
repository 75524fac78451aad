//! CPU references for `shaders/group_norm.wgsl` and `shaders/layer_norm.wgsl`.

use crate::ops::elementwise::Unary;

/// Normalizes one contiguous slice with per-element affine parameters.
fn normalize(x: &[f32], eps: f32, affine: impl Fn(usize) -> (f32, f32)) -> Vec<f32> {
    let n = x.len() as f64;
    let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
    let rstd = 1.0 / (var + eps as f64).sqrt();
    x.iter()
        .enumerate()
        .map(|(i, &v)| {
            let (g, b) = affine(i);
            ((v as f64 - mean) * rstd * g as f64 + b as f64) as f32
        })
        .collect()
}

/// torch.nn.GroupNorm on `x` [N, C, hw], then SiLU when `silu`.
#[allow(clippy::too_many_arguments)]
pub fn group_norm(
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    c: usize,
    hw: usize,
    groups: usize,
    eps: f32,
    silu: bool,
) -> Vec<f32> {
    let cpg = c / groups;
    let mut out = Vec::with_capacity(x.len());
    for (gi, chunk) in x.chunks(cpg * hw).enumerate() {
        let c0 = (gi % groups) * cpg;
        out.extend(normalize(chunk, eps, |i| {
            (gamma[c0 + i / hw], beta[c0 + i / hw])
        }));
    }
    if silu {
        crate::reference::elementwise::unary(Unary::Silu, &out)
    } else {
        out
    }
}

/// torch.nn.LayerNorm over the last dimension `d`.
pub fn layer_norm(x: &[f32], gamma: &[f32], beta: &[f32], d: usize, eps: f32) -> Vec<f32> {
    x.chunks(d)
        .flat_map(|row| normalize(row, eps, |i| (gamma[i], beta[i])))
        .collect()
}
