//! `shaders/group_norm.wgsl` and `shaders/layer_norm.wgsl` against the references.

mod common;

use common::*;
use roentgen_gpu::ops::{group_norm::group_norm, layer_norm::layer_norm};
use roentgen_gpu::reference::norms;

#[test]
fn group_norm_matches_reference_on_every_path() {
    // (N, C, H, W, groups, eps, silu): the UNet's eps and 32 groups, the VAE's
    // 1e-6, groups of one channel, a group larger than a workgroup's sweep.
    let cases = [
        (1, 64, 4, 4, 32, 1e-5, false),
        (2, 96, 6, 10, 32, 1e-6, true),
        (1, 8, 2, 1, 8, 1e-5, true),
        (2, 4, 40, 40, 2, 1e-5, false),
    ];
    for (ctx, dtype) in all_paths() {
        let mut r = rng(5);
        for (n, c, h, w, g, eps, silu) in cases {
            // An offset mean checks the two-pass variance.
            let x: Vec<f32> = random_vec(&mut r, n * c * h * w, 2.0)
                .iter()
                .map(|v| v + 3.0)
                .collect();
            let gamma = random_vec(&mut r, c, 1.5);
            let beta = random_vec(&mut r, c, 0.5);
            let out = group_norm(
                ctx,
                &upload(ctx, "x", &[n, c, h, w], &x, dtype),
                &upload(ctx, "gamma", &[c], &gamma, dtype),
                &upload(ctx, "beta", &[c], &beta, dtype),
                g,
                eps,
                silu,
            )
            .unwrap();
            let want = norms::group_norm(
                &as_stored(&x, dtype),
                &as_stored(&gamma, dtype),
                &as_stored(&beta, dtype),
                c,
                h * w,
                g,
                eps,
                silu,
            );
            let (atol, rtol) = tol(dtype);
            assert_close(
                &format!("{n}x{c}x{h}x{w} g{g} silu{silu} {:?}", ctx.path_for(dtype)),
                &read(ctx, &out),
                &want,
                atol * 10.0,
                rtol * 2.0,
            );
        }
    }
}

#[test]
fn layer_norm_matches_reference_on_every_path() {
    for (ctx, dtype) in all_paths() {
        let mut r = rng(6);
        // Short rows take the one-invocation-per-row kernel (D <= 256),
        // over several workgroups of 64 rows and a partial last one; long
        // rows a workgroup each.
        for (rows, d) in [
            (1, 2),
            (3, 768),
            (77, 320),
            (5, 1030),
            (130, 96),
            (64, 144),
            (77, 256),
            (2, 258),
        ] {
            let x = random_vec(&mut r, rows * d, 3.0);
            let gamma = random_vec(&mut r, d, 1.5);
            let beta = random_vec(&mut r, d, 0.5);
            let out = layer_norm(
                ctx,
                &upload(ctx, "x", &[rows, d], &x, dtype),
                &upload(ctx, "gamma", &[d], &gamma, dtype),
                &upload(ctx, "beta", &[d], &beta, dtype),
                1e-5,
            )
            .unwrap();
            let want = norms::layer_norm(
                &as_stored(&x, dtype),
                &as_stored(&gamma, dtype),
                &as_stored(&beta, dtype),
                d,
                1e-5,
            );
            let (atol, rtol) = tol(dtype);
            assert_close(
                &format!("{rows}x{d} {:?}", ctx.path_for(dtype)),
                &read(ctx, &out),
                &want,
                atol * 10.0,
                rtol * 2.0,
            );
        }
    }
}
