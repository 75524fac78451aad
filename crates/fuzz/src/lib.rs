//! Bounded, seeded mutation fuzzing on stable Rust, for every parser that
//! reads what a stranger can hand the page or the CLI (manifest, safetensors,
//! PyTorch pickle and zip, npy, share links).
//!
//! Why not cargo-fuzz: it needs nightly and runs unbounded; CI needs a fixed
//! time and reproducible inputs. Each target starts from committed fixtures,
//! mutates them (bytes, lengths, numbers, names) with a seeded generator, and
//! holds every input to three rules: no panic, no single allocation larger
//! than the input justifies (a test binary installs [`CountingAlloc`]), and
//! every refusal has a message. A failing input is written under
//! `target/fuzz-failures/` so it can be replayed.

mod alloc;
mod mutate;
mod run;

pub use alloc::{CountingAlloc, largest_allocation, reset_largest_allocation};
pub use mutate::Mutator;
pub use run::{Outcome, Report, Target, fuzz};
