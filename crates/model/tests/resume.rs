//! A run taken up from a checkpoint on a freshly loaded model (what the page
//! does after a lost device) ends exactly where the uninterrupted run ends:
//! every sampler (PNDM and DPM-Solver++ carry memory between steps, Euler
//! ancestral draws noise per step), text to image and a masked edit, with
//! attention maps, on the CPU reference (and the two samplers with memory on
//! the GPU in f16).

mod common;

use common::{golden_dir, load};
use roentgen_gpu::DType;
use roentgen_gpu::testing::test_context;
use roentgen_model::{
    Backend, Checkpoint, CpuBackend, EditSource, GivenNoise, GpuBackend, Model, Output, Request,
    RunOptions, SchedulerKind,
};

const MODEL: &str = "tiny-sd2";
const STEPS: usize = 5;

fn request(scheduler: SchedulerKind, hw: (usize, usize)) -> Request {
    Request {
        prompt: "small left apical pneumothorax".into(),
        negative: String::new(),
        steps: STEPS,
        guidance: 4.0,
        scheduler,
        seed: 7,
        latent_hw: hw,
    }
}

const OPTS: RunOptions = RunOptions {
    watch: true,
    attention_maps: true,
    checkpoints: true,
};

/// A masked edit of a smooth gradient (the left half may change).
fn edit_source<B: Backend>(m: &Model<B>, (h, w): (usize, usize)) -> EditSource {
    let s = m.vae_scale();
    let (ih, iw) = (h * s, w * s);
    let image: Vec<f32> = (0..3 * ih * iw)
        .map(|i| ((i % iw) as f32 / iw as f32) * 1.6 - 0.8)
        .collect();
    let mask: Vec<f32> = (0..h * w).map(|i| f32::from(i % w < w / 2)).collect();
    let blend: Vec<f32> = (0..ih * iw).map(|i| f32::from(i % iw < iw / 2)).collect();
    EditSource {
        image,
        strength: 0.8,
        mask: Some(mask),
        blend: Some(blend),
    }
}

/// The whole run, and its checkpoint after step `at`.
fn whole<B: Backend>(
    m: &Model<B>,
    req: &Request,
    src: Option<&EditSource>,
    at: usize,
) -> (Output, Checkpoint) {
    let mut kept = None;
    let on_step = |s: roentgen_model::Step<'_>| {
        let c = s.checkpoint.expect("checkpoints were asked for");
        assert_eq!(c.done(), s.done);
        if s.done == at {
            kept = Some(c);
        }
        true
    };
    let out = match src {
        Some(src) => pollster::block_on(m.edit(req, src, GivenNoise::default(), OPTS, on_step)),
        None => pollster::block_on(m.generate(req, GivenNoise::default(), OPTS, on_step)),
    };
    (out.unwrap(), kept.expect("the run passed the step"))
}

fn check<B: Backend>(make: impl Fn() -> B, path: &str, schedulers: &[SchedulerKind]) {
    let first = load(make(), MODEL);
    let hw = first.default_latent_hw();
    for &scheduler in schedulers {
        for edit in [false, true] {
            let req = request(scheduler, hw);
            let src = edit.then(|| edit_source(&first, hw));
            // PNDM's memory fills over its first steps: resume before and after.
            for at in [1, 3] {
                let (expected, checkpoint) = whole(&first, &req, src.as_ref(), at);
                // A fresh load stands for the new device.
                let again = load(make(), MODEL);
                // PNDM's plan has a step more than asked for (PLMS's warm-up), an
                // edit fewer (strength).
                let mut steps = Vec::new();
                let mut total = 0;
                let resumed = pollster::block_on(again.resume(
                    checkpoint,
                    src.as_ref(),
                    GivenNoise::default(),
                    OPTS,
                    |s| {
                        steps.push(s.done);
                        total = s.total;
                        true
                    },
                ))
                .unwrap();
                let what = format!("[{path}] {scheduler:?} edit={edit} resumed after step {at}");
                assert!(total > at, "{what}: {total} steps");
                assert_eq!(steps, ((at + 1)..=total).collect::<Vec<_>>(), "{what}");
                assert_eq!(resumed.latents, expected.latents, "{what}: latents");
                assert_eq!(resumed.decoded, expected.decoded, "{what}: image");
                assert_eq!(resumed.attention, expected.attention, "{what}: maps");
                eprintln!("{what}: identical");
            }
        }
    }
}

#[test]
fn cpu_reference_resumes_exactly() {
    let all = [
        SchedulerKind::Pndm,
        SchedulerKind::DpmSolver2M,
        SchedulerKind::EulerAncestral,
        SchedulerKind::Ddim,
    ];
    check(|| CpuBackend, "cpu f32", &all);
}

#[test]
fn gpu_f16_resumes_exactly() {
    let ctx = test_context();
    // The two samplers with memory (the rest are covered on the CPU).
    let remembering = [SchedulerKind::Pndm, SchedulerKind::DpmSolver2M];
    check(|| GpuBackend::new(ctx, DType::F16), "gpu f16", &remembering);
}

#[test]
fn a_checkpoint_of_another_size_is_refused() {
    let m = load(CpuBackend, MODEL);
    let hw = m.default_latent_hw();
    let (_, mut checkpoint) = whole(&m, &request(SchedulerKind::DpmSolver2M, hw), None, 2);
    checkpoint.latents.pop();
    let err = pollster::block_on(m.resume(checkpoint, None, GivenNoise::default(), OPTS, |_| true))
        .err()
        .expect("a short checkpoint is refused");
    assert!(err.to_string().contains("latent values"), "{err}");
    assert!(golden_dir(MODEL).exists());
}
