//! A profile times every dispatch alone and sums by kernel family: the
//! families of the ops run appear with their dispatch counts, the counts add
//! up to what the context counted, the shares to one, and the results are
//! those of an unprofiled run (stamping a pass must not change its work).

mod common;

use common::*;
use roentgen_gpu::ops::conv2d::conv2d;
use roentgen_gpu::ops::elementwise::{Unary, unary};
use roentgen_gpu::ops::matmul::matmul;
use roentgen_gpu::profile::{Profile, Timer};
use roentgen_gpu::testing::fresh_test_context;
use roentgen_gpu::{DType, GpuContext, Tensor};

/// A small chain: a linear layer, SiLU on it, a padded 3x3 conv.
fn chain(ctx: &GpuContext, x: &Tensor, w: &Tensor, img: &Tensor, k: &Tensor) -> Vec<Vec<f32>> {
    let y = matmul(ctx, x, w, None, true).expect("matmul");
    let z = unary(ctx, Unary::Silu, &y).expect("silu");
    let c = conv2d(ctx, img, k, None, 1, 1).expect("conv2d");
    vec![read(ctx, &y), read(ctx, &z), read(ctx, &c)]
}

#[test]
fn a_profile_counts_every_dispatch_by_family_and_changes_no_result() {
    let ctx = fresh_test_context();
    let dtype = DType::F32;
    let mut r = rng(3);
    let x = upload(
        &ctx,
        "x",
        &[24, 32],
        &random_vec(&mut r, 24 * 32, 1.0),
        dtype,
    );
    let w = upload(
        &ctx,
        "w",
        &[16, 32],
        &random_vec(&mut r, 16 * 32, 0.3),
        dtype,
    );
    let img = upload(
        &ctx,
        "img",
        &[1, 4, 8, 8],
        &random_vec(&mut r, 4 * 64, 1.0),
        dtype,
    );
    let k = upload(
        &ctx,
        "k",
        &[6, 4, 3, 3],
        &random_vec(&mut r, 6 * 36, 0.3),
        dtype,
    );
    let plain = chain(&ctx, &x, &w, &img, &k);

    ctx.flush();
    let before = ctx.stats.snapshot();
    let (profiled, profile): (_, Profile) = ctx.profile(|| chain(&ctx, &x, &w, &img, &k));
    let counted = ctx.stats.snapshot().since(&before);
    assert_eq!(profiled, plain, "profiling changed a result");

    println!("{profile}");
    let families: Vec<&str> = profile.rows.iter().map(|r| r.family.as_str()).collect();
    for family in ["matmul", "elementwise", "conv2d"] {
        assert!(
            families.iter().any(|f| f.starts_with(family)),
            "{family} missing from {families:?}"
        );
    }
    assert_eq!(profile.dispatches as u64, counted.dispatches);
    // One dispatch per submission while profiling.
    assert_eq!(counted.submits, counted.dispatches);
    let share: f64 = profile.rows.iter().map(|r| r.share).sum();
    assert!((share - 1.0).abs() < 1e-9, "shares sum to {share}");
    assert!(profile.total_ms > 0.0);
    let matmul_row = profile
        .rows
        .iter()
        .find(|r| r.family.starts_with("matmul"))
        .expect("matmul row");
    assert!(matmul_row.gflops > 0.0, "the matmul declares its FLOPs");
    let expected_timer = match ctx.report.timestamp_query {
        true => Timer::GpuTimestamps,
        false => Timer::SubmissionWallTime,
    };
    assert_eq!(profile.timer, expected_timer);

    // Profiling off again: dispatches batch as before.
    let before = ctx.stats.snapshot();
    let _ = chain(&ctx, &x, &w, &img, &k);
    let after = ctx.stats.snapshot().since(&before);
    assert!(after.dispatches >= 3);
}
