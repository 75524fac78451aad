//! `weights-tools`' words as types: clap refuses a typo while parsing the
//! command line and lists what it knows; nothing falls back to f16 on a word
//! it does not know.

use roentgen_weights::TensorDType;

/// How a converted model stores its weights (`convert --dtype`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StoredDType {
    F16,
    F32,
    /// int8 with a scale per output channel, dequantised on the GPU.
    Q8,
}

impl StoredDType {
    pub fn tensor_dtype(self) -> TensorDType {
        match self {
            StoredDType::F16 => TensorDType::F16,
            StoredDType::F32 => TensorDType::F32,
            StoredDType::Q8 => TensorDType::Q8,
        }
    }
}

/// What diffusers' safetensors hold (`export --dtype`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffusersDType {
    F16,
    F32,
    Bf16,
}

impl DiffusersDType {
    pub fn safetensors(self) -> safetensors::Dtype {
        match self {
            DiffusersDType::F16 => safetensors::Dtype::F16,
            DiffusersDType::F32 => safetensors::Dtype::F32,
            DiffusersDType::Bf16 => safetensors::Dtype::BF16,
        }
    }
}

/// `random --dtype`: ours (f16, f32, q8) or diffusers' (f16, f32, bf16),
/// checked against `--layout` before anything is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AnyDType {
    F16,
    F32,
    Q8,
    Bf16,
}

impl AnyDType {
    pub fn for_layout(self, layout: Layout) -> Result<RandomDType, String> {
        match (layout, self) {
            (Layout::Ours, AnyDType::F16) => Ok(RandomDType::Ours(StoredDType::F16)),
            (Layout::Ours, AnyDType::F32) => Ok(RandomDType::Ours(StoredDType::F32)),
            (Layout::Ours, AnyDType::Q8) => Ok(RandomDType::Ours(StoredDType::Q8)),
            (Layout::Diffusers, AnyDType::F16) => Ok(RandomDType::Diffusers(DiffusersDType::F16)),
            (Layout::Diffusers, AnyDType::F32) => Ok(RandomDType::Diffusers(DiffusersDType::F32)),
            (Layout::Diffusers, AnyDType::Bf16) => Ok(RandomDType::Diffusers(DiffusersDType::Bf16)),
            (Layout::Ours, AnyDType::Bf16) => {
                Err("--dtype bf16 is for --layout diffusers; ours stores f16, f32 or q8".into())
            }
            (Layout::Diffusers, AnyDType::Q8) => {
                Err("--dtype q8 is ours; diffusers' layout stores f16, f32 or bf16".into())
            }
        }
    }
}

/// A storage type that fits its layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RandomDType {
    Ours(StoredDType),
    Diffusers(DiffusersDType),
}

/// Which folder `random` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Layout {
    /// manifest.json + shards, ready to load.
    Ours,
    /// The folder as RoentGen's authors distribute it (safetensors, their names).
    Diffusers,
}

/// The architectures `random` knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Arch {
    /// SD v1.5 (RoentGen's).
    #[value(name = "sd-v1.5")]
    SdV15,
    /// SD 2.1-base (RoentGen-v2's), 512x512.
    #[value(name = "sd-2.1-base")]
    Sd21Base,
    /// SD 2.1, 768x768, v-prediction.
    #[value(name = "sd-2.1")]
    Sd21,
}

impl Arch {
    pub fn name(self) -> &'static str {
        match self {
            Arch::SdV15 => "sd-v1.5",
            Arch::Sd21Base => "sd-2.1-base",
            Arch::Sd21 => "sd-2.1",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn words_and_their_combinations() {
        assert_eq!(StoredDType::from_str("q8", false), Ok(StoredDType::Q8));
        assert!(StoredDType::from_str("bf16", false).is_err());
        assert!(DiffusersDType::from_str("q8", false).is_err());
        for a in Arch::value_variants() {
            assert_eq!(Arch::from_str(a.name(), false), Ok(*a));
            assert!(crate::random::arch_configs(a.name()).is_ok());
        }
        assert!(AnyDType::Bf16.for_layout(Layout::Ours).is_err());
        assert!(AnyDType::Q8.for_layout(Layout::Diffusers).is_err());
        assert_eq!(
            AnyDType::Q8.for_layout(Layout::Ours),
            Ok(RandomDType::Ours(StoredDType::Q8))
        );
    }
}
