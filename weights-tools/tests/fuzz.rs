//! Fuzzing the readers of original checkpoints, which a user drops from
//! anywhere: PyTorch `.bin` (the zip container, and the pickle inside it
//! repackaged so that mutations get past the zip's checksums) and
//! `.safetensors`. Rules and budget: crates/fuzz.

use std::io::{Cursor, Read, Write};

use half::f16;
use roentgen_convert::tensor_file::read_safetensors;
use roentgen_fuzz::{CountingAlloc, Outcome, Target, fuzz};
use safetensors::{Dtype, tensor::TensorView};
use weights_tools::torch_bin::read_from;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Every entry of a zip, in order.
fn entries(zip_bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut zip = zip::ZipArchive::new(Cursor::new(zip_bytes)).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut f = zip.by_index(i).unwrap();
            let mut v = Vec::new();
            f.read_to_end(&mut v).unwrap();
            (f.name().to_string(), v)
        })
        .collect()
}

/// A torch.save-shaped zip (stored entries) with these entries.
fn zip_of(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in entries {
        w.start_file(name.as_str(), opts).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn torch_checkpoints_refuse_mutated_zips_with_a_message() {
    let corpus = vec![fixture("state_dict.bin"), fixture("evil.bin")];
    let report = fuzz(Target::new("torch-zip", corpus), |bytes| {
        read_from(Cursor::new(bytes), "fuzz.bin").into()
    });
    assert!(report.refused > report.cases / 2, "{report:?}");
}

#[test]
fn torch_pickles_refuse_mutations_with_a_message() {
    let good = entries(&fixture("state_dict.bin"));
    let evil = entries(&fixture("evil.bin"));
    let pickle = |es: &[(String, Vec<u8>)]| {
        es.iter()
            .find(|(n, _)| n.ends_with("data.pkl"))
            .unwrap()
            .1
            .clone()
    };
    let corpus = vec![pickle(&good), pickle(&evil)];
    let report = fuzz(Target::new("torch-pickle", corpus), |pkl| {
        let repacked: Vec<_> = good
            .iter()
            .map(|(n, b)| {
                let b = if n.ends_with("data.pkl") { pkl } else { b };
                (n.clone(), b.to_vec())
            })
            .collect();
        read_from(Cursor::new(zip_of(&repacked)), "fuzz.bin").into()
    });
    assert!(
        report.accepted >= 1 && report.refused > report.cases / 2,
        "{report:?}"
    );
}

#[test]
fn deep_and_copied_pickles_are_refused_not_overflowed() {
    let good = entries(&fixture("state_dict.bin"));
    let with_pickle = |pkl: Vec<u8>| {
        let repacked: Vec<_> = good
            .iter()
            .map(|(n, b)| {
                let b = if n.ends_with("data.pkl") {
                    pkl.clone()
                } else {
                    b.clone()
                };
                (n.clone(), b)
            })
            .collect();
        zip_of(&repacked)
    };
    // 100,000 nested one-tuples: dropping that would recurse off the stack.
    let mut deep = vec![0x80, 2, b'K', 0];
    deep.extend(std::iter::repeat_n(0x85, 100_000));
    deep.push(b'.');
    let err = read_from(Cursor::new(with_pickle(deep)), "fuzz.bin")
        .err()
        .unwrap();
    assert!(format!("{err:#}").contains("nests"), "{err:#}");
    // A 1,000-item list memoized, then fetched 100,000 times: 10^8 copies.
    let mut copies = vec![0x80, 2, b']', b'('];
    copies.extend(std::iter::repeat_n([b'K', 1], 1000).flatten());
    copies.extend([b'e', b'q', 0]);
    copies.extend(std::iter::repeat_n([b'h', 0], 100_000).flatten());
    copies.push(b'.');
    let err = read_from(Cursor::new(with_pickle(copies)), "fuzz.bin")
        .err()
        .unwrap();
    assert!(format!("{err:#}").contains("copies"), "{err:#}");
}

fn safetensors_fixture() -> Vec<u8> {
    let a: Vec<u8> = (0..24)
        .flat_map(|i| (i as f32 * 0.5).to_le_bytes())
        .collect();
    let b: Vec<u8> = (0..6)
        .flat_map(|i| f16::from_f32(i as f32).to_le_bytes())
        .collect();
    let c: Vec<u8> = (0..4i64).flat_map(|i| i.to_le_bytes()).collect();
    let views = [
        (
            "unet.conv_in.weight",
            TensorView::new(Dtype::F32, vec![2, 3, 2, 2], &a).unwrap(),
        ),
        (
            "unet.conv_in.bias",
            TensorView::new(Dtype::F16, vec![6], &b).unwrap(),
        ),
        (
            "position_ids",
            TensorView::new(Dtype::I64, vec![1, 4], &c).unwrap(),
        ),
    ];
    safetensors::serialize(views, None).unwrap()
}

#[test]
fn safetensors_refuse_mutations_with_a_message() {
    let report = fuzz(
        Target::new("safetensors", vec![safetensors_fixture()]),
        |bytes| match read_safetensors(bytes, "fuzz.safetensors") {
            Ok(tensors) => {
                for t in &tensors {
                    if let Some(v) = &t.values {
                        assert_eq!(v.len(), t.shape.iter().product::<usize>(), "{}", t.name);
                    }
                }
                Outcome::Accepted
            }
            Err(e) => Outcome::Refused(format!("{e:#}")),
        },
    );
    assert!(
        report.accepted >= 1 && report.refused > report.cases / 2,
        "{report:?}"
    );
}
