//! `roentgen generate` and `roentgen tokenize` as a user runs them, on the
//! committed tiny model: the image diffusers made from the same initial
//! latents, the metadata, the seeds, and clear errors for bad input.

mod common;

use common::{fails, ok, roentgen, root, tmp};
use std::path::{Path, PathBuf};

fn golden(p: &str) -> PathBuf {
    root().join("tests/goldens/tiny-sd2").join(p)
}

/// (width, height, RGB bytes, text chunks) of a PNG.
fn read_png(path: &Path) -> (u32, u32, Vec<u8>, Vec<(String, String)>) {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf.truncate(info.buffer_size());
    let text = reader
        .info()
        .utf8_text
        .iter()
        .map(|c| (c.keyword.clone(), c.get_text().unwrap()))
        .collect();
    (info.width, info.height, buf, text)
}

fn golden_image(key: &str) -> Vec<u8> {
    let bytes = std::fs::read(golden("golden.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let v: Vec<f32> = st
        .tensor(key)
        .unwrap()
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    // [1, 3, H, W] in [0, 1] -> interleaved RGB8 as numpy_to_pil rounds.
    let plane = v.len() / 3;
    (0..plane)
        .flat_map(|p| (0..3).map(move |c| c * plane + p))
        .map(|i| (v[i] * 255.0).round_ties_even() as u8)
        .collect()
}

#[test]
fn generate_reproduces_diffusers_from_the_same_latents() {
    let model = golden("model");
    let (_png_dir, png) = tmp("ddim.png");
    let (_latents_dir, latents) = tmp("ddim.npy");
    ok(&roentgen(&[
        "generate",
        "--model",
        model.to_str().unwrap(),
        "--prompt",
        "small left apical pneumothorax",
        "--negative",
        "lateral view",
        "--steps",
        "6",
        "--scheduler",
        "ddim",
        "--precision",
        "f32",
        "--seed",
        "11",
        "--init-latents",
        golden("init_latents.npy").to_str().unwrap(),
        "--save-latents",
        latents.to_str().unwrap(),
        "--out",
        png.to_str().unwrap(),
    ]));
    let (w, h, rgb, text) = read_png(&png);
    assert_eq!((w, h), (16, 16));
    let want = golden_image("run.ddim.6.image");
    let max = rgb
        .iter()
        .zip(&want)
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .unwrap();
    assert!(
        max <= 1,
        "pixels differ from diffusers by up to {max} levels"
    );
    let get = |k: &str| {
        text.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("prompt"), Some("small left apical pneumothorax"));
    assert_eq!(get("negative"), Some("lateral view"));
    assert_eq!(get("seed"), Some("11"));
    assert_eq!(get("steps"), Some("6"));
    assert_eq!(get("scheduler"), Some("ddim"));
    assert_eq!(get("Comment"), Some("synthetic image — not for diagnosis"));
    let saved = std::fs::read(&latents).unwrap();
    assert!(saved.starts_with(b"\x93NUMPY"), "latents saved as .npy");
    assert_eq!(saved.len() % 16, 0);
}

#[test]
fn seeds_are_deterministic_and_shards_split_the_job() {
    let model = golden("model");
    let (_dir_dir, dir) = tmp("batch");
    let run = |shard: &str| {
        ok(&roentgen(&[
            "generate",
            "--model",
            model.to_str().unwrap(),
            "--prompt",
            "moderate cardiomegaly",
            "--steps",
            "2",
            "--seed",
            "100",
            "--count",
            "3",
            "--shard",
            shard,
            "--out",
            dir.to_str().unwrap(),
        ]))
    };
    run("0/2");
    assert!(dir.join("roentgen-100.png").is_file());
    assert!(dir.join("roentgen-102.png").is_file());
    assert!(
        !dir.join("roentgen-101.png").exists(),
        "101 belongs to shard 1/2"
    );
    let first = std::fs::read(dir.join("roentgen-100.png")).unwrap();
    run("1/2");
    assert!(dir.join("roentgen-101.png").is_file());
    run("0/2");
    assert_eq!(
        std::fs::read(dir.join("roentgen-100.png")).unwrap(),
        first,
        "same seed, same bytes"
    );
    assert_ne!(
        read_png(&dir.join("roentgen-100.png")).2,
        read_png(&dir.join("roentgen-102.png")).2,
        "different seeds differ"
    );
}

#[test]
fn size_sets_the_image_and_is_checked_against_the_model() {
    let model = golden("model");
    let m = model.to_str().unwrap();
    let (_dir_dir, dir) = tmp("sized");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("wide.png");
    let args = |size: &str, out: &Path| {
        roentgen(&[
            "generate",
            "--model",
            m,
            "--prompt",
            "small left effusion",
            "--steps",
            "2",
            "--seed",
            "3",
            "--size",
            size,
            "--out",
            out.to_str().unwrap(),
        ])
    };
    ok(&args("24x12", &out));
    let (w, h, pixels, _) = read_png(&out);
    assert_eq!((w, h), (24, 12), "width x height");
    assert!(
        pixels.iter().any(|&p| p != pixels[0]),
        "an image, not a flat field"
    );
    // The tiny model's VAE doubles and its UNet halves once: steps of 4.
    fails(
        &args("10", &dir.join("bad.png")),
        "size 10x10: each side must be a multiple of 4",
    );
    fails(&args("12xabc", &dir.join("bad.png")), "WIDTHxHEIGHT");
    assert!(!dir.join("bad.png").exists());
}

/// RoentGen-v2's captions open with the patient: `--age`, `--sex` and
/// `--race` compose that sentence before the findings, in the PNG's prompt;
/// a model whose manifest does not say it was trained so gets a warning,
/// one flagged (`weights-tools demographic-prompts`) none.
#[test]
fn demographics_open_the_prompt_of_a_model_trained_with_them() {
    let (_d, dir) = tmp("demographics");
    let model = dir.join("tiny-v2");
    std::fs::create_dir_all(&model).unwrap();
    for f in ["manifest.json", "shard-00000.bin", "tokenizer.json"] {
        std::fs::copy(
            root().join("tests/goldens/tiny-v2/model").join(f),
            model.join(f),
        )
        .unwrap();
    }
    let out = dir.join("subject.png");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "generate",
            "--model",
            model.to_str().unwrap(),
            "--prompt",
            "Normal chest radiograph.",
            "--steps",
            "1",
            "--seed",
            "2",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        roentgen(&args)
    };
    let subject = ["--age", "50", "--sex", "female", "--race", "White"];
    let unflagged = run(&subject);
    ok(&unflagged);
    assert!(
        String::from_utf8_lossy(&unflagged.stderr).contains("demographic-prompts DIR on"),
        "a warning for a model not flagged"
    );
    let prompt = |png: &Path| {
        let (.., text) = read_png(png);
        text.into_iter().find(|(k, _)| k == "prompt").unwrap().1
    };
    assert_eq!(
        prompt(&out),
        "50 year old White female. Normal chest radiograph."
    );
    // What `weights-tools demographic-prompts DIR on` does.
    weights_tools::manifest_edit::set_demographic_prompts(&model, true).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["demographic_prompts"], true);
    assert_eq!(manifest["model_kind"], "sd-v2-txt2img");
    let flagged = run(&subject);
    ok(&flagged);
    let stderr = String::from_utf8_lossy(&flagged.stderr);
    assert!(!stderr.contains("warning"), "{stderr}");
    fails(
        &run(&["--age", "0"]),
        "age: a whole number of years from 1 to 120",
    );
    fails(&run(&["--sex", "x"]), "sex: female or male");
}

#[test]
fn tokenize_prints_ids_and_the_cut() {
    let model = golden("model");
    let long = "small left apical pneumothorax ".repeat(20);
    let out = roentgen(&["tokenize", "--model", model.to_str().unwrap(), &long]);
    ok(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ids"].as_array().unwrap().len(), 77);
    assert_eq!(v["ids"][0], 49406);
    assert_eq!(v["ids"][76], 49407);
    // 8 tokens per repeat (BPE splits "apical" and "pneumothorax"), + BOS, EOS.
    assert_eq!(v["used"], 8 * 20 + 2);
    let cut = v["truncated"].as_str().unwrap();
    assert!(
        !cut.is_empty() && long.trim_end().ends_with(cut),
        "cut {cut:?} is the prompt's tail"
    );
    assert!(
        cut.len() > long.len() / 2,
        "more than half the prompt is past 75 tokens"
    );
}

#[test]
fn bad_input_gives_clear_errors() {
    let model = golden("model");
    let m = model.to_str().unwrap();
    let (_out_dir, out) = tmp("bad.png");
    let o = out.to_str().unwrap();
    fails(
        &roentgen(&[
            "generate",
            "--model",
            "/nonexistent",
            "--prompt",
            "x",
            "--out",
            o,
        ]),
        "no manifest.json",
    );
    fails(
        &roentgen(&[
            "generate",
            "--model",
            m,
            "--prompt",
            "x",
            "--scheduler",
            "heun",
            "--out",
            o,
        ]),
        "use pndm, ddim",
    );
    let (_wrong_dir, wrong) = tmp("wrong.npy");
    // A [1, 4, 3] float32 array: the wrong rank.
    let mut npy = b"\x93NUMPY\x01\x00".to_vec();
    let header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': (1, 4, 3), }}{}\n",
        " ".repeat(53 - 3)
    );
    npy.extend_from_slice(&(header.len() as u16).to_le_bytes());
    npy.extend_from_slice(header.as_bytes());
    npy.extend_from_slice(&[0u8; 48]);
    std::fs::write(&wrong, npy).unwrap();
    fails(
        &roentgen(&[
            "generate",
            "--model",
            m,
            "--prompt",
            "x",
            "--init-latents",
            wrong.to_str().unwrap(),
            "--out",
            o,
        ]),
        "need [1, 4, h, w]",
    );
    fails(
        &roentgen(&[
            "generate", "--model", m, "--prompt", "x", "--steps", "0", "--out", o,
        ]),
        "steps must be",
    );
    // A corrupt shard is named.
    let (_copy_dir, copy) = tmp("corrupt-model");
    std::fs::create_dir_all(&copy).unwrap();
    for entry in std::fs::read_dir(&model).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, copy.join(p.file_name().unwrap())).unwrap();
    }
    let shard = copy.join("shard-00000.bin");
    let mut bytes = std::fs::read(&shard).unwrap();
    bytes[1000] ^= 0x40;
    std::fs::write(&shard, bytes).unwrap();
    fails(
        &roentgen(&[
            "generate",
            "--model",
            copy.to_str().unwrap(),
            "--prompt",
            "x",
            "--out",
            o,
        ]),
        "shard-00000.bin",
    );
}

#[test]
fn plan_validates_everything_and_states_memory() {
    let model = root().join("tests/goldens/tiny-sd4/model");
    let m = model.to_str().unwrap();
    let out = roentgen(&["plan", "--model", m, "--size", "256", "--json"]);
    ok(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let weights = v["weights_bytes"].as_u64().unwrap();
    let peak = v["peak_bytes"].as_u64().unwrap();
    // f16 weights on the GPU: everything but the host-side CLIP embedding tables.
    assert!(weights > 4_000_000 && weights < 6_000_000, "{weights}");
    assert!(peak > weights, "activations add to the weights");
    assert!(v["dispatches_per_image"].as_u64().unwrap() > 500);
    // A 1 MiB binding limit cannot hold a 1024x1024 decode's activations.
    fails(
        &roentgen(&[
            "plan",
            "--model",
            m,
            "--size",
            "1024",
            "--max-binding-mib",
            "1",
        ]),
        "storage buffer binding size",
    );
    fails(
        &roentgen(&["plan", "--model", m, "--size", "100"]),
        "multiple of 64",
    );
}

#[test]
fn generate_from_a_url_with_credentials() {
    use roentgen_weights::testing::{Server, serve};
    use std::sync::{Arc, Mutex};
    let mut server = Server::with_folder(&golden("model")).unwrap();
    server.auth = Some("Bearer t0ken".into());
    server.break_next.insert("model/shard-00000.bin".into());
    let state = Arc::new(Mutex::new(server));
    let url = serve(state.clone());
    let args = |out: &str, auth: Option<&str>| {
        let mut a = vec![
            "generate",
            "--model",
            &url,
            "--prompt",
            "left pleural effusion",
            "--steps",
            "2",
            "--seed",
            "3",
            "--out",
            out,
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
        if let Some(v) = auth {
            a.extend(["--authorization".to_string(), v.to_string()]);
        }
        a
    };
    let run = |a: Vec<String>| roentgen(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let refused = run(args(tmp("url-no-auth.png").1.to_str().unwrap(), None));
    fails(&refused, "401");
    let (_from_url_dir, from_url) = tmp("url.png");
    ok(&run(args(from_url.to_str().unwrap(), Some("Bearer t0ken"))));
    let log = state.lock().unwrap().log.clone();
    assert!(
        log.iter()
            .any(|(p, r)| p.ends_with("shard-00000.bin") && r.is_some()),
        "the broken shard resumed with a Range request: {log:?}"
    );
    let (_from_dir_dir, from_dir) = tmp("dir.png");
    let m = golden("model");
    ok(&roentgen(&[
        "generate",
        "--model",
        m.to_str().unwrap(),
        "--prompt",
        "left pleural effusion",
        "--steps",
        "2",
        "--seed",
        "3",
        "--out",
        from_dir.to_str().unwrap(),
    ]));
    assert_eq!(
        read_png(&from_url).2,
        read_png(&from_dir).2,
        "same pixels from URL and folder"
    );
}

#[test]
fn plan_before_download_reads_only_the_manifest_and_tokenizer() {
    let model = root().join("tests/goldens/tiny-sd4/model");
    // A folder with the manifest and tokenizer only: no shard to read.
    let (_guard, dir) = tmp("bare-model");
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = std::fs::read_to_string(model.join("manifest.json")).unwrap();
    let m = roentgen_weights::Manifest::from_json(&manifest).unwrap();
    std::fs::copy(model.join("manifest.json"), dir.join("manifest.json")).unwrap();
    std::fs::copy(model.join(&m.tokenizer), dir.join(&m.tokenizer)).unwrap();
    let bare = dir.to_str().unwrap();
    fails(
        &roentgen(&["plan", "--model", bare, "--size", "256", "--json"]),
        "shard",
    );
    let out = roentgen(&[
        "plan",
        "--model",
        bare,
        "--size",
        "256",
        "--before-download",
        "--json",
    ]);
    ok(&out);
    let early: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let out = roentgen(&[
        "plan",
        "--model",
        model.to_str().unwrap(),
        "--size",
        "256",
        "--json",
    ]);
    ok(&out);
    let full: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["weights_bytes", "peak_bytes", "dispatches_per_image"] {
        assert_eq!(
            early[key], full[key],
            "{key}: the same plan without the weights"
        );
    }
}

#[test]
fn attention_maps_are_written_per_word() {
    let (_d, dir) = tmp("maps");
    let png = dir.with_extension("png");
    ok(&roentgen(&[
        "generate",
        "--model",
        golden("model").to_str().unwrap(),
        "--prompt",
        "small left apical pneumothorax",
        "--seed",
        "2",
        "--steps",
        "3",
        "--scheduler",
        "ddim",
        "--out",
        png.to_str().unwrap(),
        "--attention-maps",
        dir.to_str().unwrap(),
    ]));
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("maps.json")).unwrap()).unwrap();
    let words: Vec<&str> = doc["words"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["word"].as_str().unwrap())
        .collect();
    assert_eq!(words, ["small", "left", "apical", "pneumothorax"]);
    assert_eq!(doc["steps"], 3);
    assert_eq!(doc["latent_hw"], serde_json::json!([8, 8]));
    for w in doc["words"].as_array().unwrap() {
        let mean = w["mean"].as_array().unwrap();
        assert_eq!(mean.len(), 64);
        assert!(
            mean.iter()
                .all(|v| (0.0..=1.0).contains(&v.as_f64().unwrap()))
        );
        let (width, height, _, text) = read_png(&dir.join(w["file"].as_str().unwrap()));
        assert_eq!((width, height), (16, 16));
        assert!(
            text.iter()
                .any(|(k, v)| k == "word" && v == w["word"].as_str().unwrap())
        );
    }
    assert!(dir.join("01-left.png").is_file());
}

/// `--model` pasted as the manifest's own path names its folder, in every
/// command that takes a model (one parser, before anything is read).
#[test]
fn a_model_named_by_its_manifest_is_its_folder() {
    let dir = golden("model");
    let manifest = dir.join("manifest.json");
    let by_dir = ok(&roentgen(&[
        "tokenize",
        "--model",
        dir.to_str().unwrap(),
        "left effusion",
    ]));
    let by_manifest = ok(&roentgen(&[
        "tokenize",
        "--model",
        manifest.to_str().unwrap(),
        "left effusion",
    ]));
    assert_eq!(by_dir, by_manifest);
    let (_out_dir, out) = tmp("by-manifest.png");
    ok(&roentgen(&[
        "generate",
        "--model",
        manifest.to_str().unwrap(),
        "--prompt",
        "left effusion",
        "--steps",
        "1",
        "--seed",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]));
}
