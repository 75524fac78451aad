//! `convert` on real diffusers-layout folders: the tiny-sd2 golden model
//! written back as diffusers saves it (safetensors in f32/f16, an old
//! torch.save VAE with old attention names), converted, and compared with
//! the model it came from bit for bit; and every refusal named.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use roentgen_convert::diffusers_layout::{LayoutOptions, write};
use roentgen_convert::{ConvertError, normalize_name};
use roentgen_weights::folder::{read_manifest, verify_dir};
use roentgen_weights::{Manifest, TensorDType};
use safetensors::{Dtype, SafeTensors, serialize, tensor::TensorView};
use weights_tools::convert::{ConvertOptions, convert};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn tmp(name: &str) -> (tempfile::TempDir, PathBuf) {
    common::tmp(&format!("roentgen-convert-{name}-"))
}

/// The tiny-sd2 golden model: manifest and its (single) shard.
fn tiny() -> (Manifest, Vec<u8>) {
    let dir = root().join("tests/goldens/tiny-sd2/model");
    let m = read_manifest(&dir).unwrap();
    let shard = fs::read(dir.join(&m.shards[0].file)).unwrap();
    (m, shard)
}

fn bytes_of<'a>(m: &Manifest, shard: &'a [u8], name: &str) -> &'a [u8] {
    let t = m.tensors.iter().find(|t| t.name == name).unwrap();
    &shard[t.data.offset as usize..(t.data.offset + t.data.length) as usize]
}

fn f16_values(b: &[u8]) -> Vec<f32> {
    b.chunks(2)
        .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
        .collect()
}

/// tiny-sd2 as a diffusers folder (fresh per call: tests run in parallel),
/// with a safety checker and an fp16 variant beside the plain UNet file,
/// both of which conversion must ignore.
fn diffusers_folder(dtype: Dtype) -> (tempfile::TempDir, PathBuf) {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (guard, dir) = tmp(&format!("src{n}"));
    let (m, shard) = tiny();
    let table: Vec<(String, Vec<usize>)> = m
        .tensors
        .iter()
        .map(|t| (t.name.clone(), t.shape.clone()))
        .collect();
    let tok =
        fs::read_to_string(root().join("tests/goldens/tiny-sd2/model/tokenizer.json")).unwrap();
    write(
        &dir,
        &table,
        &|i| f16_values(bytes_of(&m, &shard, &table[i].0)),
        &m.configs,
        &tok,
        LayoutOptions {
            dtype,
            old_vae_attention: false,
        },
    )
    .unwrap();
    fs::create_dir_all(dir.join("safety_checker")).unwrap();
    write_st(
        &dir.join("safety_checker/model.safetensors"),
        &[("x", Dtype::F32, vec![2], vec![0; 8])],
    );
    write_st(
        &dir.join("unet/diffusion_pytorch_model.fp16.safetensors"),
        &[("not.ours", Dtype::F32, vec![2], vec![0; 8])],
    );
    (guard, dir)
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

fn opts(dtype: TensorDType, keep_encoder: bool) -> ConvertOptions {
    ConvertOptions {
        dtype,
        shard_bytes: 1 << 20,
        keep_encoder,
    }
}

/// Every tensor of `out` has the same f16 bytes as tiny-sd2's.
fn assert_same_as_tiny(out: &Path) {
    assert_same_as_tiny_but(out, |_| true)
}

/// `assert_same_as_tiny` over the tensors `keep` selects.
fn assert_same_as_tiny_but(out: &Path, keep: impl Fn(&str) -> bool) {
    common::verifies(out);
    let (mut want, want_shard) = tiny();
    want.tensors.retain(|t| keep(&t.name));
    let got = verify_dir(out, |_, _, _| {}).unwrap();
    let got_table: BTreeMap<&str, &[usize]> = got
        .tensors
        .iter()
        .map(|t| (t.name.as_str(), t.shape.as_slice()))
        .collect();
    let want_table: BTreeMap<&str, &[usize]> = want
        .tensors
        .iter()
        .map(|t| (t.name.as_str(), t.shape.as_slice()))
        .collect();
    assert_eq!(got_table, want_table);
    assert_eq!(got.configs, want.configs);
    let shards: Vec<Vec<u8>> = got
        .shards
        .iter()
        .map(|s| fs::read(out.join(&s.file)).unwrap())
        .collect();
    for t in &got.tensors {
        let b = &shards[t.data.shard][t.data.offset as usize..][..t.data.length as usize];
        assert_eq!(b, bytes_of(&want, &want_shard, &t.name), "{}", t.name);
    }
    assert_eq!(
        fs::read(out.join("tokenizer.json")).unwrap(),
        fs::read(root().join("tests/goldens/tiny-sd2/model/tokenizer.json")).unwrap()
    );
}

#[test]
fn a_diffusers_folder_converts_back_to_the_model_it_came_from() {
    for dtype in [Dtype::F32, Dtype::F16] {
        let (_s, src) = diffusers_folder(dtype);
        let (_o, out) = tmp("out");
        let mut seen = Vec::new();
        let summary = convert(
            &src,
            &out,
            &ConvertOptions {
                shard_bytes: 64 << 10,
                ..opts(TensorDType::F16, true)
            },
            |p| seen.push(p.clone()),
        )
        .unwrap();
        assert_same_as_tiny(&out);
        assert!(
            read_manifest(&out).unwrap().shards.len() > 10,
            "64 KiB shards"
        );
        assert_eq!(summary["unet"].parameters, 792_964);
        // Progress only goes forward and ends at the weight files' size.
        assert!(seen.windows(2).all(|w| w[0].done <= w[1].done));
        let last = seen.last().unwrap();
        let weights: u64 = [
            "text_encoder/model.safetensors",
            "unet/diffusion_pytorch_model.safetensors",
            "vae/diffusion_pytorch_model.safetensors",
        ]
        .iter()
        .map(|f| fs::metadata(src.join(f)).unwrap().len())
        .sum();
        assert_eq!(last.total, weights);
        assert!(last.done > weights * 9 / 10, "{} of {weights}", last.done);
    }
}

#[test]
fn vocab_and_merges_build_the_same_tokenizer() {
    let (_s, src) = diffusers_folder(Dtype::F16);
    fs::remove_file(src.join("tokenizer/tokenizer.json")).unwrap();
    let (_o, out) = tmp("out-vocab");
    convert(&src, &out, &opts(TensorDType::F16, true), |_| {}).unwrap();
    // Built from vocab.json + merges.txt: the same tokenizer, maybe not the
    // same bytes; the tokenizer crate must load it.
    let text = fs::read_to_string(out.join("tokenizer.json")).unwrap();
    roentgen_model::tokenizer::ClipTokenizer::from_bytes(text.as_bytes()).unwrap();
}

#[test]
fn an_old_torch_save_vae_converts_and_its_encoder_is_dropped_only_when_asked() {
    let fixtures = root().join("weights-tools/tests/fixtures");
    let (_s, src) = diffusers_folder(Dtype::F16);
    fs::remove_file(src.join("vae/diffusion_pytorch_model.safetensors")).unwrap();
    fs::copy(
        fixtures.join("tiny-sd2-vae.bin"),
        src.join("vae/diffusion_pytorch_model.bin"),
    )
    .unwrap();
    let (_o, out) = tmp("out-bin");
    convert(&src, &out, &opts(TensorDType::F16, true), |_| {}).unwrap();
    assert_same_as_tiny(&out);

    let (_o, out) = tmp("out-no-enc");
    convert(&src, &out, &opts(TensorDType::F16, false), |_| {}).unwrap();
    assert_same_as_tiny_but(&out, |n| !roentgen_model::arch::is_vae_encoder(n));

    let (_o, out) = tmp("out-enc");
    convert(&src, &out, &opts(TensorDType::F32, true), |_| {}).unwrap();
    common::verifies(&out);
    let m = verify_dir(&out, |_, _, _| {}).unwrap();
    let enc = m
        .tensors
        .iter()
        .find(|t| t.name == "vae.encoder.conv_in.weight")
        .unwrap();
    assert_eq!(enc.shape, [16, 3, 3, 3]);
    assert!(m.tensors.iter().any(|t| t.name == "vae.quant_conv.weight"));
    assert!(m.tensors.iter().all(|t| t.dtype == TensorDType::F32));
}

#[test]
fn q8_quantizes_matrices_and_keeps_vectors_in_f16() {
    let (_s, src) = diffusers_folder(Dtype::F32);
    let (_o, out) = tmp("out-q8");
    convert(&src, &out, &opts(TensorDType::Q8, true), |_| {}).unwrap();
    common::verifies(&out);
    let m = verify_dir(&out, |_, _, _| {}).unwrap();
    let shards: Vec<Vec<u8>> = m
        .shards
        .iter()
        .map(|s| fs::read(out.join(&s.file)).unwrap())
        .collect();
    let (want, want_shard) = tiny();
    for t in &m.tensors {
        let q8 = roentgen_weights::q8::eligible(&t.name, &t.shape);
        assert_eq!(t.dtype == TensorDType::Q8, q8, "{}", t.name);
        assert_eq!(t.scale.is_some(), q8, "{}", t.name);
        if let Some(s) = t.scale {
            assert_eq!(s.shard, t.data.shard, "scales beside their values");
            let shard = &shards[s.shard];
            let data = &shard[t.data.offset as usize..(t.data.offset + t.data.length) as usize];
            let scales = &shard[s.offset as usize..(s.offset + s.length) as usize];
            let back = roentgen_weights::q8::dequantize(data, scales, t.shape[0]);
            let orig = f16_values(bytes_of(&want, &want_shard, &t.name));
            let max = orig.iter().fold(0f32, |a, v| a.max(v.abs()));
            let err = back
                .iter()
                .zip(&orig)
                .fold(0f32, |a, (x, y)| a.max((x - y).abs()));
            assert!(
                err <= max / 127.0 + 1e-3,
                "{}: error {err}, max {max}",
                t.name
            );
        }
    }
    assert!(m.tensors.iter().any(|t| t.dtype == TensorDType::Q8));
}

#[test]
fn integer_buffers_are_skipped_and_named() {
    let (_s, src) = diffusers_folder(Dtype::F32);
    let path = src.join("text_encoder/model.safetensors");
    let bytes = fs::read(&path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut views: Vec<(String, TensorView)> = st.tensors();
    let ids = vec![0u8; 77 * 8];
    views.push((
        "text_model.embeddings.position_ids".into(),
        TensorView::new(Dtype::I64, vec![1, 77], &ids).unwrap(),
    ));
    fs::write(
        &path,
        serialize(views, None::<HashMap<String, String>>).unwrap(),
    )
    .unwrap();
    let (_o, out) = tmp("out-ids");
    let summary = convert(&src, &out, &opts(TensorDType::F16, true), |_| {}).unwrap();
    assert_eq!(
        summary["text_encoder"].skipped,
        vec!["text_model.embeddings.position_ids".to_string()]
    );
    assert_same_as_tiny(&out);
}

/// The message of the refusal of a folder `prepare` spoiled, checked to be
/// the kind of error `is` expects.
fn refusal(prepare: impl FnOnce(&Path), is: impl Fn(&ConvertError) -> bool) -> String {
    let (_s, src) = diffusers_folder(Dtype::F16);
    prepare(&src);
    let (_o, out) = tmp("out-refused");
    let err = convert(&src, &out, &opts(TensorDType::F16, true), |_| {}).unwrap_err();
    assert!(is(&err), "another kind of error: {err:?}");
    err.to_string()
}

#[test]
fn bad_folders_are_refused_naming_the_file_and_the_reason() {
    let fixtures = root().join("weights-tools/tests/fixtures");
    let vae_bin = |contents: Vec<u8>| {
        move |src: &Path| {
            fs::remove_file(src.join("vae/diffusion_pytorch_model.safetensors")).unwrap();
            fs::write(src.join("vae/diffusion_pytorch_model.bin"), contents).unwrap();
        }
    };
    // A pickle that would run code is refused, naming what it asked for.
    let err = refusal(vae_bin(fs::read(fixtures.join("evil.bin")).unwrap()), |e| {
        matches!(e, ConvertError::Malformed { .. })
    });
    assert!(err.contains("system") && err.contains("refused"), "{err}");
    assert!(err.contains("diffusion_pytorch_model.bin"), "{err}");
    let err = refusal(vae_bin(b"PK".to_vec()), |e| {
        matches!(e, ConvertError::Malformed { .. })
    });
    assert!(err.contains("not a zip checkpoint"), "{err}");
    // A safetensors header that claims more than the file holds.
    let err = refusal(
        |src| {
            let mut bytes = (1u64 << 40).to_le_bytes().to_vec();
            bytes.extend_from_slice(b"{}");
            fs::write(src.join("unet/diffusion_pytorch_model.safetensors"), bytes).unwrap();
        },
        |e| matches!(e, ConvertError::Malformed { .. }),
    );
    assert!(
        err.contains("diffusion_pytorch_model.safetensors") && err.contains("not a safetensors"),
        "{err}"
    );
    // Missing pieces say what a diffusers folder holds.
    let err = refusal(
        |src| fs::remove_file(src.join("unet/config.json")).unwrap(),
        |e| matches!(e, ConvertError::Missing { .. }),
    );
    assert!(
        err.contains("unet/config.json") && err.contains("is missing"),
        "{err}"
    );
    let err = refusal(
        |src| {
            fs::remove_file(src.join("tokenizer/tokenizer.json")).unwrap();
            fs::remove_file(src.join("tokenizer/merges.txt")).unwrap();
        },
        |e| matches!(e, ConvertError::NoTokenizer { .. }),
    );
    assert!(err.contains("vocab.json + merges.txt"), "{err}");
    let err = refusal(
        |src| {
            fs::remove_file(src.join("text_encoder/model.safetensors")).unwrap();
        },
        |e| matches!(e, ConvertError::NoWeights { .. }),
    );
    assert!(err.contains("no .safetensors or .bin weights"), "{err}");
    // A config this graph does not build, before any weight is read.
    let err = refusal(
        |src| {
            let p = src.join("unet/config.json");
            let mut c: serde_json::Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
            c["class_embed_type"] = "timestep".into();
            fs::write(&p, c.to_string()).unwrap();
        },
        |e| matches!(e, ConvertError::Unsupported { .. }),
    );
    assert!(
        err.contains("configs are not a Stable Diffusion 1.x or 2.x")
            && err.contains("class_embed_type"),
        "{err}"
    );
    // A valid config of another shape (SD 2's 1024-wide context) stops at
    // the first tensor that does not fit it.
    let err = refusal(
        |src| {
            let p = src.join("unet/config.json");
            let mut c: serde_json::Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
            c["cross_attention_dim"] = 1024.into();
            fs::write(&p, c.to_string()).unwrap();
        },
        |e| matches!(e, ConvertError::ShapeMismatch { .. }),
    );
    assert!(err.contains("the config needs [32, 1024]"), "{err}");
    // Weights that do not match the configs: a missing tensor at the end, a
    // wrong shape as soon as it is read.
    let drop_tensor = |src: &Path, name: &str, replace: Option<(Vec<usize>, Vec<u8>)>| {
        let path = src.join("vae/diffusion_pytorch_model.safetensors");
        let bytes = fs::read(&path).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let mut views: Vec<(String, TensorView)> = st
            .tensors()
            .into_iter()
            .filter(|(n, _)| n != name)
            .collect();
        if let Some((shape, data)) = &replace {
            views.push((
                name.to_string(),
                TensorView::new(Dtype::F16, shape.clone(), data).unwrap(),
            ));
        }
        let out = serialize(views, None::<HashMap<String, String>>).unwrap();
        fs::write(&path, out).unwrap();
    };
    let err = refusal(
        |src| drop_tensor(src, "post_quant_conv.bias", None),
        |e| matches!(e, ConvertError::Incomplete { .. }),
    );
    assert!(err.contains("vae.post_quant_conv.bias: missing"), "{err}");
    let err = refusal(
        |src| drop_tensor(src, "post_quant_conv.bias", Some((vec![3], vec![0; 6]))),
        |e| matches!(e, ConvertError::ShapeMismatch { .. }),
    );
    assert!(
        err.contains("post_quant_conv.bias has shape [3], the config needs [4]"),
        "{err}"
    );
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
    assert_eq!(
        normalize_name("text_encoder", "text_model.final_layer_norm.weight", false).unwrap(),
        "text_encoder.final_layer_norm.weight"
    );
}

#[test]
fn other_families_are_refused_by_what_they_are() {
    let other = |e: &ConvertError| matches!(e, ConvertError::OtherFamily { .. });
    let index = |class: &'static str| {
        move |src: &Path| {
            fs::write(
                src.join("model_index.json"),
                format!(
                    r#"{{"_class_name": "{class}", "unet": ["diffusers", "UNet2DConditionModel"]}}"#
                ),
            )
            .unwrap()
        }
    };
    let err = refusal(index("StableDiffusionXLPipeline"), other);
    assert!(
        err.contains("SDXL") && err.contains("Stable Diffusion 1.x and 2.x"),
        "{err}"
    );
    let err = refusal(index("StableDiffusion3Pipeline"), other);
    assert!(
        err.contains("Stable Diffusion 3") && err.contains("transformer"),
        "{err}"
    );
    // A LoRA alone: no pipeline index, no UNet config, a LoRA weights file.
    let err = refusal(
        |src| {
            fs::remove_file(src.join("model_index.json")).ok();
            fs::remove_file(src.join("unet/config.json")).unwrap();
            fs::write(src.join("pytorch_lora_weights.safetensors"), b"{}").unwrap();
        },
        other,
    );
    assert!(
        err.contains("pytorch_lora_weights.safetensors") && err.contains("LoRA"),
        "{err}"
    );
    // SD 1.x and 2.x pipelines pass this check (the tiny folders convert).
    let (_s, src) = diffusers_folder(Dtype::F16);
    index("StableDiffusionPipeline")(&src);
    let (_o, out) = tmp("out-sd");
    convert(&src, &out, &opts(TensorDType::F16, true), |_| {}).unwrap();
}
