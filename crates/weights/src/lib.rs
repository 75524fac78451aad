//! The converted-weights format shared by the CLI, `weights-tools` and the page.
//!
//! Nothing here knows about GPUs or browsers: a shard is bytes with a name and
//! a sha256, and this crate decides whether the bytes are the right ones.
//! The streaming loader builds on this (see the weights issue).

mod checksum;
mod error;
pub mod folder;
pub mod folder_url;
#[cfg(not(target_arch = "wasm32"))]
pub mod http;
pub mod manifest;
pub mod progress;
pub mod q8;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
pub mod writer;

pub use checksum::{Sha256Stream, sha256_hex, verify_shard};
pub use error::WeightsError;
pub use folder_url::{folder_url, shard_url};
pub use manifest::{Manifest, ShardEntry, TensorDType, TensorEntry};
pub use progress::DownloadProgress;
