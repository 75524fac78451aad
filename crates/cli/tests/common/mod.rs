//! What every CLI test does: run the built `roentgen`, check how it ended,
//! make scratch folders that clean up after themselves, and hand latents to
//! it and back as `.npy` (written and read here, independently of the CLI's
//! own `npy.rs`, so a shared mistake cannot pass).
#![allow(dead_code)] // each test file uses its own share of these

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn roentgen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_roentgen"))
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .unwrap()
}

pub fn ok(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "roentgen failed: {stderr}");
    stderr
}

pub fn fails(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "expected failure, got success: {stderr}"
    );
    assert!(
        stderr.contains(needle),
        "error should mention {needle:?}: {stderr}"
    );
}

/// A path `name` in a fresh folder under the temp dir, and the guard that
/// deletes the folder (even when an assertion fails) once the test lets go.
pub fn tmp(name: &str) -> (tempfile::TempDir, PathBuf) {
    let guard = tempfile::Builder::new()
        .prefix("roentgen-cli-test-")
        .tempdir()
        .unwrap();
    let path = guard.path().join(name);
    (guard, path)
}

/// An f32 `.npy` (version 1, C order), as numpy writes it.
pub fn write_npy(path: &Path, shape: &[usize], values: &[f32]) {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({},), }}",
        dims.join(", ")
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    std::fs::write(path, out).unwrap();
}

/// The values of an f32 `.npy` version 1 (the CLI's `--save-latents`).
pub fn read_npy(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap();
    assert!(
        bytes.starts_with(b"\x93NUMPY\x01\x00"),
        "{path:?} is not .npy v1"
    );
    let len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    bytes[10 + len..]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// ||a - b|| / ||b|| (shared with every test: roentgen_gpu::testing).
#[allow(unused_imports)] // as dead_code above: not every test file measures
pub use roentgen_gpu::testing::rel_l2;
