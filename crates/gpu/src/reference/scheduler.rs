//! CPU reference for `shaders/scheduler.wgsl`: each formula as its header states.

/// `u + g (c - u)` from eps = [uncond; cond], or eps itself without guidance.
pub fn guided(eps: &[f32], guidance: Option<f32>) -> Vec<f32> {
    match guidance {
        None => eps.to_vec(),
        Some(g) => {
            let (u, c) = eps.split_at(eps.len() / 2);
            u.iter().zip(c).map(|(u, c)| u + g * (c - u)).collect()
        }
    }
}

/// `sum_i coeffs[i] * terms[i]` elementwise.
pub fn combine(terms: &[(&[f32], f32)]) -> Vec<f32> {
    (0..terms[0].0.len())
        .map(|i| {
            terms
                .iter()
                .map(|(t, c)| t[i] as f64 * *c as f64)
                .sum::<f64>() as f32
        })
        .collect()
}

/// Each value held to [-r, r] (DDIM's `clip_sample`).
pub fn clamp(v: &[f32], r: f32) -> Vec<f32> {
    v.iter().map(|x| x.clamp(-r, r)).collect()
}
