//! (Worker side.) A dropped or chosen diffusers folder as the converter's
//! `Folder`: each read is a `File.slice` read synchronously by
//! `FileReaderSync` (dedicated workers have it), so a 3.4 GB checkpoint is
//! never in memory whole, and the converter's code is the same as natively.

use std::io::{self, Read, Seek, SeekFrom};

use roentgen_convert::ConvertError;
use roentgen_convert::folder::{Folder, ReadSeek};

/// Files by their path inside the folder ("unet/config.json").
pub struct WebFolder {
    files: Vec<(String, web_sys::File)>,
    name: String,
}

/// Paths as the browser gives them start with the folder's own name
/// ("RoentGen/unet/config.json"); the converter wants them relative to it.
/// Returns (folder name, relative paths) when every path shares one first
/// component, else the paths unchanged.
pub fn relative(paths: &[String]) -> (Option<String>, Vec<String>) {
    let trimmed: Vec<&str> = paths.iter().map(|p| p.trim_start_matches('/')).collect();
    let first = trimmed
        .first()
        .and_then(|p| p.split_once('/'))
        .map(|(f, _)| f);
    match first {
        Some(f)
            if trimmed
                .iter()
                .all(|p| p.split_once('/').is_some_and(|(g, _)| g == f)) =>
        {
            (
                Some(f.to_string()),
                trimmed
                    .iter()
                    .map(|p| p[f.len() + 1..].to_string())
                    .collect(),
            )
        }
        _ => (None, trimmed.iter().map(|p| p.to_string()).collect()),
    }
}

impl WebFolder {
    pub fn new(name: String, files: Vec<(String, web_sys::File)>) -> Self {
        Self { files, name }
    }
}

impl Folder for WebFolder {
    fn files(&self) -> Result<Vec<(String, u64)>, ConvertError> {
        Ok(self
            .files
            .iter()
            .map(|(p, f)| (p.clone(), f.size() as u64))
            .collect())
    }

    fn open(&self, path: &str) -> Result<Box<dyn ReadSeek + '_>, ConvertError> {
        let file = self
            .files
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, f)| f.clone())
            .ok_or_else(|| ConvertError::Missing {
                path: self.describe(path),
            })?;
        let reader = web_sys::FileReaderSync::new().map_err(|e| {
            ConvertError::io(
                self.describe(path),
                format!("no FileReaderSync here: {}", crate::http::js(e)),
            )
        })?;
        let len = file.size() as u64;
        Ok(Box::new(io::BufReader::with_capacity(
            64 << 10,
            SliceReader {
                file,
                reader,
                pos: 0,
                len,
            },
        )))
    }

    fn describe(&self, path: &str) -> String {
        format!("{}/{path}", self.name)
    }
}

/// Reads a `File` a slice at a time.
struct SliceReader {
    file: web_sys::File,
    reader: web_sys::FileReaderSync,
    pos: u64,
    len: u64,
}

impl Read for SliceReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (buf.len() as u64).min(self.len.saturating_sub(self.pos)) as usize;
        if n == 0 {
            return Ok(0);
        }
        let blob = self
            .file
            .slice_with_f64_and_f64(self.pos as f64, (self.pos + n as u64) as f64)
            .and_then(|b| self.reader.read_as_array_buffer(&b))
            .map_err(|e| io::Error::other(crate::http::js(e)))?;
        let bytes = js_sys::Uint8Array::new(&blob);
        if bytes.length() as usize != n {
            return Err(io::Error::other(format!(
                "the file changed while it was read ({} of {n} bytes)",
                bytes.length()
            )));
        }
        bytes.copy_to(&mut buf[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for SliceReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let at = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = at.ok_or_else(|| io::Error::other("seek before the start of the file"))?;
        Ok(self.pos)
    }
}
