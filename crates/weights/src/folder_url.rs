//! A model folder's URL as people paste it. Copied from a file listing, it
//! often names the manifest itself (`.../model/manifest.json`); typed, it may
//! lack the trailing slash. Both the CLI and the page append file names to
//! the folder's URL, so both take it through here.

use crate::ShardEntry;
use crate::folder::MANIFEST_FILE;

/// `url` as the folder's URL ending in `/`: a trailing `manifest.json`
/// (the file itself) is taken off first.
pub fn folder_url(url: &str) -> String {
    let url = url.trim();
    let url = match url.strip_suffix(MANIFEST_FILE) {
        Some(rest) if rest.is_empty() || rest.ends_with('/') => rest,
        _ => url,
    };
    if url.ends_with('/') || url.is_empty() {
        url.to_string()
    } else {
        format!("{url}/")
    }
}

/// Where the page asks for a shard: its file in `folder` (a `folder_url`),
/// with its sha256 as the query. Static hosts ignore the query; to HTTP
/// caches (the browser's, a CDN's, deploy/nginx's rules) it makes the URL
/// name those bytes only, so a shard can be cached as immutable and a model
/// re-converted under the same names can never be served stale.
pub fn shard_url(folder: &str, entry: &ShardEntry) -> String {
    format!("{folder}{}?sha256={}", entry.file, entry.sha256)
}

#[cfg(test)]
mod tests {
    use super::{folder_url, shard_url};
    use crate::ShardEntry;

    #[test]
    fn a_shard_url_names_its_bytes() {
        let entry = ShardEntry {
            file: "shard-00003.bin".into(),
            bytes: 10,
            sha256: "ab".repeat(32),
        };
        assert_eq!(
            shard_url("https://cdn.example.org/rg/", &entry),
            format!(
                "https://cdn.example.org/rg/shard-00003.bin?sha256={}",
                "ab".repeat(32)
            )
        );
    }

    #[test]
    fn a_pasted_manifest_url_names_its_folder() {
        for (pasted, folder) in [
            ("https://cdn.example.org/rg/", "https://cdn.example.org/rg/"),
            ("https://cdn.example.org/rg", "https://cdn.example.org/rg/"),
            (
                "https://cdn.example.org/rg/manifest.json",
                "https://cdn.example.org/rg/",
            ),
            (" demo-model/model/manifest.json ", "demo-model/model/"),
            // Only the file itself: a folder whose name ends so stays.
            (
                "https://cdn.example.org/old-manifest.json",
                "https://cdn.example.org/old-manifest.json/",
            ),
        ] {
            assert_eq!(folder_url(pasted), folder, "{pasted}");
        }
    }
}
