//! What every CLI test does: run the built `roentgen`, check how it ended,
//! and make scratch folders that clean up after themselves.
#![allow(dead_code)] // each test file uses its own share of these

use std::path::PathBuf;
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
