//! `shaders/conv2d.wgsl` against `reference::conv2d` on every path: 3x3 stride 1
//! and 2, 1x1, channel counts off the tile, batch > 1, with and without bias.

mod common;

use common::*;
use roentgen_gpu::ops::conv2d::{Conv2dShape, INDEX_LIMIT, Padding, conv2d};
use roentgen_gpu::{DType, Tensor, reference};

fn shape(
    batch: usize,
    cin: usize,
    hw: (usize, usize),
    cout: usize,
    k: usize,
    stride: usize,
    pad: impl Into<Padding>,
) -> Conv2dShape {
    Conv2dShape {
        batch,
        cin,
        h: hw.0,
        w: hw.1,
        cout,
        kh: k,
        kw: k,
        stride,
        pad: pad.into(),
    }
}

#[test]
fn conv2d_matches_reference_on_every_path() {
    let cases = [
        (shape(1, 4, (8, 8), 6, 3, 1, 1), true),    // conv_in-like
        (shape(2, 5, (6, 10), 3, 3, 1, 1), true),   // odd channels, VAE conv_out-like
        (shape(1, 8, (9, 11), 70, 3, 2, 1), true),  // downsample, Cout over one tile
        (shape(2, 66, (4, 6), 10, 1, 1, 0), false), // 1x1 shortcut, K over a tile
        (shape(1, 3, (16, 16), 4, 3, 2, 1), false),
        (shape(1, 6, (12, 12), 130, 3, 1, 1), true), // over one 128 x 128 tile each way
        // The VAE encoder's downsample: pad (0, 1), stride 2.
        (
            shape(1, 5, (8, 6), 7, 3, 2, Padding { begin: 0, end: 1 }),
            true,
        ),
        (
            shape(2, 4, (12, 10), 3, 3, 2, Padding { begin: 0, end: 1 }),
            false,
        ),
    ];
    for (ctx, dtype) in all_paths() {
        let mut r = rng(4);
        for (s, has_bias) in cases {
            let x = random_vec(&mut r, s.batch * s.cin * s.h * s.w, 1.0);
            let w = random_vec(&mut r, s.cout * s.cin * s.kh * s.kw, 0.5);
            let b = random_vec(&mut r, s.cout, 1.0);
            let tx = Tensor::from_f32(ctx, "x", &[s.batch, s.cin, s.h, s.w], &x, dtype).unwrap();
            let tw = Tensor::from_f32(ctx, "w", &[s.cout, s.cin, s.kh, s.kw], &w, dtype).unwrap();
            let tb = Tensor::from_f32(ctx, "b", &[s.cout], &b, dtype).unwrap();
            let out = conv2d(ctx, &tx, &tw, has_bias.then_some(&tb), s.stride, s.pad).unwrap();
            let (oh, ow) = s.out_hw();
            assert_eq!(out.shape, vec![s.batch, s.cout, oh, ow]);
            let got = pollster::block_on(out.to_f32(ctx)).unwrap();
            let b = as_stored(&b, dtype);
            let want = reference::conv2d::conv2d(
                &as_stored(&x, dtype),
                &as_stored(&w, dtype),
                has_bias.then_some(b.as_slice()),
                s,
            );
            let (atol, rtol) = match dtype {
                DType::F32 => (1e-4, 1e-4),
                DType::F16 => (4e-3, 2e-3),
            };
            assert_close(
                &format!("{s:?} {:?}", ctx.path_for(dtype)),
                &got,
                &want,
                atol,
                rtol,
            );
        }
    }
}

/// The shader finds each column's image and pixel, and each k's channel and
/// tap, by float reciprocals with a correction each way: exact where the
/// reciprocal rounds down, far past the SD sizes (2 x 720 x 720 pixels, over
/// 2^20), and a batch past INDEX_LIMIT pixels runs image by image.
#[test]
fn conv2d_indexes_exactly_at_large_sizes() {
    let ctx = roentgen_gpu::testing::test_context();
    let mut r = rng(9);
    let cases = [
        // 1 / 41 and 1 / 82 round down in f32: 41 * (1 / 41) is just under 1
        // and only the upward correction gets the pixel's row right.
        shape(2, 2, (2, 41), 3, 3, 1, 1),
        shape(2, 1, (720, 720), 2, 3, 1, 1),
        shape(5, 1, (1000, 1000), 2, 1, 1, 0),
    ];
    assert!(cases[2].batch * 1000 * 1000 > INDEX_LIMIT);
    for s in cases {
        let x = random_vec(&mut r, s.batch * s.cin * s.h * s.w, 1.0);
        let w = random_vec(&mut r, s.cout * s.cin * s.kh * s.kw, 0.5);
        let b = random_vec(&mut r, s.cout, 1.0);
        let tx = upload(ctx, "x", &[s.batch, s.cin, s.h, s.w], &x, DType::F32);
        let tw = upload(ctx, "w", &[s.cout, s.cin, s.kh, s.kw], &w, DType::F32);
        let tb = upload(ctx, "b", &[s.cout], &b, DType::F32);
        let out = conv2d(ctx, &tx, &tw, Some(&tb), s.stride, s.pad).unwrap();
        let want = reference::conv2d::conv2d(&x, &w, Some(&b), s);
        assert_close(&format!("{s:?}"), &read(ctx, &out), &want, 1e-4, 1e-4);
    }
}
