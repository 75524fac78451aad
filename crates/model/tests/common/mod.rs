//! Shared by the golden tests: the committed tiny models and what diffusers
//! recorded for them (tests/goldens/make_goldens.py).

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;

use roentgen_model::Backend;

pub fn golden_dir(model: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/goldens")
        .join(model)
}

/// golden.safetensors as name -> (shape, f32 values).
pub fn goldens(model: &str) -> HashMap<String, (Vec<usize>, Vec<f32>)> {
    golden_tensors(model, "golden.safetensors")
}

/// A recorded safetensors file as name -> (shape, f32 values).
pub fn golden_tensors(model: &str, file: &str) -> HashMap<String, (Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(golden_dir(model).join(file)).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(name, view)| {
            let data = view.data();
            let values: Vec<f32> = match view.dtype() {
                safetensors::Dtype::F32 => data
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
                safetensors::Dtype::I32 => data
                    .chunks_exact(4)
                    .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32)
                    .collect(),
                d => panic!("{name}: unexpected {d:?}"),
            };
            (name, (view.shape().to_vec(), values))
        })
        .collect()
}

pub fn meta(model: &str) -> serde_json::Value {
    meta_file(model, "golden.json")
}

pub fn meta_file(model: &str, file: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(golden_dir(model).join(file)).unwrap()).unwrap()
}

/// ||a - b|| / ||b||.
pub fn rel_l2(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    let num: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
        .sum();
    let den: f64 = b.iter().map(|y| (*y as f64).powi(2)).sum();
    assert!(a.iter().all(|v| v.is_finite()), "non-finite output");
    (num / den).sqrt()
}

pub fn read<B: Backend>(b: &B, t: &B::Tensor) -> Vec<f32> {
    pollster::block_on(b.read(t)).unwrap()
}
