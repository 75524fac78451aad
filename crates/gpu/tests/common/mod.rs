//! Helpers shared by the GPU op tests: seeded random data, the contexts and
//! paths every op is run on, and tolerance checks with useful failure messages.
#![allow(dead_code)]

use rand::{Rng, SeedableRng, rngs::StdRng};
use roentgen_gpu::testing::{test_context, test_context_without_f16};
use roentgen_gpu::{ComputePath, DType, GpuContext};

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

pub fn random_vec(rng: &mut StdRng, n: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-scale..scale)).collect()
}

/// Every (context, storage type) pair an op must be right on. Native lavapipe
/// offers `shader-f16`; if an adapter lacks it the f16-native case fails,
/// because CI must prove both f16 paths.
pub fn all_paths() -> Vec<(&'static GpuContext, DType)> {
    let ctx = test_context();
    assert!(
        ctx.report.shader_f16_enabled,
        "adapter {} lacks shader-f16: the f16-native path cannot be tested here",
        ctx.report.name
    );
    let packed = test_context_without_f16();
    assert_eq!(packed.path_for(DType::F16), ComputePath::F16Packed);
    vec![(ctx, DType::F32), (ctx, DType::F16), (packed, DType::F16)]
}

/// Rounds through f16 when the storage is f16, so references see what the GPU saw.
pub fn as_stored(data: &[f32], dtype: DType) -> Vec<f32> {
    dtype.round_trip(data)
}

/// Asserts |got - want| <= atol + rtol * |want| everywhere (NaN fails).
pub fn assert_close(what: &str, got: &[f32], want: &[f32], atol: f32, rtol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let mut worst = (0usize, 0f32);
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs();
        let ok = err <= atol + rtol * w.abs();
        assert!(
            ok,
            "{what}: element {i}: got {g}, want {w} (|err| {err} > {atol} + {rtol}*|want|)"
        );
        if err > worst.1 {
            worst = (i, err);
        }
    }
}

/// Tolerances per storage type: f32 kernels are exact to float rounding;
/// f16 storage rounds every output once (relative 2^-11).
pub fn tol(dtype: DType) -> (f32, f32) {
    match dtype {
        DType::F32 => (1e-5, 1e-5),
        DType::F16 => (1e-3, 2e-3),
    }
}

/// Tolerances of a GEMM (matmul, conv2d): sums of K products, f32 rounding
/// grows with sqrt(K); f16 storage rounds the result once.
#[allow(dead_code)]
pub fn gemm_tol(dtype: DType) -> (f32, f32) {
    match dtype {
        DType::F32 => (1e-4, 1e-4),
        DType::F16 => (4e-3, 2e-3),
    }
}

pub fn upload(
    ctx: &GpuContext,
    name: &str,
    shape: &[usize],
    data: &[f32],
    dtype: DType,
) -> roentgen_gpu::Tensor {
    roentgen_gpu::Tensor::from_f32(ctx, name, shape, data, dtype).unwrap()
}

pub fn read(ctx: &GpuContext, t: &roentgen_gpu::Tensor) -> Vec<f32> {
    pollster::block_on(t.to_f32(ctx)).unwrap()
}

/// What the GEGLU projection must give: `a . w^T + bias` stored (rounded in
/// f16 as the unfused path stores it), then `h * gelu(g)`; with its
/// tolerance (f16 rounds the projection and the output).
#[allow(dead_code, clippy::too_many_arguments)]
pub fn geglu_expected(
    a: &[f32],
    w: &[f32],
    bias: &[f32],
    batch: usize,
    m: usize,
    k: usize,
    f: usize,
    dtype: DType,
) -> (Vec<f32>, (f32, f32)) {
    let bias = as_stored(bias, dtype);
    let (a, w) = (as_stored(a, dtype), as_stored(w, dtype));
    let proj = roentgen_gpu::reference::matmul::matmul(
        &a,
        &w,
        Some(&bias),
        batch,
        m,
        k,
        2 * f,
        true,
        false,
    );
    let want = roentgen_gpu::reference::elementwise::geglu(&as_stored(&proj, dtype), f);
    let tol = match dtype {
        DType::F32 => (1e-4, 1e-4),
        DType::F16 => (1e-2, 4e-3),
    };
    (want, tol)
}
