//! Tensors larger than the adapter's largest storage binding (128 MiB on many
//! real devices: the VAE's 256 channels at 512x512 in f32, or at 768x768 in
//! f16) are bound a slice at a time. Here the binding limit is 16 KiB, so
//! small shapes take the same code: conv2d in runs of input channels (summed)
//! and of output channels, group norm in runs of groups, upsampling in runs of
//! planes, element-wise ops in runs of pairs; each against its reference on
//! every path.

mod common;

use common::*;
use roentgen_gpu::ops::conv2d::{Conv2dShape, conv2d};
use roentgen_gpu::ops::elementwise::{Binary, Unary, binary, unary};
use roentgen_gpu::ops::group_norm::group_norm;
use roentgen_gpu::ops::upsample::upsample_nearest2x;
use roentgen_gpu::testing::{SMALL_BINDING, test_contexts_with_small_bindings};
use roentgen_gpu::{DType, GpuContext, reference};

fn small_binding_paths() -> Vec<(&'static GpuContext, DType)> {
    let [f16, packed] = test_contexts_with_small_bindings();
    vec![(f16, DType::F32), (f16, DType::F16), (packed, DType::F16)]
}

fn bytes(shape: &[usize], dtype: DType) -> u64 {
    (shape.iter().product::<usize>() * dtype.size()) as u64
}

#[test]
fn conv2d_splits_input_and_output_channels() {
    let s = Conv2dShape {
        batch: 2,
        cin: 12,
        h: 32,
        w: 32,
        cout: 20,
        kh: 3,
        kw: 3,
        stride: 1,
        pad: 1.into(),
    };
    for (ctx, dtype) in small_binding_paths() {
        let mut r = rng(11);
        let x = random_vec(&mut r, s.batch * s.cin * s.h * s.w, 1.0);
        let w = random_vec(&mut r, s.cout * s.cin * 9, 0.5);
        let b = random_vec(&mut r, s.cout, 1.0);
        let xs = [s.batch, s.cin, s.h, s.w];
        assert!(
            bytes(&xs, dtype) > 2 * SMALL_BINDING,
            "x must need several runs"
        );
        let tx = upload(ctx, "x", &xs, &x, dtype);
        let tw = upload(ctx, "w", &[s.cout, s.cin, 3, 3], &w, dtype);
        let tb = upload(ctx, "b", &[s.cout], &b, dtype);
        let out = conv2d(ctx, &tx, &tw, Some(&tb), 1, 1).unwrap();
        let b = as_stored(&b, dtype);
        let want =
            reference::conv2d::conv2d(&as_stored(&x, dtype), &as_stored(&w, dtype), Some(&b), s);
        let (atol, rtol) = tol(dtype);
        // Sums of 108 products: f16 partial sums round once per run.
        let case = format!("conv2d split, {:?}", ctx.path_for(dtype));
        assert_close(&case, &read(ctx, &out), &want, atol * 10.0, rtol * 2.0);
    }
}

#[test]
fn group_norm_upsample_and_elementwise_split_into_runs() {
    for (ctx, dtype) in small_binding_paths() {
        let mut r = rng(12);
        let (atol, rtol) = tol(dtype);
        let path = format!("{:?}", ctx.path_for(dtype));

        let shape = [2, 32, 24, 24];
        assert!(bytes(&shape, dtype) > 2 * SMALL_BINDING);
        let x = random_vec(&mut r, 2 * 32 * 576, 2.0);
        let g = random_vec(&mut r, 32, 1.0);
        let b = random_vec(&mut r, 32, 1.0);
        let out = group_norm(
            ctx,
            &upload(ctx, "x", &shape, &x, dtype),
            &upload(ctx, "g", &[32], &g, dtype),
            &upload(ctx, "b", &[32], &b, dtype),
            8,
            1e-5,
            true,
        )
        .unwrap();
        let want = reference::norms::group_norm(
            &as_stored(&x, dtype),
            &as_stored(&g, dtype),
            &as_stored(&b, dtype),
            32,
            576,
            8,
            1e-5,
            true,
        );
        assert_close(
            &format!("group_norm split, {path}"),
            &read(ctx, &out),
            &want,
            atol * 4.0,
            rtol,
        );

        let small = [2, 6, 24, 24];
        let x = random_vec(&mut r, 2 * 6 * 576, 1.0);
        let out = upsample_nearest2x(ctx, &upload(ctx, "x", &small, &x, dtype)).unwrap();
        assert!(out.buffer.size() > 2 * SMALL_BINDING);
        let want = reference::layout::upsample_nearest2x(&as_stored(&x, dtype), 24, 24);
        assert_close(
            &format!("upsample split, {path}"),
            &read(ctx, &out),
            &want,
            0.0,
            0.0,
        );

        let big = [2, 12, 32, 32];
        let n = 2 * 12 * 1024;
        let (a, c) = (random_vec(&mut r, n, 2.0), random_vec(&mut r, n, 2.0));
        let (ta, tc) = (
            upload(ctx, "a", &big, &a, dtype),
            upload(ctx, "c", &big, &c, dtype),
        );
        let sum = binary(ctx, Binary::Add, &ta, &tc).unwrap();
        let (a, c) = (as_stored(&a, dtype), as_stored(&c, dtype));
        let want = reference::elementwise::binary(Binary::Add, &a, &c);
        assert_close(
            &format!("add split, {path}"),
            &read(ctx, &sum),
            &want,
            atol,
            rtol,
        );
        let act = unary(ctx, Unary::Silu, &ta).unwrap();
        let want = reference::elementwise::unary(Unary::Silu, &a);
        assert_close(
            &format!("silu split, {path}"),
            &read(ctx, &act),
            &want,
            atol,
            rtol,
        );
    }
}

#[test]
fn a_unit_too_large_to_bind_is_refused_by_name() {
    let [ctx, _] = test_contexts_with_small_bindings();
    // One 64x64 f32 plane is exactly 16 KiB; its upsampled plane is 64 KiB.
    let x = upload(
        ctx,
        "big plane",
        &[1, 1, 64, 64],
        &vec![0.0; 4096],
        DType::F32,
    );
    let err = match upsample_nearest2x(ctx, &x) {
        Ok(_) => panic!("a 64 KiB plane cannot be bound under a 16 KiB limit"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("upsample") && err.contains("storage buffer binding size"),
        "{err}"
    );
}
