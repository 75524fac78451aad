//! `shaders/elementwise.wgsl` against `reference::elementwise`, on every path.

mod common;

use common::*;
use roentgen_gpu::ops::elementwise::{self, Binary, Unary};
use roentgen_gpu::reference;
use roentgen_gpu::{DType, Tensor};

/// Odd, tiny, under and over one workgroup, and not a multiple of anything.
const SIZES: &[&[usize]] = &[&[1], &[3], &[255], &[2, 256], &[7, 97, 5], &[2, 4, 33, 17]];

#[test]
fn unary_ops_match_reference_on_every_path() {
    let ops = [
        Unary::Scale(-0.37),
        Unary::Silu,
        Unary::Gelu,
        Unary::QuickGelu,
    ];
    for (ctx, dtype) in all_paths() {
        let mut r = rng(1);
        for shape in SIZES {
            let n: usize = shape.iter().product();
            let a = random_vec(&mut r, n, 6.0);
            let ta = Tensor::from_f32(ctx, "a", shape, &a, dtype).unwrap();
            for op in ops {
                let got = pollster::block_on(elementwise::unary(ctx, op, &ta).unwrap().to_f32(ctx))
                    .unwrap();
                let want = reference::elementwise::unary(op, &as_stored(&a, dtype));
                let (atol, rtol) = tol(dtype);
                let path = ctx.path_for(dtype);
                assert_close(
                    &format!("{op:?} {shape:?} {path:?}"),
                    &got,
                    &want,
                    atol,
                    rtol,
                );
            }
        }
    }
}

#[test]
fn binary_ops_match_reference_on_every_path() {
    for (ctx, dtype) in all_paths() {
        let mut r = rng(2);
        for shape in SIZES {
            let n: usize = shape.iter().product();
            let a = random_vec(&mut r, n, 4.0);
            let b = random_vec(&mut r, n, 4.0);
            let ta = Tensor::from_f32(ctx, "a", shape, &a, dtype).unwrap();
            let tb = Tensor::from_f32(ctx, "b", shape, &b, dtype).unwrap();
            for op in [Binary::Add, Binary::Mul] {
                let got =
                    pollster::block_on(elementwise::binary(ctx, op, &ta, &tb).unwrap().to_f32(ctx))
                        .unwrap();
                let want = reference::elementwise::binary(
                    op,
                    &as_stored(&a, dtype),
                    &as_stored(&b, dtype),
                );
                let (atol, rtol) = tol(dtype);
                let path = ctx.path_for(dtype);
                assert_close(
                    &format!("{op:?} {shape:?} {path:?}"),
                    &got,
                    &want,
                    atol,
                    rtol,
                );
            }
        }
    }
}

#[test]
fn mismatched_shapes_are_refused() {
    let ctx = roentgen_gpu::testing::test_context();
    let a = Tensor::from_f32(ctx, "a", &[4], &[0.0; 4], DType::F32).unwrap();
    let b = Tensor::from_f32(ctx, "b", &[2, 2], &[0.0; 4], DType::F32).unwrap();
    assert!(elementwise::binary(ctx, Binary::Add, &a, &b).is_err());
}

/// More pairs than 65,535 workgroups of 256 can cover in one dimension, so
/// the dispatch is folded into 2-D: every element must still be written.
#[test]
fn dispatch_beyond_one_dimension_covers_every_element() {
    let ctx = roentgen_gpu::testing::test_context();
    let max = ctx.report.limits.max_compute_workgroups_per_dimension as usize;
    let n = (max * elementwise::WG as usize + 1000) * 2 + 1;
    let a: Vec<f32> = (0..n).map(|i| (i % 1000) as f32).collect();
    let ta = Tensor::from_f32(ctx, "a", &[n], &a, DType::F16).unwrap();
    let got = pollster::block_on(
        elementwise::unary(ctx, Unary::Scale(0.5), &ta)
            .unwrap()
            .to_f32(ctx),
    )
    .unwrap();
    for (i, (&g, &x)) in got.iter().zip(&a).enumerate() {
        assert_eq!(g, x * 0.5, "element {i} of {n}");
    }
}
