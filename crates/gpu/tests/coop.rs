//! The cooperative-matrix linear layer (`shaders/matmul_coop.wgsl`): naga
//! validates it here; it runs only where the device offers wgpu's
//! experimental cooperative matrices (8x8 f32) and the context asks for them.
//! lavapipe does not, so on CI this checks that asking changes nothing (the
//! tiled kernel answers); on a device that has them (device-bench.sh sets
//! ROENTGEN_COOPERATIVE_MATRIX=1) the same comparison runs the new path.

mod common;

use common::*;
use roentgen_gpu::ops::matmul::matmul_residual;
use roentgen_gpu::shaders::{MATMUL_COOP, source};
use roentgen_gpu::{ComputePath, ContextOptions, DType, GpuContext, Tensor, reference};

#[test]
fn the_kernel_validates_with_naga() {
    let src = source(MATMUL_COOP, ComputePath::F32);
    assert!(
        src.starts_with("enable wgpu_cooperative_matrix;"),
        "enable first"
    );
    let module =
        naga::front::wgsl::parse_str(&src).unwrap_or_else(|e| panic!("{}", e.emit_to_string(&src)));
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::all(),
    )
    .validate(&module)
    .unwrap_or_else(|e| panic!("{}", e.emit_to_string(&src)));
    // Without the capability it must be refused, not silently accepted.
    let caps = naga::valid::Capabilities::all() - naga::valid::Capabilities::COOPERATIVE_MATRIX;
    assert!(
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), caps)
            .validate(&module)
            .is_err()
    );
}

#[test]
fn linear_layers_match_the_reference_with_cooperative_matrices_asked_for() {
    let ctx = pollster::block_on(GpuContext::new(ContextOptions {
        cooperative_matrix: true,
        poison_outputs: true,
        ..Default::default()
    }))
    .unwrap();
    let r = &ctx.report;
    eprintln!(
        "[coop] {}: cooperative matrices (8x8 f32) available {}, enabled {}",
        r.name, r.cooperative_matrix_available, r.cooperative_matrix_enabled
    );
    assert_eq!(r.cooperative_matrix_enabled, r.cooperative_matrix_available);
    let mut rng = rng(21);
    // (batch, m, k, n): whole 16 x 16 blocks (the new path where enabled),
    // and a shape that is not (always the tiled kernel).
    for (batch, m, k, n) in [(2, 64, 320, 48), (1, 160, 768, 32), (1, 20, 12, 6)] {
        let a = random_vec(&mut rng, batch * m * k, 1.0);
        let w = random_vec(&mut rng, n * k, 0.1);
        let bias = random_vec(&mut rng, n, 1.0);
        let res = random_vec(&mut rng, batch * m * n, 1.0);
        let t = |name, shape: &[usize], v: &[f32]| {
            Tensor::from_f32(&ctx, name, shape, v, DType::F32).unwrap()
        };
        let out = matmul_residual(
            &ctx,
            &t("a", &[batch, m, k], &a),
            &t("w", &[n, k], &w),
            Some(&t("b", &[n], &bias)),
            true,
            Some(&t("r", &[batch, m, n], &res)),
        )
        .unwrap();
        let mut want = reference::matmul::matmul(&a, &w, Some(&bias), batch, m, k, n, true, false);
        for (o, r) in want.iter_mut().zip(&res) {
            *o += r;
        }
        assert_close(
            &format!("coop b{batch} m{m} k{k} n{n}"),
            &read(&ctx, &out),
            &want,
            1e-4,
            1e-4,
        );
    }
}
