//! Our kernels against burn-wgpu, an implementation we did not write, on the
//! same kind of adapter: a second opinion beside our own CPU references.

use roentgen_burn_peer::BurnPeer;
use roentgen_gpu::ops::elementwise::Unary;
use roentgen_gpu::ops::{attention, conv2d, elementwise, group_norm, matmul};
use roentgen_gpu::testing::test_context;
use roentgen_gpu::{DType, GpuContext, Tensor, reference};

fn values(n: usize, salt: u64) -> Vec<f32> {
    (0..n as u64)
        .map(|i| {
            let h = ((i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt)
                .wrapping_mul(0xD6E8_FEB8_6659_FD93);
            (h >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn ours(ctx: &GpuContext, shape: &[usize], v: &[f32]) -> Tensor {
    Tensor::from_f32(ctx, "t", shape, v, DType::F32).unwrap()
}

fn read(ctx: &GpuContext, t: Tensor) -> Vec<f32> {
    pollster::block_on(t.to_f32(ctx)).unwrap()
}

fn assert_agree(what: &str, a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "{what}[{i}]: ours {x}, burn {y}"
        );
    }
}

#[test]
fn gelu_agrees_with_burn() {
    let x: Vec<f32> = (0..1001).map(|i| (i as f32 - 500.0) / 80.0).collect();
    let burn = BurnPeer::default().gelu(&x);
    assert_agree(
        "reference gelu",
        &reference::elementwise::unary(Unary::Gelu, &x),
        &burn,
        1e-5,
    );
    let ctx = test_context();
    let gpu = read(
        ctx,
        elementwise::unary(ctx, Unary::Gelu, &ours(ctx, &[x.len()], &x)).unwrap(),
    );
    assert_agree("gelu", &gpu, &burn, 1e-5);
}

#[test]
fn linear_conv_norm_attention_agree_with_burn() {
    let ctx = test_context();
    let peer = BurnPeer::default();

    let (m, k, n) = (37, 70, 46);
    let (x, w, b) = (values(m * k, 1), values(n * k, 2), values(n, 3));
    let got = read(
        ctx,
        matmul::matmul(
            ctx,
            &ours(ctx, &[m, k], &x),
            &ours(ctx, &[n, k], &w),
            Some(&ours(ctx, &[n], &b)),
            true,
        )
        .unwrap(),
    );
    let want = BurnPeer::read(BurnPeer::linear(
        peer.tensor(&x, [m, k]),
        peer.tensor(&w, [n, k]),
        peer.tensor(&b, [n]),
    ));
    assert_agree("linear", &got, &want, 1e-4);

    let (c, h, co) = (5, 8, 7);
    let (x, w, b) = (
        values(2 * c * h * h, 4),
        values(co * c * 9, 5),
        values(co, 6),
    );
    let got = read(
        ctx,
        conv2d::conv2d(
            ctx,
            &ours(ctx, &[2, c, h, h], &x),
            &ours(ctx, &[co, c, 3, 3], &w),
            Some(&ours(ctx, &[co], &b)),
            2,
            1,
        )
        .unwrap(),
    );
    let want = BurnPeer::read(BurnPeer::conv2d(
        peer.tensor(&x, [2, c, h, h]),
        peer.tensor(&w, [co, c, 3, 3]),
        peer.tensor(&b, [co]),
        2,
        1,
    ));
    assert_agree("conv2d stride 2", &got, &want, 1e-4);

    let (c, hw) = (64, 36);
    let (x, g, b) = (values(2 * c * hw, 7), values(c, 8), values(c, 9));
    let got = read(
        ctx,
        group_norm::group_norm(
            ctx,
            &ours(ctx, &[2, c, hw], &x),
            &ours(ctx, &[c], &g),
            &ours(ctx, &[c], &b),
            32,
            1e-5,
            false,
        )
        .unwrap(),
    );
    let want = BurnPeer::read(BurnPeer::group_norm(
        peer.tensor(&x, [2, c, hw]),
        peer.tensor(&g, [c]),
        peer.tensor(&b, [c]),
        32,
        1e-5,
    ));
    assert_agree("group_norm", &got, &want, 1e-4);

    // burn wants [B, H, L, d]; ours keeps heads interleaved as [B, L, H*d].
    let (bsz, l, heads, d) = (2, 45, 2, 24);
    let (q, kk, v) = (
        values(bsz * l * heads * d, 10),
        values(bsz * l * heads * d, 11),
        values(bsz * l * heads * d, 12),
    );
    let got = read(
        ctx,
        attention::attention(
            ctx,
            &ours(ctx, &[bsz, l, heads * d], &q),
            &ours(ctx, &[bsz, l, heads * d], &kk),
            &ours(ctx, &[bsz, l, heads * d], &v),
            heads,
            1.0 / (d as f32).sqrt(),
            true,
        )
        .unwrap(),
    );
    let split = |t: &[f32]| peer.tensor(t, [bsz, l, heads, d]).swap_dims(1, 2);
    let want =
        BurnPeer::read(BurnPeer::attention(split(&q), split(&kk), split(&v), true).swap_dims(1, 2));
    assert_agree("causal attention", &got, &want, 1e-4);
}
