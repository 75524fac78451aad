//! The pickle reader against what torch itself reads from the same files
//! (tests/fixtures/make_fixtures.py wrote both).

use std::path::PathBuf;

use weights_tools::torch_bin::read;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn reads_a_state_dict_like_torch() {
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("expected.json")).unwrap()).unwrap();
    let tensors = read(&fixture("state_dict.bin")).unwrap();
    // Sorted by name (the converter reads every file in name order).
    let names: Vec<&str> = tensors.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "conv_in.bias",
            "conv_in.weight",
            "norm.weight",
            "position_ids",
            "proj.weight",
            "shared.a",
            "shared.b"
        ]
    );
    for t in &tensors {
        let Some(values) = &t.values else {
            assert_eq!(
                t.name, "position_ids",
                "only the int64 buffer has no float values"
            );
            continue;
        };
        let e = &expected[&t.name];
        let shape: Vec<usize> = e["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(t.shape, shape, "{}", t.name);
        let want: Vec<f32> = e["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(
            values, &want,
            "{} (strided and shared storages included)",
            t.name
        );
    }
}

#[test]
fn refuses_code_and_garbage() {
    let err = format!("{:#}", read(&fixture("evil.bin")).err().unwrap());
    assert!(
        err.contains("posix.system") || err.contains("os.system"),
        "{err}"
    );
    assert!(err.contains("nothing in the file is executed"), "{err}");
    let junk = tempfile::Builder::new().suffix(".bin").tempfile().unwrap();
    std::fs::write(junk.path(), b"\x80\x02}q\x00").unwrap();
    assert!(format!("{:#}", read(junk.path()).err().unwrap()).contains("not a zip checkpoint"));
}
