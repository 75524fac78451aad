//! The Fréchet distance between two sets of feature vectors, each taken as a
//! Gaussian (FID's formula, on whatever features the caller has):
//! |mu1 - mu2|^2 + tr(C1) + tr(C2) - 2 tr((C1^1/2 C2 C1^1/2)^1/2).
//! The matrix roots come from a Jacobi eigen-decomposition: the matrices are
//! small (the reader has 128 features) and symmetric, so no LAPACK is needed.

/// Mean and covariance (divided by n - 1) of rows of equal length.
fn moments(rows: &[Vec<f32>]) -> (Vec<f64>, Vec<f64>) {
    let d = rows[0].len();
    let n = rows.len() as f64;
    let mut mu = vec![0.0; d];
    for r in rows {
        for (m, &v) in mu.iter_mut().zip(r) {
            *m += v as f64 / n;
        }
    }
    let mut cov = vec![0.0; d * d];
    for r in rows {
        for i in 0..d {
            let a = r[i] as f64 - mu[i];
            for j in 0..d {
                cov[i * d + j] += a * (r[j] as f64 - mu[j]);
            }
        }
    }
    for c in &mut cov {
        *c /= (n - 1.0).max(1.0);
    }
    (mu, cov)
}

/// Eigenvalues and eigenvectors (columns of the returned d x d matrix) of a
/// symmetric matrix, by cyclic Jacobi rotations.
fn symmetric_eigen(a: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = a.to_vec();
    let mut v = vec![0.0; d * d];
    for i in 0..d {
        v[i * d + i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..d)
            .flat_map(|i| (0..d).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * d + j] * a[i * d + j])
            .sum();
        let scale: f64 = (0..d).map(|i| a[i * d + i] * a[i * d + i]).sum::<f64>() + off;
        if off <= 1e-22 * scale.max(1e-300) {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = a[p * d + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * d + q] - a[p * d + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..d {
                    let (akp, akq) = (a[k * d + p], a[k * d + q]);
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for k in 0..d {
                    let (apk, aqk) = (a[p * d + k], a[q * d + k]);
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
                for k in 0..d {
                    let (vkp, vkq) = (v[k * d + p], v[k * d + q]);
                    v[k * d + p] = c * vkp - s * vkq;
                    v[k * d + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..d).map(|i| a[i * d + i]).collect(), v)
}

/// The symmetric square root of a positive semi-definite matrix (negative
/// eigenvalues from rounding are taken as zero).
fn sqrt_psd(a: &[f64], d: usize) -> Vec<f64> {
    let (vals, vecs) = symmetric_eigen(a, d);
    let mut out = vec![0.0; d * d];
    for (k, &l) in vals.iter().enumerate() {
        let r = l.max(0.0).sqrt();
        for i in 0..d {
            for j in 0..d {
                out[i * d + j] += r * vecs[i * d + k] * vecs[j * d + k];
            }
        }
    }
    out
}

fn matmul(a: &[f64], b: &[f64], d: usize) -> Vec<f64> {
    let mut c = vec![0.0; d * d];
    for i in 0..d {
        for k in 0..d {
            let aik = a[i * d + k];
            for j in 0..d {
                c[i * d + j] += aik * b[k * d + j];
            }
        }
    }
    c
}

pub fn frechet_distance(x: &[Vec<f32>], y: &[Vec<f32>]) -> f64 {
    assert!(!x.is_empty() && !y.is_empty() && x[0].len() == y[0].len());
    let d = x[0].len();
    let (m1, c1) = moments(x);
    let (m2, c2) = moments(y);
    let s1 = sqrt_psd(&c1, d);
    let mid = matmul(&matmul(&s1, &c2, d), &s1, d);
    // Symmetrize what rounding left uneven before its root.
    let mid: Vec<f64> = (0..d * d)
        .map(|k| 0.5 * (mid[k] + mid[(k % d) * d + k / d]))
        .collect();
    let (vals, _) = symmetric_eigen(&mid, d);
    let tr_root: f64 = vals.iter().map(|l| l.max(0.0).sqrt()).sum();
    let mean_sq: f64 = m1.iter().zip(&m2).map(|(a, b)| (a - b) * (a - b)).sum();
    let tr = |c: &[f64]| (0..d).map(|i| c[i * d + i]).sum::<f64>();
    (mean_sq + tr(&c1) + tr(&c2) - 2.0 * tr_root).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two Gaussians with diagonal covariances have a closed form:
    /// |mu1 - mu2|^2 + sum (s1 - s2)^2 over the standard deviations.
    #[test]
    fn matches_the_closed_form_for_diagonal_gaussians() {
        let mut state = 1u64;
        let mut normal = move || {
            // Box-Muller on SplitMix64.
            let mut u = || {
                state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
            };
            let (a, b) = (u().max(1e-12), u());
            (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()
        };
        let (s1, s2) = ([1.0, 2.0, 0.5], [2.0, 1.0, 0.5]);
        let (m1, m2) = ([0.0, 1.0, 0.0], [1.0, 1.0, 3.0]);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for _ in 0..40_000 {
            x.push((0..3).map(|i| (m1[i] + s1[i] * normal()) as f32).collect());
            y.push((0..3).map(|i| (m2[i] + s2[i] * normal()) as f32).collect());
        }
        let want: f64 = (0..3)
            .map(|i| (m1[i] - m2[i]).powi(2) + (s1[i] - s2[i]).powi(2))
            .sum();
        let got = frechet_distance(&x, &y);
        assert!((got - want).abs() < 0.1, "{got} vs {want}");
        assert!(frechet_distance(&x, &x) < 1e-6);
    }

    #[test]
    fn eigen_decomposition_rebuilds_the_matrix() {
        let d = 4;
        let a = [
            4.0, 1.0, 0.5, 0.0, 1.0, 3.0, 0.2, 0.1, 0.5, 0.2, 2.0, 0.3, 0.0, 0.1, 0.3, 1.0,
        ];
        let r = sqrt_psd(&a, d);
        let back = matmul(&r, &r, d);
        for (u, v) in back.iter().zip(&a) {
            assert!((u - v).abs() < 1e-9, "{back:?}");
        }
    }
}
