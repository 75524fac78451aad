//! The SD 1.x and 2.x text-to-image model: tokenizer, CLIP text encoder, UNet, VAE
//! decoder, schedulers and the pipeline, written once against [`Backend`]
//! and run on the GPU kernels or on the CPU reference ops.

pub mod arch;
pub mod attention_maps;
pub mod backend;
pub mod clip;
pub mod config;
pub mod demographics;
pub mod error;
pub mod family;
#[cfg(not(target_arch = "wasm32"))]
mod folder;
pub mod image_size;
pub mod loader;
pub mod nn;
pub mod noise;
pub mod pipeline;
pub mod plan;
pub mod png;
pub mod presets;
pub mod preview;
pub mod sampler;
pub mod scheduler;
pub mod share;
pub mod spec;
pub mod tokenizer;
pub mod unet;
pub mod vae;
pub mod vb;
pub mod weights;

pub use backend::{Backend, CpuBackend, CpuTensor, GpuBackend};
pub use error::ModelError;
pub use family::Family;
pub use image_size::ImageSize;
pub use loader::ModelLoader;
pub use pipeline::{Checkpoint, EditSource, GivenNoise, Model, Output, Request, RunOptions, Step};
pub use scheduler::SchedulerKind;
pub use spec::Spec;
pub use tokenizer::{ClipTokenizer, Tokens};
pub use weights::Weights;
