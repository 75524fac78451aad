//! The RoentGen Web page (Leptos, client-side rendered).
//!
//! Components live one per file; the math lives in the gpu and model crates.

//! The page's thread runs the UI only; a Web Worker
//! (`src/bin/roentgen-worker.rs`, [`engine`]) owns the GPU device, the model
//! and the downloads, and the two talk in `protocol` messages.

mod adapter_panel;
mod app;
mod converting;
mod device_check;
mod dicom_link;
mod dropped;
mod edit_panel;
mod editing;
pub mod engine;
mod fetch;
mod gallery;
mod generate_panel;
mod global;
mod http;
mod loader;
mod model_store;
mod news;
mod peer_bench;
mod presenter;
mod probe;
mod profile_step;
mod protocol;
mod runner;
mod shard_store;
mod web_folder;
mod worker_client;
mod worker_state;

pub use app::App;
