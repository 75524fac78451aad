//! Converting a diffusers folder (what RoentGen's authors distribute) into
//! RoentGen Web's shard format (see `roentgen_weights::manifest`).
//!
//! One converter for both places it runs: `weights-tools convert` on a
//! folder on disk, and the page's worker on a folder the user dropped. Both
//! hand it a [`Folder`](folder::Folder) (files it can read at any offset) and
//! take finished shards from it as they close, so neither holds more than a
//! tensor and a shard: a 4 GB f32 checkpoint converts inside wasm's 4 GB.

pub mod clip_tokenizer;
pub mod converter;
#[cfg(not(target_arch = "wasm32"))]
pub mod diffusers_layout;
pub mod error;
pub mod folder;
pub mod names;
pub mod tensor_file;
pub mod torch_bin;

#[cfg(not(target_arch = "wasm32"))]
pub use converter::convert;
pub use converter::{
    ComponentSummary, ConvertOptions, Converted, Converter, Progress, encode_tensor,
};
pub use error::ConvertError;
pub use folder::Folder;
pub use names::normalize_name;
