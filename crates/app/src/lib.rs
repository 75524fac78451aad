//! The RoentGen Web page (Leptos, client-side rendered).
//!
//! Components live one per file; the math lives in the gpu and model crates.

mod adapter_panel;
mod app;
mod fetch;
mod gallery;
mod generate_panel;
mod http;
mod loader;
mod presets;
mod probe;
mod runner;
mod shard_store;

pub use app::App;
