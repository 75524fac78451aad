//! The text encoder runs before the rest of the model has arrived (a prompt
//! is encoded while the UNet still streams), and a run uses those hidden
//! states instead of encoding again; a batch encodes its prompt once. The
//! images are the same as a plain load's, bit for bit.

mod common;

use common::{golden_dir, load};
use roentgen_gpu::DType;
use roentgen_gpu::testing::test_context;
use roentgen_model::pipeline::texts_of;
use roentgen_model::{
    Backend, CpuBackend, GivenNoise, GpuBackend, Model, ModelLoader, Request, RunOptions,
    SchedulerKind,
};
use roentgen_weights::folder::read_manifest;
use roentgen_weights::writer::ShardWriter;
use roentgen_weights::{Manifest, TensorEntry};

fn request(prompt: &str, seed: u64) -> Request {
    Request {
        prompt: prompt.into(),
        negative: "lateral view".into(),
        steps: 3,
        guidance: 4.0,
        scheduler: SchedulerKind::Ddim,
        seed,
        latent_hw: (8, 8),
    }
}

/// The tiny model cut into 8 KiB shards, the text encoder's first (as the
/// converter orders a real model): (manifest, tokenizer, shard bytes).
fn small_shards() -> (Manifest, Vec<u8>, Vec<Vec<u8>>) {
    let dir = golden_dir("tiny-sd2").join("model");
    let manifest = read_manifest(&dir).unwrap();
    let tokenizer = std::fs::read(dir.join(&manifest.tokenizer)).unwrap();
    let shards: Vec<Vec<u8>> = manifest
        .shards
        .iter()
        .map(|s| std::fs::read(dir.join(&s.file)).unwrap())
        .collect();
    let bytes = |e: &TensorEntry| {
        let s = &shards[e.data.shard];
        s[e.data.offset as usize..(e.data.offset + e.data.length) as usize].to_vec()
    };
    let mut writer = ShardWriter::new(8 << 10);
    for component in ["text_encoder", "unet", "vae"] {
        for t in manifest.component(component) {
            assert!(t.scale.is_none(), "the tiny model is not q8");
            writer
                .add(&t.name, t.dtype, &t.shape, &bytes(t), None)
                .unwrap();
        }
    }
    let (resharded, files) = writer
        .finish(
            &manifest.model_kind,
            manifest.configs.clone(),
            &manifest.tokenizer,
        )
        .unwrap();
    let shard_bytes = files.into_iter().map(|(_, b)| b).collect();
    (resharded, tokenizer, shard_bytes)
}

fn image<B: Backend>(m: &Model<B>, req: &Request) -> Vec<f32> {
    let opts = RunOptions {
        watch: true,
        attention_maps: false,
        checkpoints: false,
    };
    pollster::block_on(m.generate(req, GivenNoise::default(), opts, |_| true))
        .unwrap()
        .decoded
}

/// Streams the shards, encodes `req`'s texts as soon as the text encoder is
/// in, and checks that the UNet was still missing then.
fn load_encoding_early<B: Backend>(backend: B, req: &Request) -> Model<B> {
    let (manifest, tokenizer, shards) = small_shards();
    let mut loader = ModelLoader::new(backend, &manifest, &tokenizer).unwrap();
    let order = loader.shard_order();
    let mut encoded_with_missing = None;
    for (k, &i) in order.iter().enumerate() {
        if encoded_with_missing.is_none() {
            if loader.text_encoder_ready() {
                loader.encode_early(&texts_of(req)).unwrap();
                encoded_with_missing = Some(order.len() - k);
            } else {
                let err = loader.encode_early(&texts_of(req)).unwrap_err();
                assert!(err.to_string().contains("have not all arrived"), "{err}");
            }
        }
        loader.add_shard(i, &shards[i]).unwrap();
    }
    let missing = encoded_with_missing.expect("encoded before the last shard");
    let unet_shards = manifest
        .component("unet")
        .map(|t| t.data.shard)
        .collect::<std::collections::BTreeSet<_>>();
    assert!(
        missing >= unet_shards.len(),
        "encoded with {missing} shards to come, the UNet's {} among them",
        unet_shards.len()
    );
    loader.finish().unwrap()
}

fn check<B: Backend>(early_backend: B, plain_backend: B) {
    let req = request("small left apical pneumothorax", 11);
    let early = load_encoding_early(early_backend, &req);
    assert_eq!(early.text_encodes(), 1);
    let plain = load(plain_backend, "tiny-sd2");
    assert_eq!(plain.text_encodes(), 0);

    let a = image(&early, &req);
    assert_eq!(early.text_encodes(), 1, "the early hidden states were used");
    assert_eq!(a, image(&plain, &req), "same image as a plain load");
    assert_eq!(plain.text_encodes(), 1);

    // A batch: the next seed reuses the prompt's hidden states.
    let next = request(&req.prompt, 12);
    assert_eq!(image(&early, &next), image(&plain, &next));
    assert_eq!((early.text_encodes(), plain.text_encodes()), (1, 1));

    // Another prompt is encoded; going back encodes again (one entry kept).
    let other = request("moderate cardiomegaly", 11);
    assert_eq!(image(&early, &other), image(&plain, &other));
    assert_eq!(early.text_encodes(), 2);
    assert_eq!(image(&early, &req), a);
    assert_eq!(early.text_encodes(), 3);
}

#[test]
fn a_prompt_encoded_while_the_unet_streams_gives_the_same_image_cpu() {
    check(CpuBackend, CpuBackend);
}

#[test]
fn a_prompt_encoded_while_the_unet_streams_gives_the_same_image_gpu_f16() {
    let ctx = test_context();
    check(
        GpuBackend::new(ctx, DType::F16),
        GpuBackend::new(ctx, DType::F16),
    );
}
