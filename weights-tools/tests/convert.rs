//! `convert` on a small diffusers-shaped folder written here with the
//! safetensors crate: names fixed, encoder dropped, types cast, output verifies.

mod common;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use roentgen_weights::TensorDType;
use roentgen_weights::folder::{read_manifest, verify_dir};
use safetensors::{Dtype, serialize, tensor::TensorView};
use weights_tools::convert::{ConvertOptions, convert, normalize_name};

fn tmp(name: &str) -> (tempfile::TempDir, PathBuf) {
    common::tmp(&format!("roentgen-convert-{name}-"))
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn write_st(path: &Path, tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)]) {
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.to_string(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    fs::write(
        path,
        serialize(views, None::<HashMap<String, String>>).unwrap(),
    )
    .unwrap();
}

/// A fresh source folder per call: tests run in parallel and must not share one.
fn diffusers_folder() -> (tempfile::TempDir, PathBuf) {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (guard, root) = tmp(&format!("src{n}"));
    for c in [
        "text_encoder",
        "unet",
        "vae",
        "scheduler",
        "tokenizer",
        "safety_checker",
    ] {
        fs::create_dir_all(root.join(c)).unwrap();
    }
    for c in ["text_encoder", "unet", "vae"] {
        fs::write(
            root.join(c).join("config.json"),
            format!("{{\"component\": \"{c}\"}}"),
        )
        .unwrap();
    }
    fs::write(
        root.join("scheduler/scheduler_config.json"),
        r#"{"_class_name": "PNDMScheduler"}"#,
    )
    .unwrap();
    fs::write(root.join("tokenizer/tokenizer.json"), r#"{"model": {}}"#).unwrap();
    let te_w: Vec<f32> = (0..12).map(|i| i as f32 * 0.25).collect();
    write_st(
        &root.join("text_encoder/model.safetensors"),
        &[
            (
                "text_model.final_layer_norm.weight",
                Dtype::F32,
                vec![12],
                f32_bytes(&te_w),
            ),
            (
                "text_model.embeddings.position_ids",
                Dtype::I64,
                vec![1, 2],
                vec![0; 16],
            ),
        ],
    );
    let bf: Vec<u8> = [1.5f32, -2.0]
        .iter()
        .flat_map(|v| half::bf16::from_f32(*v).to_le_bytes())
        .collect();
    write_st(
        &root.join("unet/diffusion_pytorch_model.safetensors"),
        &[("conv_in.bias", Dtype::BF16, vec![2], bf)],
    );
    // A variant that must be ignored beside the plain file.
    write_st(
        &root.join("unet/diffusion_pytorch_model.fp16.safetensors"),
        &[("ignored.bias", Dtype::F32, vec![2], f32_bytes(&[0.0, 0.0]))],
    );
    write_st(
        &root.join("vae/diffusion_pytorch_model.safetensors"),
        &[
            (
                "decoder.mid_block.attentions.0.query.weight",
                Dtype::F32,
                vec![2, 2, 1, 1],
                f32_bytes(&[1.0, 2.0, 3.0, 4.0]),
            ),
            (
                "decoder.mid_block.attentions.0.proj_attn.bias",
                Dtype::F32,
                vec![2],
                f32_bytes(&[0.5, 0.25]),
            ),
            (
                "encoder.conv_in.weight",
                Dtype::F32,
                vec![2],
                f32_bytes(&[9.0, 9.0]),
            ),
            (
                "quant_conv.weight",
                Dtype::F32,
                vec![2],
                f32_bytes(&[9.0, 9.0]),
            ),
            (
                "post_quant_conv.bias",
                Dtype::F32,
                vec![2],
                f32_bytes(&[7.0, 8.0]),
            ),
        ],
    );
    write_st(
        &root.join("safety_checker/model.safetensors"),
        &[("x", Dtype::F32, vec![2], f32_bytes(&[0.0, 0.0]))],
    );
    (guard, root)
}

#[test]
fn converts_names_types_and_drops_what_text_to_image_does_not_need() {
    let (_src_dir, src) = diffusers_folder();
    let (_out_dir, out) = tmp("out");
    let opts = ConvertOptions {
        dtype: TensorDType::F16,
        shard_bytes: 64,
        keep_encoder: false,
    };
    let summary = convert(&src, &out, &opts, |_| {}).unwrap();
    assert_eq!(
        summary["text_encoder"].skipped,
        vec!["text_model.embeddings.position_ids".to_string()]
    );
    let m = verify_dir(&out, |_, _, _| {}).unwrap();
    assert_eq!(m, read_manifest(&out).unwrap());
    let names: Vec<&str> = m.tensors.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "text_encoder.final_layer_norm.weight",
            "unet.conv_in.bias",
            // Table order follows the source names: proj_attn sorts before query.
            "vae.decoder.mid_block.attentions.0.to_out.0.bias",
            "vae.decoder.mid_block.attentions.0.to_q.weight",
            "vae.post_quant_conv.bias",
        ]
    );
    let q = m
        .tensors
        .iter()
        .find(|t| t.name.ends_with("to_q.weight"))
        .unwrap();
    assert_eq!(
        q.shape,
        vec![2, 2],
        "1x1 conv attention weight becomes linear"
    );
    assert!(m.tensors.iter().all(|t| t.dtype == TensorDType::F16));
    assert_eq!(m.configs["scheduler"]["_class_name"], "PNDMScheduler");
    assert_eq!(m.configs["vae"]["component"], "vae");
    assert!(out.join("tokenizer.json").exists());
    // bf16 [1.5, -2.0] -> f16 bytes, exactly.
    let t = m
        .tensors
        .iter()
        .find(|t| t.name == "unet.conv_in.bias")
        .unwrap();
    let shard = fs::read(out.join(&m.shards[t.data.shard].file)).unwrap();
    let bytes = &shard[t.data.offset as usize..][..4];
    let got: Vec<f32> = bytes
        .chunks(2)
        .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
        .collect();
    assert_eq!(got, vec![1.5, -2.0]);
    assert!(m.shards.len() > 1, "64-byte shards force several");
}

#[test]
fn keeps_the_encoder_when_asked_and_writes_f32() {
    let (_src_dir, src) = diffusers_folder();
    let (_out_dir, out) = tmp("out-enc");
    let opts = ConvertOptions {
        dtype: TensorDType::F32,
        shard_bytes: 1 << 20,
        keep_encoder: true,
    };
    convert(&src, &out, &opts, |_| {}).unwrap();
    let m = read_manifest(&out).unwrap();
    assert!(
        m.tensors
            .iter()
            .any(|t| t.name == "vae.encoder.conv_in.weight")
    );
    assert!(m.tensors.iter().all(|t| t.dtype == TensorDType::F32));
}

#[test]
fn q8_quantizes_matrices_and_keeps_vectors_in_f16() {
    let (_src_dir, src) = diffusers_folder();
    let (_out_dir, out) = tmp("out-q8");
    let opts = ConvertOptions {
        dtype: TensorDType::Q8,
        shard_bytes: 64,
        keep_encoder: false,
    };
    convert(&src, &out, &opts, |_| {}).unwrap();
    let m = verify_dir(&out, |_, _, _| {}).unwrap();
    for t in &m.tensors {
        let q8 = roentgen_weights::q8::eligible(&t.name, &t.shape);
        assert_eq!(t.dtype == TensorDType::Q8, q8, "{}", t.name);
        assert_eq!(t.scale.is_some(), q8, "{}", t.name);
        if let Some(s) = t.scale {
            assert_eq!(s.shard, t.data.shard, "scales beside their values");
            let shard = std::fs::read(out.join(&m.shards[s.shard].file)).unwrap();
            let data = &shard[t.data.offset as usize..(t.data.offset + t.data.length) as usize];
            let scales = &shard[s.offset as usize..(s.offset + s.length) as usize];
            let back = roentgen_weights::q8::dequantize(data, scales, t.shape[0]);
            assert_eq!(back.len(), t.shape.iter().product::<usize>());
            assert!(back.iter().any(|v| *v != 0.0), "{} holds values", t.name);
        }
    }
    assert!(m.tensors.iter().any(|t| t.dtype == TensorDType::Q8));
}

#[test]
fn bin_folders_convert_and_bad_files_are_named() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let opts = ConvertOptions {
        dtype: TensorDType::F16,
        shard_bytes: 1 << 20,
        keep_encoder: false,
    };
    let bin_only = |contents: &[u8]| {
        let (guard, src) = diffusers_folder();
        fs::remove_file(src.join("unet/diffusion_pytorch_model.safetensors")).unwrap();
        fs::remove_file(src.join("unet/diffusion_pytorch_model.fp16.safetensors")).unwrap();
        fs::write(src.join("unet/diffusion_pytorch_model.bin"), contents).unwrap();
        (guard, src)
    };
    // A torch.save checkpoint converts like safetensors.
    let (_src_dir, src) = bin_only(&fs::read(fixtures.join("state_dict.bin")).unwrap());
    let (_out_dir, out) = tmp("out-bin");
    convert(&src, &out, &opts, |_| {}).unwrap();
    let m = verify_dir(&out, |_, _, _| {}).unwrap();
    assert!(
        m.tensors
            .iter()
            .any(|t| t.name == "unet.proj.weight" && t.shape == [6, 4])
    );
    assert!(
        !m.tensors.iter().any(|t| t.name == "unet.position_ids"),
        "int buffers skipped"
    );
    // A pickle that would run code is refused, naming what it asked for.
    let (_src_dir, src) = bin_only(&fs::read(fixtures.join("evil.bin")).unwrap());
    let err = format!(
        "{:#}",
        convert(&src, &tmp("out-evil").1, &opts, |_| {}).unwrap_err()
    );
    assert!(err.contains("system") && err.contains("refused"), "{err}");
    assert!(err.contains("diffusion_pytorch_model.bin"), "{err}");
    // Not a zip at all.
    let (_src_dir, src) = bin_only(b"PK");
    let err = format!(
        "{:#}",
        convert(&src, &tmp("out-bad").1, &opts, |_| {}).unwrap_err()
    );
    assert!(err.contains("not a zip checkpoint"), "{err}");
    // A safetensors header that claims more than the file holds.
    let (_src_dir, src) = diffusers_folder();
    let mut bytes = (1u64 << 40).to_le_bytes().to_vec();
    bytes.extend_from_slice(b"{}");
    fs::write(src.join("unet/diffusion_pytorch_model.safetensors"), bytes).unwrap();
    let err = format!(
        "{:#}",
        convert(&src, &tmp("out-hdr").1, &opts, |_| {}).unwrap_err()
    );
    assert!(
        err.contains("diffusion_pytorch_model.safetensors") && err.contains("not a safetensors"),
        "{err}"
    );
}

#[test]
fn refuses_missing_tokenizers_with_a_reason() {
    let opts = ConvertOptions {
        dtype: TensorDType::F16,
        shard_bytes: 1 << 20,
        keep_encoder: false,
    };
    let (_src_dir, src) = diffusers_folder();
    fs::remove_file(src.join("tokenizer/tokenizer.json")).unwrap();
    let err = convert(&src, &tmp("out-tok").1, &opts, |_| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("tokenizer.json"), "{err}");
}

#[test]
fn name_fixes_apply_only_where_they_belong() {
    assert_eq!(
        normalize_name("unet", "mid_block.attentions.0.key.weight", false).unwrap(),
        "unet.mid_block.attentions.0.key.weight"
    );
    assert_eq!(
        normalize_name("vae", "decoder.mid_block.attentions.0.value.bias", false).unwrap(),
        "vae.decoder.mid_block.attentions.0.to_v.bias"
    );
    assert_eq!(normalize_name("vae", "encoder.conv_in.weight", false), None);
    assert_eq!(
        normalize_name("vae", "encoder.conv_in.weight", true).unwrap(),
        "vae.encoder.conv_in.weight"
    );
}
