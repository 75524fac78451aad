//! The converted-weights format shared by the CLI, `weights-tools` and the page.
//!
//! Nothing here knows about GPUs or browsers: a shard is bytes with a name and
//! a sha256, and this crate decides whether the bytes are the right ones.
//! The manifest and the streaming loader build on this (see the weights issue).

mod checksum;
mod error;

pub use checksum::{Sha256Stream, sha256_hex, verify_shard};
pub use error::WeightsError;
