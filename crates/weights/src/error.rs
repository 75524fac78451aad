//! The weights crate's one error type.

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    #[error("fetching {url}: {reason}")]
    Fetch { url: String, reason: String },
    #[error("manifest: {what}")]
    InvalidManifest { what: String },
    #[error("shard {shard}: sha256 is {got}, the manifest says {expected}")]
    ChecksumMismatch {
        shard: String,
        expected: String,
        got: String,
    },
    #[error("shard {shard}: {got} bytes, the manifest says {expected}")]
    LengthMismatch {
        shard: String,
        expected: u64,
        got: u64,
    },
}
