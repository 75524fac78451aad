// GELU with erf (torch's default, approximate="none"), shared by the
// elementwise kernels and the GEMM's GEGLU epilogue. WGSL has no erf:
// Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7).

fn erf4(x: vec4<f32>) -> vec4<f32> {
    let s = sign(x);
    let ax = abs(x);
    let t = 1.0 / (1.0 + 0.3275911 * ax);
    let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-ax * ax);
    return s * y;
}

fn gelu4(x: vec4<f32>) -> vec4<f32> {
    return 0.5 * x * (1.0 + erf4(x * 0.70710678118654752));
}
