//! Helpers shared by the weights-tools tests.

use std::path::{Path, PathBuf};

/// A fresh folder under the temp dir named from `prefix`, and the guard that
/// deletes it (even when an assertion fails) once the test lets go of it.
pub fn tmp(prefix: &str) -> (tempfile::TempDir, PathBuf) {
    let guard = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
    let path = guard.path().to_path_buf();
    (guard, path)
}

/// `weights-tools verify` passes `dir`: shards and the architecture, by the
/// table the loader checks (a model may carry its VAE encoder).
pub fn verifies(dir: &Path) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_weights-tools"))
        .arg("verify")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}
