//! Per-word attention maps on the tiny model: the GPU's (f32 and f16) equal
//! the CPU reference path's, the prompt splits into CLIP's words, and each
//! pixel's mass over the prompt's words is a probability (at most 1, the rest
//! on the start, end and padding tokens).

mod common;

use common::{golden_dir, goldens, meta, rel_l2};
use roentgen_gpu::DType;
use roentgen_gpu::testing::test_context;
use roentgen_model::attention_maps::AttentionMaps;
use roentgen_model::{
    Backend, CpuBackend, GivenNoise, GpuBackend, Model, Request, RunOptions, SchedulerKind,
};

fn maps<B: Backend>(backend: B, guidance: f32) -> AttentionMaps {
    let m = Model::load_dir(backend, &golden_dir("tiny-sd2").join("model"), |_, _| {}).unwrap();
    let g = goldens("tiny-sd2");
    let meta = meta("tiny-sd2");
    let init = &g["init.latents"];
    let req = Request {
        prompt: meta["prompt"].as_str().unwrap().into(),
        negative: meta["negative"].as_str().unwrap().into(),
        steps: 3,
        guidance,
        scheduler: SchedulerKind::Ddim,
        seed: 0,
        latent_hw: (init.0[2], init.0[3]),
    };
    let opts = RunOptions {
        watch: false,
        attention_maps: true,
        checkpoints: false,
    };
    let out =
        pollster::block_on(m.generate(&req, GivenNoise::initial(init.1.clone()), opts, |_| true))
            .unwrap();
    out.attention.expect("maps were asked for")
}

fn flat(m: &AttentionMaps) -> Vec<f32> {
    m.steps.iter().flatten().flatten().copied().collect()
}

#[test]
fn gpu_maps_match_the_cpu_reference_path() {
    let cpu = maps(CpuBackend, 4.0);
    let words: Vec<&str> = cpu.words.iter().map(|w| w.text.as_str()).collect();
    assert_eq!(words, ["small", "left", "apical", "pneumothorax"]);
    // "pneumothorax" is more than one BPE token; positions follow BOS.
    assert_eq!(cpu.words[0].tokens, [1]);
    assert!(cpu.words[3].tokens.len() > 1, "{:?}", cpu.words[3]);
    assert_eq!(cpu.steps.len(), 3);
    assert_eq!(cpu.latent_hw, (8, 8));
    for step in &cpu.steps {
        for px in 0..64 {
            let total: f32 = step.iter().map(|w| w[px]).sum();
            assert!(total > 0.0 && total <= 1.0 + 1e-5, "pixel {px}: {total}");
        }
    }
    let ctx = test_context();
    for (dtype, limit) in [(DType::F32, 1e-4), (DType::F16, 2e-2)] {
        let gpu = maps(GpuBackend::new(ctx, dtype), 4.0);
        assert_eq!(gpu.words, cpu.words);
        let err = rel_l2(&flat(&gpu), &flat(&cpu));
        eprintln!("[attention maps] gpu {dtype:?} vs cpu: rel L2 {err:.2e} (limit {limit:.0e})");
        assert!(err <= limit, "{dtype:?}: {err}");
    }
    // The mean is the mean of the steps.
    let mean0 = cpu.mean[1][10];
    let by_hand = cpu.steps.iter().map(|s| s[1][10]).sum::<f32>() / 3.0;
    assert!((mean0 - by_hand).abs() < 1e-6);
}

#[test]
fn without_guidance_the_only_batch_item_is_mapped() {
    let m = maps(CpuBackend, 1.0);
    assert_eq!(m.words.len(), 4);
    assert!(flat(&m).iter().all(|v| v.is_finite() && *v >= 0.0));
}
