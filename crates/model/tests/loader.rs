//! `ModelLoader`: a model built a shard at a time (the page's streamed
//! load), with the mistakes a streaming caller can make refused by name.

use roentgen_model::{Backend, CpuBackend, ModelLoader};
use roentgen_weights::folder::read_manifest;

#[test]
fn shards_one_at_a_time_make_the_model_and_mistakes_are_refused() {
    let dir = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/goldens/tiny-sd2/model"
    ));
    let manifest = read_manifest(dir).unwrap();
    let tokenizer = std::fs::read(dir.join(&manifest.tokenizer)).unwrap();
    let shard = |i: usize| std::fs::read(dir.join(&manifest.shards[i].file)).unwrap();

    let mut loader = ModelLoader::new(CpuBackend, &manifest, &tokenizer).unwrap();
    let order = loader.shard_order();
    assert_eq!(order.len(), manifest.shards.len());
    // Too early: a shard is missing.
    let early = ModelLoader::new(CpuBackend, &manifest, &tokenizer).unwrap();
    let err = early.finish().err().unwrap().to_string();
    assert!(err.contains("never arrived"), "{err}");
    // A truncated shard, a shard twice, a shard that does not exist.
    let first = shard(order[0]);
    let err = loader
        .add_shard(order[0], &first[..first.len() - 1])
        .unwrap_err()
        .to_string();
    assert!(err.contains("bytes where the manifest says"), "{err}");
    for &i in &order {
        loader.add_shard(i, &shard(i)).unwrap();
    }
    let err = loader.add_shard(order[0], &first).unwrap_err().to_string();
    assert!(err.contains("given twice"), "{err}");
    let err = loader.add_shard(99, &first).unwrap_err().to_string();
    assert!(err.contains("not in the manifest"), "{err}");
    let model = loader.finish().unwrap();
    assert!(model.weights.contains("unet.conv_in.weight"));
    let (ctx, _) = model
        .encode_text(&["Small left pleural effusion."])
        .unwrap();
    assert_eq!(model.backend.shape(&ctx)[1], 77);
}
