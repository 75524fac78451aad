//! No submission may hold the GPU for long (a desktop OS resets one after
//! about two seconds): submissions end at a FLOP budget, and a convolution or
//! attention larger than the budget runs as several dispatches of whole
//! tiles. Here the budget is tiny, so small shapes are cut and split as a
//! 512x512 image is at the real one; each result against its reference on
//! every path, and a dry run (what `roentgen plan` reports) cuts where a real
//! run cuts.

mod common;

use common::*;
use roentgen_gpu::ops::attention::attention;
use roentgen_gpu::ops::conv2d::{Conv2dShape, conv2d};
use roentgen_gpu::ops::matmul::matmul;
use roentgen_gpu::testing::test_context_with_budget;
use roentgen_gpu::{DType, GpuContext, Tensor, reference};

/// Two 128-column tiles of the conv below (2 x 16 x 72 x 2 FLOPs a column).
const BUDGET: u64 = 600_000;

fn contexts() -> Vec<(GpuContext, DType)> {
    vec![
        (test_context_with_budget(BUDGET, true, false), DType::F32),
        (test_context_with_budget(BUDGET, true, false), DType::F16),
        (test_context_with_budget(BUDGET, false, false), DType::F16),
    ]
}

const CONV: Conv2dShape = Conv2dShape {
    batch: 2,
    cin: 8,
    h: 24,
    w: 24,
    cout: 16,
    kh: 3,
    kw: 3,
    stride: 1,
    pad: roentgen_gpu::ops::conv2d::Padding { begin: 1, end: 1 },
};

fn conv_inputs(ctx: &GpuContext, dtype: DType) -> (Vec<f32>, Vec<f32>, Tensor, Tensor) {
    let s = CONV;
    let mut r = rng(5);
    let x = random_vec(&mut r, s.batch * s.cin * s.h * s.w, 1.0);
    let w = random_vec(&mut r, s.cout * s.cin * 9, 0.5);
    let tx = upload(ctx, "x", &[s.batch, s.cin, s.h, s.w], &x, dtype);
    let tw = upload(ctx, "w", &[s.cout, s.cin, 3, 3], &w, dtype);
    (x, w, tx, tw)
}

#[test]
fn a_large_convolution_runs_as_dispatches_within_the_budget() {
    let s = CONV;
    let per_col = 2 * (s.cout * s.cin * 9) as u64;
    let cols = s.batch * s.h * s.w; // 1,152: 9 tiles of 128
    assert!(per_col * cols as u64 > 3 * BUDGET, "must need several runs");
    for (ctx, dtype) in contexts() {
        let (x, w, tx, tw) = conv_inputs(&ctx, dtype);
        ctx.flush();
        ctx.stats.take_peaks();
        let before = ctx.stats.snapshot();
        let out = conv2d(&ctx, &tx, &tw, None, 1, 1).unwrap();
        ctx.flush();
        let done = ctx.stats.snapshot().since(&before);
        let peaks = ctx.stats.take_peaks();
        // Runs of two tiles (256 columns): 1,152 columns take 5 dispatches.
        assert_eq!(done.dispatches, 5, "{dtype:?}");
        assert_eq!(done.flops, per_col * cols as u64);
        assert_eq!(peaks.dispatch_flops, 256 * per_col);
        assert!(peaks.submit_flops <= BUDGET, "{peaks:?}");
        assert!(done.submits >= 5, "one 2-tile run per submission");
        let want = reference::conv2d::conv2d(&as_stored(&x, dtype), &as_stored(&w, dtype), None, s);
        let (atol, rtol) = gemm_tol(dtype);
        let case = format!("conv2d in column runs, {:?}", ctx.path_for(dtype));
        assert_close(&case, &read(&ctx, &out), &want, atol, rtol);
    }
}

#[test]
fn a_large_product_runs_as_dispatches_of_whole_row_tiles() {
    let (batch, m, k, n) = (2, 300, 48, 32);
    let per_row = 2 * (batch * n * k) as u64;
    assert!(128 * per_row > BUDGET && 128 * per_row < 2 * BUDGET);
    for (ctx, dtype) in contexts() {
        let mut r = rng(7);
        let a = random_vec(&mut r, batch * m * k, 1.0);
        let b = random_vec(&mut r, n * k, 1.0);
        let ta = upload(&ctx, "a", &[batch, m, k], &a, dtype);
        let tb = upload(&ctx, "b", &[n, k], &b, dtype);
        ctx.flush();
        ctx.stats.take_peaks();
        let before = ctx.stats.snapshot();
        let out = matmul(&ctx, &ta, &tb, None, true).unwrap();
        ctx.flush();
        let done = ctx.stats.snapshot().since(&before);
        // One 128-row tile a dispatch: 300 rows take 3.
        assert_eq!(done.dispatches, 3, "{dtype:?}");
        assert_eq!(done.flops, per_row * m as u64);
        assert_eq!(ctx.stats.take_peaks().dispatch_flops, 128 * per_row);
        let want = reference::matmul::matmul(
            &as_stored(&a, dtype),
            &as_stored(&b, dtype),
            None,
            batch,
            m,
            k,
            n,
            true,
            false,
        );
        let (atol, rtol) = gemm_tol(dtype);
        let case = format!("matmul in row runs, {:?}", ctx.path_for(dtype));
        assert_close(&case, &read(&ctx, &out), &want, atol, rtol);
    }
}

#[test]
fn long_attention_runs_as_dispatches_of_whole_row_blocks() {
    let (b, lq, lk, heads, d) = (2, 384, 200, 2, 16);
    let inner = heads * d;
    let per_row = 4 * (lk * inner * b) as u64;
    for causal in [false, true] {
        for (ctx, dtype) in contexts() {
            let mut r = rng(9);
            let q = random_vec(&mut r, b * lq * inner, 1.0);
            let k = random_vec(&mut r, b * lk * inner, 1.0);
            let v = random_vec(&mut r, b * lk * inner, 1.0);
            let tq = upload(&ctx, "q", &[b, lq, inner], &q, dtype);
            let tk = upload(&ctx, "k", &[b, lk, inner], &k, dtype);
            let tv = upload(&ctx, "v", &[b, lk, inner], &v, dtype);
            ctx.flush();
            ctx.stats.take_peaks();
            let before = ctx.stats.snapshot();
            let scale = 1.0 / (d as f32).sqrt();
            let out = attention(&ctx, &tq, &tk, &tv, heads, scale, causal).unwrap();
            ctx.flush();
            let done = ctx.stats.snapshot().since(&before);
            let peaks = ctx.stats.take_peaks();
            // 128-row blocks, each over budget: one block a dispatch, alone
            // in its submission.
            assert!(128 * per_row > BUDGET);
            assert_eq!(done.dispatches, 3, "{dtype:?}");
            assert_eq!(done.flops, per_row * lq as u64);
            assert_eq!(peaks.dispatch_flops, 128 * per_row);
            assert_eq!(peaks.submit_flops, peaks.dispatch_flops);
            let want = reference::attention::attention(
                &as_stored(&q, dtype),
                &as_stored(&k, dtype),
                &as_stored(&v, dtype),
                b,
                lq,
                lk,
                heads,
                d,
                scale,
                causal,
            );
            let (atol, rtol) = tol(dtype);
            let case = format!("attention in row runs, causal {causal}, {dtype:?}");
            assert_close(&case, &read(&ctx, &out), &want, atol * 2.0, rtol);
        }
    }
}

/// Convolutions, a matmul and attention, as a block of the UNet runs them.
fn some_work(ctx: &GpuContext) {
    let (_, _, tx, tw) = conv_inputs(ctx, DType::F32);
    let y = conv2d(ctx, &tx, &tw, None, 1, 1).unwrap();
    let y = conv2d(ctx, &y, &upload_w(ctx, 16, 16), None, 1, 1).unwrap();
    let a = upload(ctx, "a", &[2, 64, 48], &vec![0.5; 2 * 64 * 48], DType::F32);
    let m = upload(ctx, "m", &[48, 32], &vec![0.25; 48 * 32], DType::F32);
    let h = matmul(ctx, &a, &m, None, false).unwrap();
    drop(attention(ctx, &h, &h, &h, 2, 0.25, false).unwrap());
    drop(y);
}

fn upload_w(ctx: &GpuContext, cout: usize, cin: usize) -> Tensor {
    let w = random_vec(&mut rng(3), cout * cin * 9, 0.2);
    upload(ctx, "w2", &[cout, cin, 3, 3], &w, DType::F32)
}

#[test]
fn a_dry_run_cuts_submissions_where_a_real_run_cuts_them() {
    let real = test_context_with_budget(BUDGET, true, false);
    let dry = test_context_with_budget(BUDGET, true, true);
    let mut seen = vec![];
    for ctx in [&real, &dry] {
        ctx.flush();
        ctx.stats.take_peaks();
        let before = ctx.stats.snapshot();
        some_work(ctx);
        ctx.flush();
        seen.push((ctx.stats.snapshot().since(&before), ctx.stats.take_peaks()));
    }
    let ((r, rp), (d, dp)) = (seen[0], seen[1]);
    assert_eq!(
        (r.dispatches, r.submits, r.flops),
        (d.dispatches, d.submits, d.flops)
    );
    assert_eq!(rp, dp);
    assert!(r.submits > 4, "the budget must cut: {r:?}");
}

#[test]
fn timed_submissions_account_for_every_flop() {
    let ctx = test_context_with_budget(BUDGET, true, false);
    ctx.time_submissions(true);
    let before = ctx.stats.snapshot();
    some_work(&ctx);
    let log = ctx.time_submissions(false);
    let done = ctx.stats.snapshot().since(&before);
    assert_eq!(log.len() as u64, done.submits);
    assert_eq!(log.iter().map(|s| s.flops).sum::<u64>(), done.flops);
    assert_eq!(
        log.iter().map(|s| s.dispatches as u64).sum::<u64>(),
        done.dispatches
    );
    assert!(log.iter().all(|s| s.secs > 0.0 && !s.first.is_empty()));
    assert!(ctx.time_submissions(false).is_empty(), "timing stays off");
}
