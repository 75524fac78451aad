//! CPU reference for `shaders/matmul.wgsl`, summed in f64.

/// `a` [batch, m, k]; `b` [k, n] or [n, k] (`trans_b`), per batch when
/// `b_batched`; `bias` [n]. Returns [batch, m, n].
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    a: &[f32],
    b: &[f32],
    bias: Option<&[f32]>,
    batch: usize,
    m: usize,
    k: usize,
    n: usize,
    trans_b: bool,
    b_batched: bool,
) -> Vec<f32> {
    let mut out = vec![0.0; batch * m * n];
    for bt in 0..batch {
        let a = &a[bt * m * k..];
        let b = if b_batched { &b[bt * k * n..] } else { b };
        for i in 0..m {
            for j in 0..n {
                let mut s = bias.map_or(0.0, |v| v[j] as f64);
                for p in 0..k {
                    let bv = if trans_b { b[j * k + p] } else { b[p * n + j] };
                    s += a[i * k + p] as f64 * bv as f64;
                }
                out[(bt * m + i) * n + j] = s as f32;
            }
        }
    }
    out
}
