//! CPU reference for `shaders/attention.wgsl` (the full score matrix,
//! softmax, sum) and `shaders/attention_maps.wgsl` (the same probabilities,
//! head-averaged and kept).

/// Where one query row sits: batch item, query index, head.
struct Row {
    item: usize,
    i: usize,
    h: usize,
}

/// Softmax probabilities of query row `r` over the `lk` keys, in f64
/// (keys after the query masked out when `causal`).
fn probabilities(
    q: &[f32],
    k: &[f32],
    (lq, lk, heads, d): (usize, usize, usize, usize),
    r: Row,
    scale: f32,
    causal: bool,
) -> Vec<f64> {
    let inner = heads * d;
    let qrow = &q[(r.item * lq + r.i) * inner + r.h * d..][..d];
    let scores: Vec<f64> = (0..lk)
        .map(|j| {
            if causal && j > r.i {
                return f64::NEG_INFINITY;
            }
            let krow = &k[(r.item * lk + j) * inner + r.h * d..][..d];
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
    p.into_iter().map(|v| v / sum).collect()
}

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
    for item in 0..b {
        for h in 0..heads {
            for i in 0..lq {
                let p = probabilities(q, k, (lq, lk, heads, d), Row { item, i, h }, scale, causal);
                for c in 0..d {
                    let acc: f64 = (0..lk)
                        .map(|j| p[j] * v[(item * lk + j) * inner + h * d + c] as f64)
                        .sum();
                    out[(item * lq + i) * inner + h * d + c] = acc as f32;
                }
            }
        }
    }
    out
}

/// For batch item `item`, the head-mean softmax over keys, key-major:
/// out [Lk, Lq].
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
    let mut out = vec![0.0f64; lk * lq];
    for h in 0..heads {
        for i in 0..lq {
            let p = probabilities(q, k, (lq, lk, heads, d), Row { item, i, h }, scale, false);
            for (j, pj) in p.iter().enumerate() {
                out[j * lq + i] += pj / heads as f64;
            }
        }
    }
    out.into_iter().map(|v| v as f32).collect()
}
