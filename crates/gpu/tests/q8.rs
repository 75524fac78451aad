//! q8 weights on the GPU (`shaders/weights_q8.wgsl`): matmul's B (a linear
//! weight) and conv2d's weight held as int8 with one f32 scale per output
//! channel and dequantized in the tile fills, against the references on the
//! dequantized values, on every path, aligned and odd K, and through the
//! split-binding path of conv2d.

mod common;

use common::*;
use roentgen_gpu::ops::conv2d::{Conv2dShape, conv2d};
use roentgen_gpu::ops::elementwise::{self, Unary};
use roentgen_gpu::ops::matmul::matmul;
use roentgen_gpu::testing::{test_context, test_contexts_with_small_bindings};
use roentgen_gpu::{DType, GpuContext, Tensor, reference};

/// Per-row absmax / 127 (as `roentgen_weights::q8::quantize`, scales in f32).
fn quantize(values: &[f32], rows: usize) -> (Vec<u8>, Vec<f32>) {
    let per = values.len() / rows;
    let mut q = Vec::new();
    let mut scales = Vec::new();
    for row in values.chunks(per) {
        let s = row.iter().fold(0.0f32, |m, v| m.max(v.abs())) / 127.0;
        scales.push(s);
        q.extend(
            row.iter()
                .map(|v| (v / s).round().clamp(-127.0, 127.0) as i8 as u8),
        );
    }
    (q, scales)
}

fn dequantized(q: &[u8], scales: &[f32]) -> Vec<f32> {
    let per = q.len() / scales.len();
    q.iter()
        .enumerate()
        .map(|(i, &b)| b as i8 as f32 * scales[i / per])
        .collect()
}

fn q8_tensor(ctx: &GpuContext, shape: &[usize], w: &[f32], dtype: DType) -> (Tensor, Vec<f32>) {
    let (q, s) = quantize(w, shape[0]);
    let t = Tensor::q8(ctx, "w", shape, dtype, &q, &s).unwrap();
    (t, dequantized(&q, &s))
}

#[test]
fn q8_linear_matches_reference_on_every_path() {
    // (batch, m, k, n, bias): odd and even K, over one tile each way.
    let cases = [
        (1, 3, 5, 2, true),
        (2, 77, 96, 130, true),
        (1, 131, 41, 134, false),
        (1, 65, 18, 66, true),
    ];
    for (ctx, dtype) in all_paths() {
        let mut r = rng(8);
        for (batch, m, k, n, has_bias) in cases {
            let a = random_vec(&mut r, batch * m * k, 1.0);
            let w = random_vec(&mut r, n * k, 0.5);
            let bias = random_vec(&mut r, n, 1.0);
            let ta = Tensor::from_f32(ctx, "a", &[batch, m, k], &a, dtype).unwrap();
            let (tw, wd) = q8_tensor(ctx, &[n, k], &w, dtype);
            let tb = Tensor::from_f32(ctx, "bias", &[n], &bias, dtype).unwrap();
            let out = matmul(ctx, &ta, &tw, has_bias.then_some(&tb), true).unwrap();
            let got = read(ctx, &out);
            let bias = as_stored(&bias, dtype);
            let want = reference::matmul::matmul(
                &as_stored(&a, dtype),
                &as_stored(&wd, dtype),
                has_bias.then_some(bias.as_slice()),
                batch,
                m,
                k,
                n,
                true,
                false,
            );
            let (atol, rtol) = gemm_tol(dtype);
            let case = format!("q8 b{batch} m{m} k{k} n{n} {:?}", ctx.path_for(dtype));
            assert_close(&case, &got, &want, atol, rtol);
            // Read back, the weight is its dequantized values.
            assert_close("q8 read-back", &read(ctx, &tw), &wd, 0.0, 0.0);
        }
    }
}

fn conv_case(ctx: &GpuContext, dtype: DType, s: Conv2dShape, seed: u64) {
    let mut r = rng(seed);
    let x = random_vec(&mut r, s.batch * s.cin * s.h * s.w, 1.0);
    let w = random_vec(&mut r, s.cout * s.cin * s.kh * s.kw, 0.5);
    let b = random_vec(&mut r, s.cout, 1.0);
    let tx = Tensor::from_f32(ctx, "x", &[s.batch, s.cin, s.h, s.w], &x, dtype).unwrap();
    let (tw, wd) = q8_tensor(ctx, &[s.cout, s.cin, s.kh, s.kw], &w, dtype);
    let tb = Tensor::from_f32(ctx, "b", &[s.cout], &b, dtype).unwrap();
    let out = conv2d(ctx, &tx, &tw, Some(&tb), s.stride, s.pad).unwrap();
    let got = read(ctx, &out);
    let b = as_stored(&b, dtype);
    let want =
        reference::conv2d::conv2d(&as_stored(&x, dtype), &as_stored(&wd, dtype), Some(&b), s);
    let (atol, rtol) = gemm_tol(dtype);
    assert_close(
        &format!("q8 {s:?} {:?}", ctx.path_for(dtype)),
        &got,
        &want,
        atol,
        rtol,
    );
}

fn shape(batch: usize, cin: usize, hw: usize, cout: usize, k: usize, stride: usize) -> Conv2dShape {
    Conv2dShape {
        batch,
        cin,
        h: hw,
        w: hw,
        cout,
        kh: k,
        kw: k,
        stride,
        pad: (k / 2).into(),
    }
}

#[test]
fn q8_conv2d_matches_reference_on_every_path() {
    for (ctx, dtype) in all_paths() {
        conv_case(ctx, dtype, shape(1, 4, 8, 6, 3, 1), 1); // 36 taps: aligned
        conv_case(ctx, dtype, shape(2, 5, 6, 3, 3, 1), 2); // 45 taps: odd
        conv_case(ctx, dtype, shape(1, 6, 12, 130, 3, 2), 3); // over a tile, strided
        conv_case(ctx, dtype, shape(2, 66, 4, 10, 1, 1), 4); // 1x1
    }
}

#[test]
fn q8_conv2d_splits_bindings_like_plain_weights() {
    for ctx in test_contexts_with_small_bindings() {
        for dtype in [DType::F32, DType::F16] {
            // 32 channels of 32x32: 64 KiB (f16) over the 16 KiB binding limit.
            conv_case(ctx, dtype, shape(1, 32, 32, 34, 3, 1), 5);
        }
    }
}

#[test]
fn q8_weights_are_refused_where_plain_storage_is_read() {
    let ctx = test_context();
    let (w, _) = q8_tensor(ctx, &[4, 8], &[0.25; 32], DType::F32);
    let err = elementwise::unary(ctx, Unary::Silu, &w)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("q8"), "{err}");
    let a = Tensor::from_f32(ctx, "a", &[8, 4], &[1.0; 32], DType::F32).unwrap();
    let err = matmul(ctx, &a, &w, None, false).err().unwrap().to_string();
    assert!(err.contains("trans_b"), "{err}");
}

#[test]
fn q8_geglu_projection_matches_reference() {
    use roentgen_gpu::ops::matmul::matmul_geglu;
    for (ctx, dtype) in all_paths() {
        let mut r = rng(9);
        let (m, k, f) = (33, 48, 128);
        let a = random_vec(&mut r, m * k, 1.0);
        let w = random_vec(&mut r, 2 * f * k, 0.5);
        let bias = random_vec(&mut r, 2 * f, 1.0);
        let ta = Tensor::from_f32(ctx, "a", &[m, k], &a, dtype).unwrap();
        let (tw, wd) = q8_tensor(ctx, &[2 * f, k], &w, dtype);
        let tb = Tensor::from_f32(ctx, "b", &[2 * f], &bias, dtype).unwrap();
        let got = read(ctx, &matmul_geglu(ctx, &ta, &tw, Some(&tb)).unwrap());
        let (want, (atol, rtol)) = geglu_expected(&a, &wd, &bias, 1, m, k, f, dtype);
        assert_close(
            &format!("q8 geglu {:?}", ctx.path_for(dtype)),
            &got,
            &want,
            atol,
            rtol,
        );
    }
}
