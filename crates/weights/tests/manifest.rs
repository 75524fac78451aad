//! The shard writer and the manifest's own consistency checks.

use std::collections::BTreeMap;

use roentgen_weights::manifest::{MAX_TENSOR_BYTES, Manifest, TensorDType};
use roentgen_weights::writer::{ALIGN, ShardWriter};
use roentgen_weights::{WeightsError, verify_shard};

fn bytes(n: usize, salt: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(salt))
        .collect()
}

fn sample() -> (Manifest, Vec<(String, Vec<u8>)>) {
    sample_taking(false)
}

/// The sample model; with `take`, closed shards are taken out after each
/// tensor, as a streaming converter does.
fn sample_taking(take: bool) -> (Manifest, Vec<(String, Vec<u8>)>) {
    let mut w = ShardWriter::new(1000);
    let mut taken = Vec::new();
    let mut after_add = |w: &mut ShardWriter| {
        if take {
            taken.extend(w.take_closed());
        }
    };
    w.add(
        "text_encoder.a.weight",
        TensorDType::F16,
        &[10, 7],
        &bytes(140, 1),
        None,
    )
    .unwrap();
    after_add(&mut w);
    w.add(
        "unet.b.weight",
        TensorDType::F16,
        &[300],
        &bytes(600, 2),
        None,
    )
    .unwrap();
    after_add(&mut w);
    w.add(
        "unet.big.weight",
        TensorDType::F32,
        &[700],
        &bytes(2800, 3),
        None,
    )
    .unwrap();
    after_add(&mut w);
    w.add(
        "vae.q.weight",
        TensorDType::Q8,
        &[4, 3, 3, 3],
        &bytes(108, 4),
        Some(&bytes(8, 5)),
    )
    .unwrap();
    after_add(&mut w);
    let mut configs = BTreeMap::new();
    configs.insert("unet".to_string(), serde_json::json!({"sample_size": 8}));
    let (m, rest) = w
        .finish("sd-v1-txt2img", configs, "tokenizer.json")
        .unwrap();
    taken.extend(rest);
    (m, taken)
}

#[test]
fn shards_taken_while_writing_equal_shards_taken_at_the_end() {
    let (m1, f1) = sample_taking(false);
    let (m2, f2) = sample_taking(true);
    assert_eq!(m1.to_json(), m2.to_json());
    assert_eq!(f1, f2);
    assert!(f1.len() >= 3, "the sample spans several shards");
    for (entry, (name, bytes)) in m2.shards.iter().zip(&f2) {
        assert_eq!(&entry.file, name);
        verify_shard(name, bytes, entry.bytes, &entry.sha256).unwrap();
    }
}

#[test]
fn writer_packs_aligned_tensors_without_spanning_shards() {
    let (m, files) = sample();
    assert_eq!(m.shards.len(), files.len());
    for t in &m.tensors {
        for e in std::iter::once(&t.data).chain(t.scale.as_ref()) {
            assert_eq!(e.offset % ALIGN, 0, "{}", t.name);
            assert!(e.offset + e.length <= files[e.shard].1.len() as u64);
        }
    }
    // The 2800-byte tensor is over the 1000-byte target: a shard of its own.
    let big = m
        .tensors
        .iter()
        .find(|t| t.name == "unet.big.weight")
        .unwrap();
    assert_eq!(files[big.data.shard].1.len(), 2800);
    assert!(
        files
            .iter()
            .all(|(_, b)| b.len() <= 1000 || b.len() == 2800)
    );
    // Bytes land where the table says.
    let b = m
        .tensors
        .iter()
        .find(|t| t.name == "unet.b.weight")
        .unwrap();
    let shard = &files[b.data.shard].1;
    assert_eq!(&shard[b.data.offset as usize..][..600], &bytes(600, 2)[..]);
    for (s, (_, data)) in m.shards.iter().zip(&files) {
        verify_shard(&s.file, data, s.bytes, &s.sha256).unwrap();
    }
}

#[test]
fn manifest_round_trips_through_json_and_orders_text_encoder_first() {
    let (m, _) = sample();
    let back = Manifest::from_json(&m.to_json()).unwrap();
    assert_eq!(back, m);
    let order = m.shard_order(&["text_encoder", "unet", "vae"]);
    let te = m.component("text_encoder").next().unwrap().data.shard;
    assert_eq!(order[0], te);
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(sorted, (0..m.shards.len()).collect::<Vec<_>>());
}

fn rejects(m: &Manifest, needle: &str) {
    match m.check_table() {
        Err(WeightsError::InvalidManifest { what }) => {
            assert!(what.contains(needle), "{what:?} lacks {needle:?}")
        }
        other => panic!("expected an invalid manifest ({needle}), got {other:?}"),
    }
}

#[test]
fn broken_tables_are_named() {
    let (m, _) = sample();
    let mut bad = m.clone();
    bad.tensors[1].data.offset = bad.shards[bad.tensors[1].data.shard].bytes;
    rejects(&bad, "outside shard");
    let mut bad = m.clone();
    bad.tensors[0].shape = vec![10, 8];
    rejects(&bad, "expected 160");
    let mut bad = m.clone();
    bad.tensors[2].data.shard = 99;
    rejects(&bad, "does not exist");
    let mut bad = m.clone();
    bad.shards[0].file = "../../etc/passwd".into();
    rejects(&bad, "plain file name");
    let mut bad = m.clone();
    bad.shards[0].sha256 = "xyz".into();
    rejects(&bad, "64 hex digits");
    let mut bad = m.clone();
    bad.tensors.push(bad.tensors[0].clone());
    rejects(&bad, "listed twice");
    let mut bad = m.clone();
    bad.tensors[3].scale = None;
    rejects(&bad, "no scales");
    let mut bad = m.clone();
    let huge = MAX_TENSOR_BYTES as usize / 2 + 1;
    bad.tensors[0].shape = vec![huge];
    bad.tensors[0].data.length = huge as u64 * 2;
    bad.shards[0].bytes = u64::MAX;
    rejects(&bad, "GPU limit");
    // The same size is fine for a table the host gathers from (CLIP's token
    // embedding is 152 MB in f32) and never binds whole.
    let mut host = bad.clone();
    host.tensors[0].name = "text_encoder.embeddings.token_embedding.weight".into();
    host.check_table().unwrap();
}

#[test]
fn foreign_or_future_json_is_refused() {
    let (m, _) = sample();
    assert!(Manifest::from_json("{}").is_err());
    assert!(Manifest::from_json("not json").is_err());
    let mut future = m.clone();
    future.format_version += 1;
    let err = Manifest::from_json(&future.to_json())
        .unwrap_err()
        .to_string();
    assert!(err.contains("convert the weights again"), "{err}");
    let mut other = m;
    other.format = "safetensors".into();
    assert!(Manifest::from_json(&other.to_json()).is_err());
}

#[test]
fn a_folder_verifies_until_a_shard_is_corrupted_or_missing() {
    use roentgen_weights::folder::{verify_dir, write_dir};
    let tmp = tempfile::Builder::new()
        .prefix("roentgen-weights-test-")
        .tempdir()
        .unwrap();
    let dir = tmp.path();
    let (m, files) = sample();
    write_dir(dir, &m, &files).unwrap();
    let mut last = (0, 0);
    verify_dir(dir, |_, done, total| last = (done, total)).unwrap();
    assert_eq!(last.0, last.1);

    let victim = dir.join(&m.shards[1].file);
    let mut data = std::fs::read(&victim).unwrap();
    data[3] ^= 0x40;
    std::fs::write(&victim, &data).unwrap();
    let err = verify_dir(dir, |_, _, _| {}).unwrap_err();
    assert!(
        matches!(&err, WeightsError::ChecksumMismatch { shard, .. } if *shard == m.shards[1].file),
        "{err}"
    );

    std::fs::remove_file(&victim).unwrap();
    let err = verify_dir(dir, |_, _, _| {}).unwrap_err().to_string();
    assert!(err.contains(&m.shards[1].file), "{err}");
}
