//! A converted weight folder on local disk: read its manifest, verify it,
//! write one. (The browser reads the same format over HTTP and from OPFS.)

use std::fs;
use std::io::Read;
use std::path::Path;

use crate::{Manifest, Sha256Stream, WeightsError};

pub const MANIFEST_FILE: &str = "manifest.json";

fn io(path: &Path, e: std::io::Error) -> WeightsError {
    WeightsError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

pub fn read_manifest(dir: &Path) -> Result<Manifest, WeightsError> {
    let path = dir.join(MANIFEST_FILE);
    Manifest::from_json(&fs::read_to_string(&path).map_err(|e| io(&path, e))?)
}

/// Streams every shard through sha256 (1 MiB at a time) and checks its size
/// and digest; `progress(shard index, bytes done, bytes total)` after each chunk.
pub fn verify_dir(
    dir: &Path,
    mut progress: impl FnMut(usize, u64, u64),
) -> Result<Manifest, WeightsError> {
    let manifest = read_manifest(dir)?;
    let total: u64 = manifest.shards.iter().map(|s| s.bytes).sum();
    let mut done = 0;
    let mut buf = vec![0u8; 1 << 20];
    for (i, shard) in manifest.shards.iter().enumerate() {
        let path = dir.join(&shard.file);
        let mut file = fs::File::open(&path).map_err(|e| io(&path, e))?;
        let mut hash = Sha256Stream::default();
        loop {
            let n = file.read(&mut buf).map_err(|e| io(&path, e))?;
            if n == 0 {
                break;
            }
            hash.update(&buf[..n]);
            done += n as u64;
            progress(i, done, total);
        }
        hash.finish(&shard.file, shard.bytes, &shard.sha256)?;
    }
    Ok(manifest)
}

/// Writes the manifest and shard files into `dir` (created if missing).
pub fn write_dir(
    dir: &Path,
    manifest: &Manifest,
    shards: &[(String, Vec<u8>)],
) -> Result<(), WeightsError> {
    fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    for (name, bytes) in shards {
        let path = dir.join(name);
        fs::write(&path, bytes).map_err(|e| io(&path, e))?;
    }
    let path = dir.join(MANIFEST_FILE);
    fs::write(&path, manifest.to_json()).map_err(|e| io(&path, e))
}
