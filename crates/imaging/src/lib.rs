//! An uploaded radiograph as the model's input. The page and `roentgen edit`
//! read the same formats with the same code: PNG (8 or 16 bit, grey or
//! colour), JPEG, and DICOM (uncompressed, RLE, JPEG baseline and lossless,
//! JPEG 2000),
//! each to grey values in [0, 1] with white as dense as the file shows it
//! (DICOM windowed by its own VOI LUT or window, MONOCHROME1 inverted); then
//! fitted to the model's size and scaled to the VAE's [-1, 1]; a painted
//! mask comes down to the latent grid the way diffusers' inpainting takes it,
//! and at image size to the weight that puts the original back outside it.

mod blend;
mod dicom;
mod dicom_lengths;
pub mod dicom_out;
mod fit;
mod input;
mod j2k;
mod raster;

pub use blend::{default_feather, edit_weight};
pub use fit::{Fit, fit};
pub use input::{EditMask, edit_mask, latent_mask, to_model_input};

/// Grey values in [0, 1], row-major, 1 = white.
#[derive(Clone, Debug, PartialEq)]
pub struct Grayscale {
    pub width: usize,
    pub height: usize,
    pub values: Vec<f32>,
    /// How the file was read, for the output's provenance ("DICOM CR,
    /// MONOCHROME1 inverted, window 2048/4096 from the file").
    pub source: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{0}: not a PNG, JPEG or DICOM file")]
    Unrecognized(String),
    #[error("{name}: {what}")]
    Corrupt { name: String, what: String },
    #[error("{name}: {what}")]
    Unsupported { name: String, what: String },
}

/// Which reader a file needs, by its first bytes (not its name: DICOM files
/// often have none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Png,
    Jpeg,
    /// With the 128-byte preamble and "DICM", or a bare data set starting at
    /// the file meta group.
    Dicom,
}

pub fn sniff(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Format::Png)
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some(Format::Jpeg)
    } else if bytes.get(128..132) == Some(b"DICM") || bytes.starts_with(b"DICM") {
        Some(Format::Dicom)
    } else {
        None
    }
}

/// Decodes an uploaded file; `name` is for messages.
pub fn decode(bytes: &[u8], name: &str) -> Result<Grayscale, ImageError> {
    let image = match sniff(bytes) {
        Some(Format::Png) => raster::png(bytes, name)?,
        Some(Format::Jpeg) => raster::jpeg(bytes, name)?,
        Some(Format::Dicom) => dicom::decode(bytes, name)?,
        None => return Err(ImageError::Unrecognized(name.to_string())),
    };
    if image.width == 0 || image.height == 0 {
        return Err(ImageError::Corrupt {
            name: name.to_string(),
            what: "the image is empty".into(),
        });
    }
    Ok(image)
}

/// Images larger than this on a side are refused before decoding (a 4k x 4k
/// radiograph is 16 M pixels; nothing the model makes needs more).
pub const MAX_SIDE: usize = 16384;

pub(crate) fn check_size(name: &str, width: usize, height: usize) -> Result<(), ImageError> {
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(ImageError::Unsupported {
            name: name.to_string(),
            what: format!("{width}x{height} pixels, more than {MAX_SIDE} on a side"),
        });
    }
    Ok(())
}
