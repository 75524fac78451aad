//! CPU references for `shaders/elementwise.wgsl`.

use crate::ops::elementwise::{Binary, Unary};

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

pub fn unary(op: Unary, a: &[f32]) -> Vec<f32> {
    a.iter()
        .map(|&x| {
            let x = x as f64;
            (match op {
                Unary::Scale(s) => x * s as f64,
                Unary::Silu => x * sigmoid(x),
                Unary::Gelu => 0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2)),
                Unary::QuickGelu => x * sigmoid(1.702 * x),
            }) as f32
        })
        .collect()
}

pub fn binary(op: Binary, a: &[f32], b: &[f32]) -> Vec<f32> {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| match op {
            Binary::Add => x + y,
            Binary::Mul => x * y,
        })
        .collect()
}

/// GEGLU over rows of `2f`: `h * gelu(gate)` with `[h | gate]` per row.
pub fn geglu(x: &[f32], f: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(x.len() / 2);
    for row in x.chunks(2 * f) {
        let gate = unary(Unary::Gelu, &row[f..]);
        out.extend(row[..f].iter().zip(gate).map(|(h, g)| h * g));
    }
    out
}

/// `x [N, C, hw] + bias [N, C]` broadcast over hw.
pub fn add_channel_bias(x: &[f32], bias: &[f32], hw: usize) -> Vec<f32> {
    x.iter()
        .enumerate()
        .map(|(i, v)| v + bias[i / hw])
        .collect()
}
