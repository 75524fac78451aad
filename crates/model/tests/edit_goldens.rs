//! Editing a real radiograph against diffusers (tests/goldens/edit_goldens.py):
//! the VAE encoder's moments, `StableDiffusionImg2ImgPipeline` runs for every
//! scheduler at two strengths (Euler ancestral with the script's step noise;
//! PNDM also started on its repeated timestep), and masked runs (the
//! inpainting pipeline's loop for a 4-channel UNet, strength 1 included), on
//! the CPU reference path and on the GPU in f32 and f16, with text-to-image's
//! tolerances. Euler ancestral's *text-to-image* runs are here too: like its
//! edits they need the step noise the script hands diffusers.

mod common;

use common::{
    F16, F32, Tolerance, golden_dir, golden_tensors, image01, load, mae, meta_file, print, read,
    rel_l2,
};
use roentgen_gpu::DType;
use roentgen_gpu::testing::test_context;
use roentgen_model::{
    Backend, CpuBackend, EditSource, GivenNoise, GpuBackend, Model, Request, SchedulerKind,
};

fn check<B: Backend>(
    m: &Model<B>,
    model: &str,
    tol: &Tolerance,
    runs: impl Fn(&str, &str) -> bool,
) -> Vec<String> {
    let g = golden_tensors(model, "edit.safetensors");
    let meta = meta_file(model, "edit.json");
    let b = &m.backend;
    let mut report = Vec::new();
    let mut expect = |what: String, err: f64, limit: f64| {
        report.push(format!("{model} {what}: {err:.2e} (limit {limit:.0e})"));
        assert!(
            err <= limit,
            "{model} {what}: {err:.3e} > {limit:.0e} on {}",
            b.describe()
        );
    };
    let (ishape, image) = &g["edit.image"];
    let x = b.upload("image", ishape, image).unwrap();
    let moments = m
        .encoder
        .as_ref()
        .expect("the tiny models hold the encoder")
        .forward(b, &m.weights, &x)
        .unwrap();
    expect(
        "vae encoder rel L2".into(),
        rel_l2(&read(b, &moments), &g["edit.moments"].1),
        tol.parts,
    );
    let (nshape, noise) = &g["edit.noise"];
    let mask = &g["edit.mask"].1;
    // Euler ancestral's noise for each step taken, as the script gave diffusers.
    let (sshape, snoise) = &g["edit.step_noise"];
    let per_step = sshape[1..].iter().product::<usize>();
    let step_noise: Vec<Vec<f32>> = snoise.chunks(per_step).map(<[f32]>::to_vec).collect();
    let mut ran = 0;
    for run in meta["runs"].as_array().unwrap() {
        let kind = run["kind"].as_str().unwrap();
        let name = run["scheduler"].as_str().unwrap();
        if !runs(kind, name) {
            continue;
        }
        ran += 1;
        let steps = run["steps"].as_u64().unwrap() as usize;
        let req = Request {
            prompt: meta["prompt"].as_str().unwrap().into(),
            negative: meta["negative"].as_str().unwrap().into(),
            steps,
            guidance: meta["guidance"].as_f64().unwrap() as f32,
            scheduler: SchedulerKind::from_name(name).unwrap(),
            seed: 0,
            latent_hw: (nshape[2], nshape[3]),
        };
        let given = GivenNoise {
            initial: Some(noise.clone()),
            per_step: (name == "euler-a").then(|| step_noise.clone()),
        };
        let (out, key, label) = if kind == "txt2img" {
            let out = pollster::block_on(m.generate(&req, given, false, |_| true));
            let key = format!("{kind}.{name}.{steps}");
            (out, key, format!("{kind} {name} {steps} steps"))
        } else {
            let strength = run["strength"].as_f64().unwrap();
            let src = EditSource {
                image: image.clone(),
                strength,
                mask: (kind == "masked").then(|| mask.clone()),
                blend: None,
            };
            let out = pollster::block_on(m.edit(&req, &src, given, false, |_| true));
            let key = format!("{kind}.{name}.{steps}.{strength:?}");
            let label = format!("{kind} {name} {steps} steps strength {strength}");
            (out, key, label)
        };
        let out = out.unwrap();
        expect(
            format!("{label} latents rel L2"),
            rel_l2(&out.latents, &g[&format!("{key}.latents")].1),
            tol.latents,
        );
        expect(
            format!("{label} image MAE"),
            mae(&image01(&out.decoded), &g[&format!("{key}.image")].1),
            tol.image_mae,
        );
    }
    assert!(ran > 0, "{model}: the run filter matches no recorded run");
    report
}

#[test]
fn cpu_reference_edits_match_diffusers() {
    let m = load(CpuBackend, "tiny-sd2");
    print("cpu f32", &check(&m, "tiny-sd2", &F32, |_, _| true));
    let m = load(CpuBackend, "tiny-sd4");
    print("cpu f32", &check(&m, "tiny-sd4", &F32, |_, _| true));
}

#[test]
fn gpu_f32_edits_match_diffusers() {
    let ctx = test_context();
    let m = load(GpuBackend::new(ctx, DType::F32), "tiny-sd2");
    print("gpu f32", &check(&m, "tiny-sd2", &F32, |_, _| true));
    let m = load(GpuBackend::new(ctx, DType::F32), "tiny-sd4");
    print("gpu f32", &check(&m, "tiny-sd4", &F32, |_, _| true));
}

#[test]
fn gpu_f16_edits_match_diffusers() {
    let ctx = test_context();
    let m = load(GpuBackend::new(ctx, DType::F16), "tiny-sd2");
    print("gpu f16", &check(&m, "tiny-sd2", &F16, |_, _| true));
    let m = load(GpuBackend::new(ctx, DType::F16), "tiny-sd4");
    print("gpu f16", &check(&m, "tiny-sd4", &F16, |_, _| true));
}

#[test]
fn a_model_without_the_encoder_refuses_to_edit() {
    let dir = tempfile::tempdir().unwrap();
    let src = golden_dir("tiny-sd2").join("model");
    let manifest = roentgen_weights::folder::read_manifest(&src).unwrap();
    let shards: Vec<Vec<u8>> = manifest
        .shards
        .iter()
        .map(|s| std::fs::read(src.join(&s.file)).unwrap())
        .collect();
    let mut w = roentgen_weights::writer::ShardWriter::new(32 << 20);
    for t in manifest
        .tensors
        .iter()
        .filter(|t| !roentgen_model::arch::is_vae_encoder(&t.name))
    {
        let d = &t.data;
        let bytes = &shards[d.shard][d.offset as usize..(d.offset + d.length) as usize];
        w.add(&t.name, t.dtype, &t.shape, bytes, None).unwrap();
    }
    let (m2, files) = w
        .finish(
            &manifest.model_kind,
            manifest.configs.clone(),
            &manifest.tokenizer,
        )
        .unwrap();
    roentgen_weights::folder::write_dir(dir.path(), &m2, &files).unwrap();
    std::fs::copy(
        src.join(&manifest.tokenizer),
        dir.path().join(&manifest.tokenizer),
    )
    .unwrap();
    let m = Model::load_dir(CpuBackend, dir.path(), |_, _| {}).unwrap();
    assert!(m.encoder.is_none());
    let req = Request {
        prompt: "x".into(),
        negative: String::new(),
        steps: 2,
        guidance: 1.0,
        scheduler: SchedulerKind::Ddim,
        seed: 1,
        latent_hw: (8, 8),
    };
    let src = EditSource {
        image: vec![0.0; 3 * 16 * 16],
        strength: 0.5,
        mask: None,
        blend: None,
    };
    let err = pollster::block_on(m.edit(&req, &src, GivenNoise::default(), false, |_| true))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("no VAE encoder"), "{err}");
}

#[test]
fn given_noise_of_the_wrong_size_is_refused() {
    let m = load(CpuBackend, "tiny-sd2");
    let req = Request {
        prompt: "x".into(),
        negative: String::new(),
        steps: 2,
        guidance: 1.0,
        scheduler: SchedulerKind::EulerAncestral,
        seed: 1,
        latent_hw: (8, 8),
    };
    let n = 4 * 8 * 8;
    let refused = |given: GivenNoise| {
        pollster::block_on(m.generate(&req, given, false, |_| true))
            .err()
            .expect("refused")
            .to_string()
    };
    let err = refused(GivenNoise::initial(vec![0.0; 3]));
    assert!(err.contains("the initial noise holds 3 values"), "{err}");
    assert!(err.contains("[1, 4, 8, 8] needs 256"), "{err}");
    let err = refused(GivenNoise {
        initial: Some(vec![0.0; n]),
        per_step: Some(vec![vec![0.0; n], vec![0.0; n - 1]]),
    });
    assert!(
        err.contains("a step's given noise holds 255 values"),
        "{err}"
    );
    // The right sizes run.
    let ok = GivenNoise {
        initial: Some(vec![0.0; n]),
        per_step: Some(vec![vec![0.0; n]; 2]),
    };
    assert!(pollster::block_on(m.generate(&req, ok, false, |_| true)).is_ok());
}
