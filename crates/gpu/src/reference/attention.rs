//! CPU reference for `shaders/attention.wgsl`: the full score matrix, softmax, sum.

/// `q` [B, Lq, H*d], `k`/`v` [B, Lk, H*d]; returns [B, Lq, H*d].
#[allow(clippy::too_many_arguments)]
pub fn attention(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    b: usize,
    lq: usize,
    lk: usize,
    heads: usize,
    d: usize,
    scale: f32,
    causal: bool,
) -> Vec<f32> {
    let inner = heads * d;
    let mut out = vec![0.0; b * lq * inner];
    for bi in 0..b {
        for h in 0..heads {
            for i in 0..lq {
                let qrow = &q[(bi * lq + i) * inner + h * d..][..d];
                let scores: Vec<f64> = (0..lk)
                    .map(|j| {
                        if causal && j > i {
                            return f64::NEG_INFINITY;
                        }
                        let krow = &k[(bi * lk + j) * inner + h * d..][..d];
                        qrow.iter()
                            .zip(krow)
                            .map(|(a, b)| *a as f64 * *b as f64)
                            .sum::<f64>()
                            * scale as f64
                    })
                    .collect();
                let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let p: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                let sum: f64 = p.iter().sum();
                for c in 0..d {
                    let acc: f64 = (0..lk)
                        .map(|j| p[j] * v[(bi * lk + j) * inner + h * d + c] as f64)
                        .sum();
                    out[(bi * lq + i) * inner + h * d + c] = (acc / sum) as f32;
                }
            }
        }
    }
    out
}

/// CPU reference for `shaders/attention_maps.wgsl`: for batch item `item`,
/// the head-mean softmax over keys, key-major: out [Lk, Lq].
#[allow(clippy::too_many_arguments)]
pub fn attention_maps(
    q: &[f32],
    k: &[f32],
    lq: usize,
    lk: usize,
    heads: usize,
    d: usize,
    scale: f32,
    item: usize,
) -> Vec<f32> {
    let inner = heads * d;
    let mut out = vec![0.0f64; lk * lq];
    for h in 0..heads {
        for i in 0..lq {
            let qrow = &q[(item * lq + i) * inner + h * d..][..d];
            let scores: Vec<f64> = (0..lk)
                .map(|j| {
                    let krow = &k[(item * lk + j) * inner + h * d..][..d];
                    qrow.iter()
                        .zip(krow)
                        .map(|(a, b)| *a as f64 * *b as f64)
                        .sum::<f64>()
                        * scale as f64
                })
                .collect();
            let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let p: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
            let sum: f64 = p.iter().sum();
            for j in 0..lk {
                out[j * lq + i] += p[j] / sum / heads as f64;
            }
        }
    }
    out.into_iter().map(|v| v as f32).collect()
}
