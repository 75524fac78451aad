//! CPU references for `shaders/upsample.wgsl`, `shaders/concat.wgsl` and
//! `shaders/transpose.wgsl`.

/// Nearest 2x upsampling of `x` [planes, h, w].
pub fn upsample_nearest2x(x: &[f32], h: usize, w: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(x.len() * 4);
    for plane in x.chunks(h * w) {
        for y in 0..2 * h {
            for xx in 0..2 * w {
                out.push(plane[(y / 2) * w + xx / 2]);
            }
        }
    }
    out
}

/// `cat([a, b], dim=1)` for `a` [N, ca, hw] and `b` [N, cb, hw].
pub fn concat_channels(
    a: &[f32],
    b: &[f32],
    n: usize,
    ca: usize,
    cb: usize,
    hw: usize,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    for i in 0..n {
        out.extend_from_slice(&a[i * ca * hw..(i + 1) * ca * hw]);
        out.extend_from_slice(&b[i * cb * hw..(i + 1) * cb * hw]);
    }
    out
}

/// `x.permute(0, 2, 1)` for `x` [b, rows, cols].
pub fn transpose(x: &[f32], b: usize, rows: usize, cols: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(x.len());
    for plane in x.chunks(rows * cols).take(b) {
        for c in 0..cols {
            for r in 0..rows {
                out.push(plane[r * cols + c]);
            }
        }
    }
    out
}
