//! CPU reference for `shaders/image.wgsl`.

/// `x` [3, h*w] in [-1, 1] to RGBA8 bytes, numpy-style rounding (half to even).
pub fn to_rgba8(x: &[f32], pixels: usize) -> Vec<u8> {
    let level = |v: f32| ((v / 2.0 + 0.5).clamp(0.0, 1.0) * 255.0).round_ties_even() as u8;
    (0..pixels)
        .flat_map(|p| {
            [
                level(x[p]),
                level(x[pixels + p]),
                level(x[2 * pixels + p]),
                255,
            ]
        })
        .collect()
}
