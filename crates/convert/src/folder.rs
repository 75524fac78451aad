//! What the converter reads: a folder's files by relative path, each opened
//! for reading at any offset. On disk that is `std::fs`; in the page it is
//! the dropped `File`s, read a slice at a time (`FileReaderSync` in the
//! worker), never whole.

use std::io::{Read, Seek};

use crate::error::{ConvertError, Result};

/// Readable at any offset.
pub trait ReadSeek: Read + Seek {}
impl<T: Read + Seek> ReadSeek for T {}

/// A diffusers folder, wherever its files are.
pub trait Folder {
    /// Every file as (path relative to the folder with `/` separators, size).
    fn files(&self) -> Result<Vec<(String, u64)>>;
    /// One file, to read in slices.
    fn open(&self, path: &str) -> Result<Box<dyn ReadSeek + '_>>;
    /// Where `path` is, for messages ("/home/me/roentgen/unet/config.json").
    fn describe(&self, path: &str) -> String;
}

/// Small files (configs, tokenizer) are read whole, up to this size.
pub const MAX_SMALL_FILE: u64 = 64 << 20;

/// A small file's bytes; refuses one larger than [`MAX_SMALL_FILE`].
pub fn read_small(folder: &dyn Folder, path: &str, size: u64) -> Result<Vec<u8>> {
    if size > MAX_SMALL_FILE {
        return Err(ConvertError::TooLarge {
            path: folder.describe(path),
            size,
        });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    folder
        .open(path)?
        .take(MAX_SMALL_FILE)
        .read_to_end(&mut bytes)
        .map_err(|e| ConvertError::io(folder.describe(path), e))?;
    Ok(bytes)
}

/// A folder on disk.
#[cfg(not(target_arch = "wasm32"))]
pub struct DirFolder(pub std::path::PathBuf);

#[cfg(not(target_arch = "wasm32"))]
impl Folder for DirFolder {
    fn files(&self) -> Result<Vec<(String, u64)>> {
        fn walk(
            root: &std::path::Path,
            dir: &std::path::Path,
            depth: usize,
            out: &mut Vec<(String, u64)>,
        ) -> Result<()> {
            let io = ConvertError::at::<std::io::Error>(dir);
            for e in std::fs::read_dir(dir).map_err(&io)? {
                let e = e.map_err(&io)?;
                let meta = e.metadata().map_err(&io)?;
                let path = e.path();
                if meta.is_dir() {
                    // diffusers folders are two levels deep; deeper is not ours.
                    if depth < 2 {
                        walk(root, &path, depth + 1, out)?;
                    }
                } else if let Ok(rel) = path.strip_prefix(root) {
                    let rel: Vec<String> = rel
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect();
                    out.push((rel.join("/"), meta.len()));
                }
            }
            Ok(())
        }
        let mut out = Vec::new();
        walk(&self.0, &self.0, 0, &mut out)?;
        out.sort();
        Ok(out)
    }

    fn open(&self, path: &str) -> Result<Box<dyn ReadSeek + '_>> {
        let full = self.0.join(path);
        let f = std::fs::File::open(&full).map_err(ConvertError::at(&full))?;
        Ok(Box::new(std::io::BufReader::with_capacity(1 << 20, f)))
    }

    fn describe(&self, path: &str) -> String {
        self.0.join(path).display().to_string()
    }
}
