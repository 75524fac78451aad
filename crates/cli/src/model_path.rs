//! `--model` as people paste it: a converted folder or its http(s) URL, or
//! either one naming the folder's `manifest.json` itself (as copied from a
//! file listing). Parsed by clap, before anything is read.

use std::path::PathBuf;

use roentgen_weights::folder::MANIFEST_FILE;

/// A folder or a URL; a URL comes back as its folder's URL (ending in `/`).
pub fn model_location(s: &str) -> Result<String, String> {
    if s.starts_with("http://") || s.starts_with("https://") {
        return Ok(roentgen_weights::folder_url(s));
    }
    model_dir(s).map(|p| p.to_string_lossy().into_owned())
}

/// A local folder: a path naming its manifest names the folder.
pub fn model_dir(s: &str) -> Result<PathBuf, String> {
    let mut p = PathBuf::from(s.trim());
    if p.file_name().is_some_and(|f| f == MANIFEST_FILE) && p.is_file() {
        p.pop();
        if p.as_os_str().is_empty() {
            p.push(".");
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_names_its_folder() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../demo-model/model");
        let manifest = root.join("manifest.json");
        assert_eq!(model_dir(manifest.to_str().unwrap()).unwrap(), root);
        assert_eq!(model_dir(root.to_str().unwrap()).unwrap(), root);
        assert_eq!(
            model_location("https://cdn.example.org/rg/manifest.json").unwrap(),
            "https://cdn.example.org/rg/"
        );
    }
}
