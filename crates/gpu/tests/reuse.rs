//! Buffer and bind group reuse (src/residency.rs): pooled buffers come back
//! for the same size, a host write into a reused buffer never reaches ops
//! recorded before it, and repeating the same ops creates nothing.

use roentgen_gpu::ops::elementwise::{self, Binary, Unary};
use roentgen_gpu::testing::fresh_test_context;
use roentgen_gpu::{DType, Tensor};

fn read(ctx: &roentgen_gpu::GpuContext, t: &Tensor) -> Vec<f32> {
    pollster::block_on(t.to_f32(ctx)).unwrap()
}

#[test]
fn a_reused_input_buffer_does_not_reach_ops_recorded_before() {
    let ctx = fresh_test_context();
    let x = Tensor::input(&ctx, "x", &[4], &[1.0, 2.0, 3.0, 4.0], DType::F32).unwrap();
    // Recorded, not submitted (fewer than a batch of dispatches).
    let y = elementwise::unary(&ctx, Unary::Scale(2.0), &x).unwrap();
    let first = x.buffer.clone();
    drop(x);
    let z = Tensor::input(&ctx, "z", &[4], &[9.0; 4], DType::F32).unwrap();
    assert_eq!(
        z.buffer, first,
        "same size: the dropped input's buffer is reused"
    );
    assert_eq!(read(&ctx, &y), [2.0, 4.0, 6.0, 8.0]);
    assert_eq!(read(&ctx, &z), [9.0; 4]);
}

#[test]
fn repeating_the_same_ops_creates_no_buffers_or_bind_groups() {
    let ctx = fresh_test_context();
    let w = Tensor::from_f32(&ctx, "w", &[64], &[0.5; 64], DType::F16).unwrap();
    let step = |x: Tensor| {
        let a = elementwise::unary(&ctx, Unary::Silu, &x).unwrap();
        let b = elementwise::binary(&ctx, Binary::Mul, &a, &w).unwrap();
        let c = elementwise::binary(&ctx, Binary::Add, &b, &x).unwrap();
        drop((a, b));
        c
    };
    let mut x = Tensor::input(&ctx, "x", &[64], &[1.0; 64], DType::F16).unwrap();
    let mut expected = vec![1.0f32; 64];
    for _ in 0..3 {
        x = step(x);
        expected = expected
            .iter()
            .map(|&v| v + 0.5 * v / (1.0 + (-v).exp()))
            .collect();
    }
    let before = ctx.stats.snapshot();
    for _ in 0..5 {
        x = step(x);
        expected = expected
            .iter()
            .map(|&v| v + 0.5 * v / (1.0 + (-v).exp()))
            .collect();
    }
    let c = ctx.stats.snapshot().since(&before);
    assert_eq!(c.dispatches, 15);
    assert_eq!((c.buffers_created, c.bind_groups_created), (0, 0), "{c:?}");
    let got = read(&ctx, &x);
    for (g, e) in got.iter().zip(&expected) {
        assert!((g - e).abs() < 0.05 * e.abs(), "{g} vs {e}");
    }
}

#[test]
fn dropping_a_weight_frees_it_and_its_bind_groups() {
    let ctx = fresh_test_context();
    let live = ctx.memory.live();
    let w = Tensor::from_f32(&ctx, "w", &[256], &[1.0; 256], DType::F32).unwrap();
    let x = Tensor::input(&ctx, "x", &[256], &[2.0; 256], DType::F32).unwrap();
    let y = elementwise::binary(&ctx, Binary::Mul, &x, &w).unwrap();
    assert_eq!(read(&ctx, &y)[0], 2.0);
    let cached = ctx.cached_bind_groups();
    assert!(cached >= 1);
    drop(w);
    assert_eq!(
        ctx.cached_bind_groups(),
        cached - 1,
        "the bind group naming w is gone"
    );
    drop((x, y));
    assert!(ctx.memory.idle() > 0, "outputs and inputs wait in the pool");
    ctx.reuse_buffers(false);
    assert_eq!(ctx.memory.idle(), 0);
    assert_eq!(ctx.memory.live(), live, "everything freed");
    ctx.reuse_buffers(true);
}
