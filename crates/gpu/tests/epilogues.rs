//! Fused GEMM epilogues: matmul's residual and conv2d's per-(image, channel)
//! bias and residual, added in the same pass as the product, against the
//! references plus host-side sums, on every path and through conv2d's
//! split-binding path (where only the first run of input channels adds them).

mod common;

use common::*;
use roentgen_gpu::ops::conv2d::{Conv2dShape, Epilogue, conv2d_fused};
use roentgen_gpu::ops::matmul::matmul_residual;
use roentgen_gpu::testing::test_contexts_with_small_bindings;
use roentgen_gpu::{DType, GpuContext, Tensor, reference};

#[test]
fn matmul_adds_its_residual_in_the_same_pass() {
    for (ctx, dtype) in all_paths() {
        let mut r = rng(11);
        for (batch, m, k, n) in [(1, 5, 7, 6), (2, 77, 64, 130), (1, 131, 40, 2)] {
            let a = random_vec(&mut r, batch * m * k, 1.0);
            let w = random_vec(&mut r, n * k, 0.5);
            let bias = random_vec(&mut r, n, 1.0);
            let res = random_vec(&mut r, batch * m * n, 2.0);
            let t = |name, shape: &[usize], v: &[f32]| {
                Tensor::from_f32(ctx, name, shape, v, dtype).unwrap()
            };
            let (ta, tw, tb, tr) = (
                t("a", &[batch, m, k], &a),
                t("w", &[n, k], &w),
                t("b", &[n], &bias),
                t("r", &[batch, m, n], &res),
            );
            let out = matmul_residual(ctx, &ta, &tw, Some(&tb), true, Some(&tr)).unwrap();
            let bias = as_stored(&bias, dtype);
            let mut want = reference::matmul::matmul(
                &as_stored(&a, dtype),
                &as_stored(&w, dtype),
                Some(&bias),
                batch,
                m,
                k,
                n,
                true,
                false,
            );
            for (o, r) in want.iter_mut().zip(as_stored(&res, dtype)) {
                *o += r;
            }
            let (atol, rtol) = gemm_tol(dtype);
            assert_close(
                &format!("b{batch} m{m} k{k} n{n} {:?}", ctx.path_for(dtype)),
                &read(ctx, &out),
                &want,
                atol,
                rtol,
            );
        }
    }
}

fn conv_case(
    ctx: &GpuContext,
    dtype: DType,
    s: Conv2dShape,
    channel_bias: bool,
    residual: bool,
    seed: u64,
) {
    let mut r = rng(seed);
    let (oh, ow) = s.out_hw();
    let x = random_vec(&mut r, s.batch * s.cin * s.h * s.w, 1.0);
    let w = random_vec(&mut r, s.cout * s.cin * s.kh * s.kw, 0.5);
    let b = random_vec(&mut r, s.cout, 1.0);
    let cb = random_vec(&mut r, s.batch * s.cout, 1.0);
    let res = random_vec(&mut r, s.batch * s.cout * oh * ow, 2.0);
    let t =
        |name, shape: &[usize], v: &[f32]| Tensor::from_f32(ctx, name, shape, v, dtype).unwrap();
    let tx = t("x", &[s.batch, s.cin, s.h, s.w], &x);
    let tw = t("w", &[s.cout, s.cin, s.kh, s.kw], &w);
    let tb = t("b", &[s.cout], &b);
    let tcb = t("cb", &[s.batch, s.cout], &cb);
    let tr = t("r", &[s.batch, s.cout, oh, ow], &res);
    let extra = Epilogue {
        channel_bias: channel_bias.then_some(&tcb),
        residual: residual.then_some(&tr),
    };
    let out = conv2d_fused(ctx, &tx, &tw, Some(&tb), s.stride, s.pad, extra).unwrap();
    let b = as_stored(&b, dtype);
    let mut want =
        reference::conv2d::conv2d(&as_stored(&x, dtype), &as_stored(&w, dtype), Some(&b), s);
    let (cb, res) = (as_stored(&cb, dtype), as_stored(&res, dtype));
    let plane = oh * ow;
    for (i, o) in want.iter_mut().enumerate() {
        let (n, c) = (i / (s.cout * plane), (i / plane) % s.cout);
        if channel_bias {
            *o += cb[n * s.cout + c];
        }
        if residual {
            *o += res[i];
        }
    }
    let (atol, rtol) = gemm_tol(dtype);
    assert_close(
        &format!(
            "{s:?} cb{channel_bias} res{residual} {:?}",
            ctx.path_for(dtype)
        ),
        &read(ctx, &out),
        &want,
        atol,
        rtol,
    );
}

fn shape(batch: usize, cin: usize, hw: usize, cout: usize, k: usize) -> Conv2dShape {
    Conv2dShape {
        batch,
        cin,
        h: hw,
        w: hw,
        cout,
        kh: k,
        kw: k,
        stride: 1,
        pad: (k / 2).into(),
    }
}

#[test]
fn conv2d_adds_channel_bias_and_residual_in_the_same_pass() {
    for (ctx, dtype) in all_paths() {
        conv_case(ctx, dtype, shape(2, 4, 8, 6, 3), true, true, 1);
        conv_case(ctx, dtype, shape(2, 5, 6, 130, 3), true, false, 2);
        conv_case(ctx, dtype, shape(1, 66, 4, 10, 1), false, true, 3);
    }
}

#[test]
fn split_conv2d_adds_them_once() {
    for ctx in test_contexts_with_small_bindings() {
        for dtype in [DType::F32, DType::F16] {
            // 2 images of 32 channels of 32x32: over the 16 KiB binding
            // limit, so one image and a run of channels at a time.
            conv_case(ctx, dtype, shape(2, 32, 32, 10, 3), true, true, 4);
        }
    }
}

#[test]
fn matmul_applies_geglu_in_its_epilogue() {
    use roentgen_gpu::ops::matmul::matmul_geglu;
    for (ctx, dtype) in all_paths() {
        let mut r = rng(12);
        // F = 64 (one tile), 192 (the demo model's 48 channels), 128 with M over a tile.
        for (batch, m, k, f) in [(1, 7, 16, 64), (2, 77, 48, 192), (1, 130, 32, 128)] {
            let a = random_vec(&mut r, batch * m * k, 1.0);
            let w = random_vec(&mut r, 2 * f * k, 0.5);
            let bias = random_vec(&mut r, 2 * f, 1.0);
            let t = |name, shape: &[usize], v: &[f32]| {
                Tensor::from_f32(ctx, name, shape, v, dtype).unwrap()
            };
            let out = matmul_geglu(
                ctx,
                &t("a", &[batch, m, k], &a),
                &t("w", &[2 * f, k], &w),
                Some(&t("b", &[2 * f], &bias)),
            )
            .unwrap();
            assert_eq!(out.shape, vec![batch, m, f]);
            let (want, (atol, rtol)) = geglu_expected(&a, &w, &bias, batch, m, k, f, dtype);
            assert_close(
                &format!("geglu b{batch} m{m} k{k} f{f} {:?}", ctx.path_for(dtype)),
                &read(ctx, &out),
                &want,
                atol,
                rtol,
            );
        }
    }
}
