//! Helpers shared by the weights-tools tests.

use std::path::PathBuf;

/// A fresh folder under the temp dir named from `prefix`, and the guard that
/// deletes it (even when an assertion fails) once the test lets go of it.
pub fn tmp(prefix: &str) -> (tempfile::TempDir, PathBuf) {
    let guard = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
    let path = guard.path().to_path_buf();
    (guard, path)
}
