//! The RoentGen Web page (Leptos, client-side rendered).
//!
//! Components live one per file; the math lives in the gpu and model crates.

mod adapter_panel;
mod app;
mod fetch;
mod generate_panel;
mod http;
mod probe;
mod shard_store;

pub use app::App;
