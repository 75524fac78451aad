//! `random` writes exactly the architecture its configs describe, loads and
//! runs; `verify` passes it and names a flipped byte's shard or a tensor that
//! does not belong; the tokenizer built from vocab + merges reads like
//! transformers.

mod common;

use std::path::PathBuf;
use std::process::Command;

use roentgen_model::{CpuBackend, Model, Request, SchedulerKind};
use roentgen_weights::TensorDType;
use roentgen_weights::folder::{read_manifest, verify_dir};
use weights_tools::random::{arch_configs, table, write_random};

fn golden(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/goldens")
        .join(p)
}

fn tmp(name: &str) -> (tempfile::TempDir, PathBuf) {
    common::tmp(&format!("wt-random-{name}-"))
}

fn tiny(out: &std::path::Path, seed: u64, dtype: TensorDType) {
    let m = read_manifest(&golden("tiny-sd2/model")).unwrap();
    let tok = std::fs::read(golden("tiny-sd2/model/tokenizer.json")).unwrap();
    write_random(m.configs, &tok, out, dtype, 1 << 20, seed, |_, _| {}).unwrap();
}

#[test]
fn sd15_table_has_diffusers_parameter_counts() {
    // Counted from diffusers 0.42 / transformers 5.24 modules built from the
    // same configs (meta device): UNet 859,520,964; VAE decoder with
    // post_quant_conv 49,490,199; CLIP text encoder 123,060,480.
    let t = table(&arch_configs("sd-v1.5").unwrap()).unwrap();
    let count = |prefix: &str| -> usize {
        t.iter()
            .filter(|(n, _)| n.starts_with(prefix))
            .map(|(_, s)| s.iter().product::<usize>())
            .sum()
    };
    assert_eq!(count("unet."), 859_520_964);
    assert_eq!(count("vae."), 49_490_199);
    assert_eq!(count("text_encoder."), 123_060_480);
    assert!(arch_configs("sd-v9").is_err());
}

#[test]
fn random_model_verifies_loads_and_is_reproducible() {
    let (_a_dir, a) = tmp("a");
    tiny(&a, 5, TensorDType::F16);
    let m = verify_dir(&a, |_, _, _| {}).unwrap();
    let expected = table(&m.configs).unwrap();
    assert_eq!(m.tensors.len(), expected.len());
    let (_b_dir, b) = tmp("b");
    tiny(&b, 5, TensorDType::F16);
    assert_eq!(
        std::fs::read(a.join("shard-00000.bin")).unwrap(),
        std::fs::read(b.join("shard-00000.bin")).unwrap(),
        "same seed, same bytes"
    );
    let model = Model::load_dir(CpuBackend, &a, |_, _| {}).unwrap();
    let req = Request {
        prompt: "right pleural effusion".into(),
        negative: String::new(),
        steps: 1,
        guidance: 4.0,
        scheduler: SchedulerKind::Ddim,
        seed: 1,
        latent_hw: (8, 8),
    };
    let out = pollster::block_on(model.generate(
        &req,
        roentgen_model::GivenNoise::default(),
        false,
        |_| true,
    ))
    .unwrap();
    assert!(out.decoded.iter().all(|v| v.is_finite()));
    assert_eq!((out.width, out.height), (16, 16));
}

/// Every model in the repository passes `verify`, which checks by the
/// loader's table: the demo model and the goldens carry the VAE encoder.
#[test]
fn every_committed_model_verifies() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for dir in [
        "demo-model/model",
        "tests/goldens/tiny-sd2/model",
        "tests/goldens/tiny-sd4/model",
        "tests/goldens/tiny-v2/model",
    ] {
        common::verifies(&root.join(dir));
    }
}

#[test]
fn verify_names_a_flipped_byte_and_a_foreign_tensor() {
    let (_dir_dir, dir) = tmp("verify");
    tiny(&dir, 1, TensorDType::F32);
    let bin = env!("CARGO_BIN_EXE_weights-tools");
    let ok = Command::new(bin).arg("verify").arg(&dir).output().unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    let shard = dir.join("shard-00001.bin");
    let mut bytes = std::fs::read(&shard).unwrap();
    bytes[77] ^= 1;
    std::fs::write(&shard, &bytes).unwrap();
    let bad = Command::new(bin).arg("verify").arg(&dir).output().unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success());
    assert!(err.contains("shard-00001.bin"), "{err}");
    bytes[77] ^= 1;
    std::fs::write(&shard, &bytes).unwrap();

    // A manifest whose table names a tensor the architecture lacks.
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replacen("unet.conv_out.bias", "unet.conv_out.extra", 1),
    )
    .unwrap();
    let bad = Command::new(bin).arg("verify").arg(&dir).output().unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success());
    assert!(err.contains("unet.conv_out.extra: not part"), "{err}");
    assert!(err.contains("unet.conv_out.bias: missing"), "{err}");
}

/// A tokenizer.json rebuilt from vocab.json + merges.txt (as the converter
/// does for folders without one) reads every prompt like transformers.
#[test]
fn tokenizer_built_from_vocab_and_merges_matches_transformers() {
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(golden("tiny-sd2/model/tokenizer.json")).unwrap())
            .unwrap();
    let vocab = saved["model"]["vocab"].to_string();
    let merges: String = std::iter::once("#version: 0.2".to_string())
        .chain(
            saved["model"]["merges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| format!("{} {}", m[0].as_str().unwrap(), m[1].as_str().unwrap())),
        )
        .collect::<Vec<_>>()
        .join("\n");
    let built =
        weights_tools::clip_tokenizer::tokenizer_json(&vocab, &merges, "tokenizer").unwrap();
    let tok = roentgen_model::ClipTokenizer::from_bytes(built.as_bytes()).unwrap();
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(golden("tiny-sd2/golden.json")).unwrap()).unwrap();
    for case in meta["tokens"].as_array().unwrap() {
        let prompt = case["prompt"].as_str().unwrap();
        let ids: Vec<u64> = tok
            .encode(prompt)
            .unwrap()
            .ids
            .iter()
            .map(|&v| v as u64)
            .collect();
        let want: Vec<u64> = case["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(ids, want, "ids for {prompt:?}");
    }
    assert!(
        weights_tools::clip_tokenizer::tokenizer_json("{}", "", "tokenizer").is_err(),
        "not a CLIP vocabulary"
    );
    assert!(
        weights_tools::clip_tokenizer::tokenizer_json(&vocab, "a b c\n", "tokenizer").is_err(),
        "malformed merges"
    );
}
