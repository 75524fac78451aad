//! Storage types and the arithmetic path a kernel is compiled for.

/// How a tensor's elements are stored in its buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// 4 bytes per element: parity tests and debugging.
    F32,
    /// 2 bytes per element: the model's weights and activations.
    F16,
}

impl DType {
    pub fn size(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F16 => 2,
        }
    }

    /// The values a kernel sees once `v` is stored in this type: references
    /// compare against these, not against the unrounded inputs.
    pub fn round_trip(self, v: &[f32]) -> Vec<f32> {
        match self {
            DType::F32 => v.to_vec(),
            DType::F16 => v.iter().map(|&x| half::f16::from_f32(x).to_f32()).collect(),
        }
    }
}

/// Which storage prelude a kernel is compiled with (see `shaders/prelude_*.wgsl`).
///
/// The same f16 weights run on two paths: adapters with `shader-f16` load
/// halves natively; the others unpack pairs from `u32` words. Both must give the
/// same answer within f16 rounding, and both are tested.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ComputePath {
    F32,
    F16Native,
    F16Packed,
}

impl ComputePath {
    pub fn name(self) -> &'static str {
        match self {
            ComputePath::F32 => "f32",
            ComputePath::F16Native => "f16 (shader-f16)",
            ComputePath::F16Packed => "f16 (packed in u32, f32 math)",
        }
    }
}
