//! Shared by the golden tests: the committed tiny models and what diffusers
//! recorded for them (tests/goldens/make_goldens.py).

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;

use roentgen_model::{Backend, Model};

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

/// ||a - b|| / ||b|| (shared with every test: roentgen_gpu::testing).
#[allow(unused_imports)] // as dead_code above: not every test file measures
pub use roentgen_gpu::testing::rel_l2;

pub fn read<B: Backend>(b: &B, t: &B::Tensor) -> Vec<f32> {
    pollster::block_on(b.read(t)).unwrap()
}

/// Relative L2 allowed per part and on the final latents, and mean absolute
/// image error (in [0, 1] units) allowed, per path.
pub struct Tolerance {
    pub parts: f64,
    pub latents: f64,
    pub image_mae: f64,
}

pub const F32: Tolerance = Tolerance {
    parts: 1e-3,
    latents: 1e-3,
    image_mae: 1.0 / 255.0,
};

/// f16 storage and arithmetic: the 3e-2 on latents; images are
/// reported and held to 4/255.
pub const F16: Tolerance = Tolerance {
    parts: 3e-2,
    latents: 3e-2,
    image_mae: 4.0 / 255.0,
};

/// A committed tiny model on `backend`.
pub fn load<B: Backend>(backend: B, model: &str) -> Model<B> {
    Model::load_dir(backend, &golden_dir(model).join("model"), |_, _| {}).unwrap()
}

/// The VAE's output as an image in [0, 1].
pub fn image01(decoded: &[f32]) -> Vec<f32> {
    decoded
        .iter()
        .map(|v| (v / 2.0 + 0.5).clamp(0.0, 1.0))
        .collect()
}

pub fn mae(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() as f64)
        .sum::<f64>()
        / a.len() as f64
}

/// Prints a check's report lines, tagged with the path that ran it.
pub fn print(path: &str, report: &[String]) {
    for line in report {
        eprintln!("[{path}] {line}");
    }
}
