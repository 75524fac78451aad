//! `shaders/matmul.wgsl` against `reference::matmul` on every path, on shapes
//! under, at and over one 64 x 64 tile, odd M and K, batches, both B layouts.

mod common;

use common::*;
use roentgen_gpu::ops::matmul::matmul;
use roentgen_gpu::{DType, Tensor, reference};

/// (batch, m, k, n, trans_b, bias, b batched)
const CASES: &[(usize, usize, usize, usize, bool, bool, bool)] = &[
    (1, 1, 1, 2, false, false, false),
    (1, 3, 5, 2, true, true, false),
    (1, 64, 16, 64, false, true, false),
    (1, 65, 17, 66, true, true, false),
    (2, 77, 96, 130, true, true, false),
    (3, 33, 70, 40, false, false, true),
    (2, 129, 33, 8, true, false, true),
    // More than one 128 x 128 tile each way, odd K, both B layouts.
    (1, 257, 41, 260, false, true, false),
    (1, 131, 48, 134, true, true, false),
];

#[test]
fn matmul_matches_reference_on_every_path() {
    for (ctx, dtype) in all_paths() {
        let mut r = rng(3);
        for &(batch, m, k, n, trans_b, has_bias, b_batched) in CASES {
            let a = random_vec(&mut r, batch * m * k, 1.0);
            let b = random_vec(&mut r, if b_batched { batch } else { 1 } * k * n, 1.0);
            let bias = random_vec(&mut r, n, 1.0);
            let a_shape = [batch, m, k];
            let b_last = if trans_b { [n, k] } else { [k, n] };
            let b_shape: Vec<usize> = if b_batched {
                vec![batch, b_last[0], b_last[1]]
            } else {
                b_last.to_vec()
            };
            let ta = Tensor::from_f32(ctx, "a", &a_shape, &a, dtype).unwrap();
            let tb = Tensor::from_f32(ctx, "b", &b_shape, &b, dtype).unwrap();
            let tbias = Tensor::from_f32(ctx, "bias", &[n], &bias, dtype).unwrap();
            let out = matmul(ctx, &ta, &tb, has_bias.then_some(&tbias), trans_b).unwrap();
            assert_eq!(out.shape, vec![batch, m, n]);
            let got = pollster::block_on(out.to_f32(ctx)).unwrap();
            let (a, b, bias) = (
                as_stored(&a, dtype),
                as_stored(&b, dtype),
                as_stored(&bias, dtype),
            );
            let want = reference::matmul::matmul(
                &a,
                &b,
                has_bias.then_some(bias.as_slice()),
                batch,
                m,
                k,
                n,
                trans_b,
                b_batched,
            );
            // Sums of k products: f32 rounding grows with sqrt(k); f16 rounds the result once.
            let (atol, rtol) = match dtype {
                DType::F32 => (1e-4, 1e-4),
                DType::F16 => (4e-3, 2e-3),
            };
            let case = format!(
                "b{batch} m{m} k{k} n{n} t{trans_b} bias{has_bias} {:?}",
                ctx.path_for(dtype)
            );
            assert_close(&case, &got, &want, atol, rtol);
        }
    }
}

#[test]
fn matmul_refuses_bad_shapes() {
    let ctx = roentgen_gpu::testing::test_context();
    let t = |shape: &[usize]| {
        let n = shape.iter().product();
        Tensor::from_f32(ctx, "t", shape, &vec![0.0; n], DType::F32).unwrap()
    };
    assert!(
        matmul(ctx, &t(&[4, 3]), &t(&[4, 2]), None, false).is_err(),
        "inner dims"
    );
    assert!(
        matmul(ctx, &t(&[4, 3]), &t(&[3, 3]), None, false).is_err(),
        "odd n"
    );
    assert!(
        matmul(ctx, &t(&[4, 3]), &t(&[3, 2]), Some(&t(&[4])), false).is_err(),
        "bias"
    );
    assert!(
        matmul(ctx, &t(&[2, 4, 3]), &t(&[3, 3, 2]), None, false).is_err(),
        "batch"
    );
}
