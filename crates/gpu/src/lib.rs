//! The GPU half of RoentGen Web: a thin wgpu runtime and one Rust op per WGSL
//! kernel family in `shaders/`.
//!
//! Every op has a naive CPU twin in [`reference`] so the tests can check the GPU
//! against arithmetic nobody can get wrong. The same code runs natively (Vulkan,
//! lavapipe in CI) and in the browser (WebGPU), so nothing here blocks: results
//! come back through `async` read-backs.

pub mod context;
pub mod error;
pub mod kernel;
pub mod memory;
pub mod ops;
pub mod precision;
pub mod profile;
pub mod reference;
mod residency;
pub mod selfcheck;
pub mod shaders;
pub mod stats;
pub mod tensor;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use context::{AdapterReport, ContextOptions, GpuContext, LimitsReport};
pub use error::GpuError;
pub use precision::{ComputePath, DType};
pub use stats::{Counters, GpuStats, WorkPeaks};
pub use tensor::Tensor;
