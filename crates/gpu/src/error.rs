//! The gpu crate's one error type.

/// What can go wrong between asking for an adapter and reading a result back.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error("no WebGPU adapter: {reason}")]
    NoAdapter { reason: String },
    #[error("the adapter refused a device: {reason}")]
    NoDevice { reason: String },
    #[error("{op}: shape mismatch, expected {expected}, got {got}")]
    ShapeMismatch {
        op: &'static str,
        expected: String,
        got: String,
    },
    #[error("{what}: {requested} requested, the adapter allows {max}")]
    DeviceLimit {
        what: &'static str,
        requested: u64,
        max: u64,
    },
    #[error(
        "{kernel}: binding {binding} needs {requested} bytes, over the adapter's \
         storage buffer binding size of {max} (this kernel does not split its \
         tensors yet: use f16 storage or a smaller image)"
    )]
    BindingTooLarge {
        kernel: String,
        binding: usize,
        requested: u64,
        max: u64,
    },
    #[error(
        "{op}: even one slice of {tensor} ({unit} bytes: an image plane or a \
         norm group) is over the adapter's storage buffer binding size of {max}"
    )]
    SliceTooLarge {
        op: String,
        tensor: String,
        unit: u64,
        max: u64,
    },
    #[error("the GPU reported an error, so no result can be trusted: {reason}")]
    Device { reason: String },
    #[error("reading back {tensor} failed: {reason}")]
    ReadBack { tensor: String, reason: String },
}
