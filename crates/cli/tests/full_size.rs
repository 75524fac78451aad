//! The full-size goldens: Stable Diffusion v1.5's graph at RoentGen's
//! size (every channel width of the real model) with seeded random weights,
//! written as a diffusers folder, converted to f16 and run by
//! `roentgen generate` at 64x128 with 2 DDIM steps, against what diffusers
//! output for the same folder (tests/goldens/full_size.py; only its few KB
//! are committed); and SD 2.1-base's (RoentGen-v2's: the 1024-wide,
//! 23-layer text encoder, "!" padding, linear projections, per-level heads)
//! the same way, without guidance. f32 (the same graph through the f32
//! kernels, proven at small widths by the tiny goldens on every path) runs
//! too when FULL_SIZE_F32=1: another 2.6 minutes here. Ignored by plain
//! `cargo test`: each writes 2-2.6 GB of weights plus their conversions and
//! runs the full UNet; scripts/full-size-golden.sh runs them from the test
//! build (its weight and conversion crates are optimised there too), as
//! scripts/test.sh does in CI.

mod common;

use std::time::Instant;

use common::{ok, read_npy, rel_l2, roentgen, root, tmp, write_npy};
use safetensors::SafeTensors;

fn golden(name: &str) -> (Vec<u8>, serde_json::Value) {
    let dir = root().join("tests/goldens").join(name);
    (
        std::fs::read(dir.join("golden.safetensors")).unwrap(),
        serde_json::from_slice(&std::fs::read(dir.join("golden.json")).unwrap()).unwrap(),
    )
}

fn f32s(st: &SafeTensors, key: &str) -> Vec<f32> {
    st.tensor(key)
        .unwrap()
        .data()
        .chunks(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// The PNG's RGB8 pixels in [0, 1], average-pooled `pool`x`pool`, as
/// [3, h/pool, w/pool] planes (the golden's layout).
fn pooled_png(path: &std::path::Path, pool: usize) -> Vec<f32> {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let (w, h) = (info.width as usize, info.height as usize);
    let (pw, ph) = (w / pool, h / pool);
    let mut out = vec![0f32; 3 * pw * ph];
    for c in 0..3 {
        for y in 0..ph {
            for x in 0..pw {
                let mut s = 0.0;
                for dy in 0..pool {
                    for dx in 0..pool {
                        s += buf[((y * pool + dy) * w + x * pool + dx) * 3 + c] as f32;
                    }
                }
                out[(c * ph + y) * pw + x] = s / (255.0 * (pool * pool) as f32);
            }
        }
    }
    out
}

#[test]
#[ignore = "full size: 2 GB of weights, minutes on lavapipe; run by scripts/full-size-golden.sh"]
fn full_size_sd15_matches_diffusers() {
    if std::env::var_os("FULL_SIZE_F32").is_some_and(|v| v == "1") {
        matches_diffusers("sd15-full", &["f16", "f32"]);
    } else {
        matches_diffusers("sd15-full", &["f16"]);
    }
}

#[test]
#[ignore = "full size: 2.6 GB of weights, minutes on lavapipe; run by scripts/full-size-golden.sh"]
fn full_size_sd21_base_matches_diffusers() {
    // f16 only: the f32 path is the same code (SD v1.5's with FULL_SIZE_F32=1).
    matches_diffusers("sd21-base-full", &["f16"]);
}

/// The golden in tests/goldens/`name` against our conversion and run of the
/// same random folder in each of `precisions`.
fn matches_diffusers(name: &str, precisions: &[&str]) {
    let (bytes, meta) = golden(name);
    let arch = meta["arch"].as_str().unwrap_or("sd-v1.5");
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let (height, width) = (
        meta["height"].as_u64().unwrap() as usize,
        meta["width"].as_u64().unwrap() as usize,
    );
    let pool = meta["pool"].as_u64().unwrap() as usize;
    let steps = meta["steps"].as_u64().unwrap().to_string();
    let (_work_dir, work) = tmp("full-size");
    std::fs::create_dir_all(&work).unwrap();

    let t0 = Instant::now();
    let src = work.join("diffusers");
    let tokenizer =
        std::fs::read_to_string(root().join("tests/goldens/tiny-sd2/model/tokenizer.json"))
            .unwrap();
    let configs = weights_tools::random::arch_configs(arch).unwrap();
    // The family's padding, as `weights-tools random` writes it.
    let tokenizer =
        weights_tools::random::family_tokenizer(&configs, &tokenizer, "tokenizer").unwrap();
    weights_tools::random::write_random_diffusers(
        configs,
        &tokenizer,
        &src,
        safetensors::Dtype::F16,
        0,
    )
    .unwrap();
    println!(
        "wrote the full-size {arch} diffusers folder in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let init = work.join("init.npy");
    write_npy(
        &init,
        &[1, 4, height / 8, width / 8],
        &f32s(&st, "init.latents"),
    );
    let want_latents = f32s(&st, &format!("run.ddim.{steps}.latents"));
    let want_image = f32s(&st, &format!("run.ddim.{steps}.image_pooled"));

    // (precision, latents rel L2, pooled image MAE): the tiny goldens'
    // tolerances (crates/model/tests/goldens.rs).
    for (precision, dtype, latents_tol, image_tol) in [
        ("f16", roentgen_weights::TensorDType::F16, 3e-2, 4.0 / 255.0),
        ("f32", roentgen_weights::TensorDType::F32, 1e-3, 1.0 / 255.0),
    ]
    .into_iter()
    .filter(|(p, ..)| precisions.contains(p))
    {
        let t = Instant::now();
        let model = work.join(format!("model-{precision}"));
        roentgen_convert::convert(
            &src,
            &model,
            &roentgen_convert::ConvertOptions {
                dtype,
                shard_bytes: 32 << 20,
                keep_encoder: false,
            },
            |_| {},
        )
        .unwrap();
        let converted = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let latents = work.join(format!("latents-{precision}.npy"));
        let png = work.join(format!("image-{precision}.png"));
        ok(&roentgen(&[
            "generate",
            "--model",
            model.to_str().unwrap(),
            "--prompt",
            meta["prompt"].as_str().unwrap(),
            "--negative",
            meta["negative"].as_str().unwrap(),
            "--guidance",
            &meta["guidance"].to_string(),
            "--steps",
            &steps,
            "--scheduler",
            "ddim",
            "--precision",
            precision,
            "--init-latents",
            init.to_str().unwrap(),
            "--save-latents",
            latents.to_str().unwrap(),
            "--out",
            png.to_str().unwrap(),
        ]));
        let generated = t.elapsed().as_secs_f64();
        let l2 = rel_l2(&read_npy(&latents), &want_latents);
        let got = pooled_png(&png, pool);
        let mae = got
            .iter()
            .zip(&want_image)
            .map(|(a, b)| (a - b).abs() as f64)
            .sum::<f64>()
            / got.len() as f64;
        println!(
            "[full size {arch} {precision}] converted in {converted:.1} s, generated in {generated:.1} s: \
             latents rel L2 {l2:.2e} (limit {latents_tol:.0e}), pooled image MAE {mae:.2e} (limit {image_tol:.2e})"
        );
        assert!(l2 <= latents_tol, "{precision}: latents rel L2 {l2}");
        // The PNG rounds to 1/255, pooling averages that out: half a level.
        assert!(
            mae <= image_tol + 0.5 / 255.0,
            "{precision}: image MAE {mae}"
        );
        std::fs::remove_dir_all(&model).unwrap();
    }
}
