//! The architecture table derived from the configs is exactly what diffusers
//! saved for both tiny models, and a table that differs is refused by name.

mod common;

use common::golden_dir;
use roentgen_model::arch;
use roentgen_model::config::{TextConfig, UnetConfig, VaeConfig};
use roentgen_weights::folder::read_manifest;

/// The text-to-image table plus the VAE encoder (the tiny models hold it).
fn table(model: &str) -> (arch::Table, roentgen_weights::Manifest) {
    let m = read_manifest(&golden_dir(model).join("model")).unwrap();
    let vae = VaeConfig::from_json(&m.configs["vae"]).unwrap();
    let mut expected = arch::expected(
        &TextConfig::from_json(&m.configs["text_encoder"]).unwrap(),
        &UnetConfig::from_json(&m.configs["unet"]).unwrap(),
        &vae,
    );
    expected.extend(arch::vae_encoder(&vae));
    (expected, m)
}

#[test]
fn configs_predict_every_tensor_diffusers_saved() {
    for model in ["tiny-sd2", "tiny-sd4"] {
        let (expected, m) = table(model);
        let problems = arch::compare(
            &expected,
            m.tensors
                .iter()
                .map(|t| (t.name.as_str(), t.shape.as_slice())),
        );
        assert!(problems.is_empty(), "{model}: {problems:#?}");
        assert_eq!(expected.len(), m.tensors.len());
    }
}

#[test]
fn differences_are_named() {
    let (expected, m) = table("tiny-sd2");
    let mut actual: Vec<(String, Vec<usize>)> = m
        .tensors
        .iter()
        .map(|t| (t.name.clone(), t.shape.clone()))
        .filter(|(n, _)| n != "unet.conv_out.bias")
        .collect();
    actual[0].1 = vec![7, 7];
    actual.push(("unet.extra.weight".into(), vec![2]));
    let problems = arch::compare(
        &expected,
        actual.iter().map(|(n, s)| (n.as_str(), s.as_slice())),
    );
    let text = problems.join("\n");
    assert_eq!(problems.len(), 3, "{text}");
    assert!(text.contains("unet.conv_out.bias: missing"), "{text}");
    assert!(text.contains("unet.extra.weight: not part"), "{text}");
    assert!(
        text.contains(&format!("{}: shape [7, 7]", actual[0].0)),
        "{text}"
    );
}

/// The encoder is optional but whole: a model without any of it passes, one
/// with part of it is refused naming what is missing.
#[test]
fn the_vae_encoder_is_all_or_nothing() {
    let m = read_manifest(&golden_dir("tiny-sd2").join("model")).unwrap();
    let spec = roentgen_model::Spec::from_configs(&m.configs).unwrap();
    let all: Vec<(&str, &[usize])> = m
        .tensors
        .iter()
        .map(|t| (t.name.as_str(), t.shape.as_slice()))
        .collect();
    spec.check_table(all.iter().copied()).unwrap();
    let without = all
        .iter()
        .copied()
        .filter(|(n, _)| !arch::is_vae_encoder(n));
    spec.check_table(without).unwrap();
    let partial = all
        .iter()
        .copied()
        .filter(|(n, _)| *n != "vae.quant_conv.weight");
    let err = spec.check_table(partial).unwrap_err().to_string();
    assert!(err.contains("vae.quant_conv.weight: missing"), "{err}");
}
