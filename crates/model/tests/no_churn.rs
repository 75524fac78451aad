//! A sampler step creates no GPU buffer and no bind group once the loop is
//! running (issue 15): one more step costs only dispatches. Checked on the
//! tiny model for the schedulers whose state differs most (PNDM's history
//! and saved sample, DPM++'s previous x0, Euler-ancestral's noise upload),
//! with and without watching (the page reads the latents back each step).

use roentgen_gpu::testing::fresh_test_context;
use roentgen_gpu::{Counters, DType, GpuContext};
use roentgen_model::{GivenNoise, GpuBackend, Model, Request, SchedulerKind};

fn counts(
    ctx: &GpuContext,
    model: &Model<GpuBackend>,
    steps: usize,
    kind: SchedulerKind,
    watch: bool,
) -> Counters {
    let req = Request {
        prompt: "small left apical pneumothorax".into(),
        negative: String::new(),
        steps,
        guidance: 4.0,
        scheduler: kind,
        seed: 3,
        latent_hw: (8, 8),
    };
    let before = ctx.stats.snapshot();
    pollster::block_on(model.generate(&req, GivenNoise::default(), watch, |_| true)).unwrap();
    ctx.stats.snapshot().since(&before)
}

/// Steps before the one counted: PNDM's history rotates through four
/// buffers, and its step kernel meets each arrangement once within ~8 steps
/// (after which its bind groups all come from the cache).
const STEPS: usize = 10;

#[test]
fn one_more_step_creates_nothing() {
    let ctx = fresh_test_context();
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/goldens/tiny-sd2/model"
    );
    let model =
        Model::load_dir(GpuBackend::new(&ctx, DType::F16), dir.as_ref(), |_, _| {}).unwrap();
    // The prompt's hidden states are kept between runs (a batch encodes
    // its prompt once): encode it here so that every counted run reuses them.
    counts(&ctx, &model, 1, SchedulerKind::Pndm, false);
    for (kind, watch) in [
        (SchedulerKind::Pndm, false),
        (SchedulerKind::DpmSolver2M, true),
        (SchedulerKind::EulerAncestral, false),
    ] {
        let (a, b) = (
            counts(&ctx, &model, STEPS, kind, watch),
            counts(&ctx, &model, STEPS + 1, kind, watch),
        );
        assert!(b.dispatches > a.dispatches, "{kind:?}");
        assert_eq!(
            b.buffers_created, a.buffers_created,
            "{kind:?} buffers: {a:?} then {b:?}"
        );
        assert_eq!(
            b.bind_groups_created, a.bind_groups_created,
            "{kind:?} bind groups: {a:?} then {b:?}"
        );
    }
    // Between images the pool is freed: nothing idles on the GPU.
    assert_eq!(ctx.memory.idle(), 0);
}
