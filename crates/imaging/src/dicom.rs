//! DICOM to grey in [0, 1] as a viewer would show it: the modality LUT
//! (rescale slope and intercept), then the file's first VOI LUT if it has
//! one, else its first window (centre/width, with its VOI LUT function),
//! else the pixel range; MONOCHROME1 (white = low values) inverted. Pixel
//! decoding (uncompressed, RLE, JPEG baseline/extended/lossless) is
//! dicom-rs's; the windowing is ours, written from PS3.3 C.11.2.

use dicom_dictionary_std::tags;
use dicom_pixeldata::{PhotometricInterpretation, PixelDecoder, VoiLutFunction, WindowLevel};

use crate::{Grayscale, ImageError, check_size};

fn corrupt(name: &str, e: impl std::fmt::Display) -> ImageError {
    ImageError::Corrupt {
        name: name.to_string(),
        what: e.to_string(),
    }
}

/// The window of PS3.3 C.11.2.1.2, to [0, 1].
pub(crate) fn window(x: f64, w: WindowLevel, function: VoiLutFunction) -> f64 {
    let (c, width) = (w.center, w.width);
    match function {
        VoiLutFunction::Linear => {
            let width = width.max(1.0);
            if x <= c - 0.5 - (width - 1.0) / 2.0 {
                0.0
            } else if x > c - 0.5 + (width - 1.0) / 2.0 {
                1.0
            } else {
                (x - (c - 0.5)) / (width - 1.0).max(f64::MIN_POSITIVE) + 0.5
            }
        }
        VoiLutFunction::LinearExact => ((x - c) / width + 0.5).clamp(0.0, 1.0),
        VoiLutFunction::Sigmoid => 1.0 / (1.0 + (-4.0 * (x - c) / width).exp()),
    }
}

pub(crate) fn decode(bytes: &[u8], name: &str) -> Result<Grayscale, ImageError> {
    // The 128-byte preamble is optional on the wire; the reader starts at "DICM".
    let body = if bytes.get(128..132) == Some(b"DICM") {
        &bytes[128..]
    } else {
        bytes
    };
    let obj = dicom_object::from_reader(body).map_err(|e| corrupt(name, e))?;
    let modality = obj
        .element(tags::MODALITY)
        .ok()
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let pixels = obj.decode_pixel_data().map_err(|e| {
        let ts = obj
            .meta()
            .transfer_syntax()
            .trim_end_matches('\0')
            .to_string();
        ImageError::Unsupported {
            name: name.to_string(),
            what: format!(
                "its pixel data (transfer syntax {ts}) cannot be decoded here: {e}; \
                 uncompressed, RLE and JPEG (baseline, extended, lossless) can"
            ),
        }
    })?;
    let (w, h) = (pixels.columns() as usize, pixels.rows() as usize);
    check_size(name, w, h)?;
    let spp = pixels.samples_per_pixel() as usize;
    let raw: Vec<f32> = pixels.to_vec_frame(0).map_err(|e| corrupt(name, e))?;
    if raw.len() < w * h * spp {
        return Err(corrupt(name, "fewer pixels than rows x columns"));
    }
    let photometric = pixels.photometric_interpretation().clone();
    let mut notes = vec![];
    if pixels.number_of_frames() > 1 {
        notes.push(format!("frame 1 of {}", pixels.number_of_frames()));
    }
    let values: Vec<f32> = if spp == 1 {
        let lut = pixels
            .voi_lut_sequence()
            .ok()
            .flatten()
            .and_then(|l| l.first().cloned());
        let win = pixels
            .window()
            .ok()
            .flatten()
            .and_then(|l| l.first().copied());
        let function = pixels
            .voi_lut_function()
            .ok()
            .flatten()
            .and_then(|f| f.first().copied())
            .unwrap_or_default();
        let mono = raw[..w * h].iter().map(|&v| v as f64);
        let shown: Vec<f64> = if let Some(lut) = lut.filter(|l| !l.data.is_empty()) {
            notes.push("VOI LUT from the file".into());
            let top = ((1u32 << lut.bits_stored.clamp(1, 16)) - 1) as f64;
            mono.map(|x| {
                let i = (x.round() as i64 - lut.min_pixel_value as i64)
                    .clamp(0, lut.data.len() as i64 - 1);
                lut.data[i as usize] as f64 / top
            })
            .collect()
        } else if let Some(win) = win.filter(|w| w.width > 0.0) {
            notes.push(format!("window {}/{} from the file", win.center, win.width));
            mono.map(|x| window(x, win, function)).collect()
        } else {
            let v: Vec<f64> = mono.collect();
            let (lo, hi) = v
                .iter()
                .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
            notes.push("no window in the file: its pixel range".into());
            let span = (hi - lo).max(f64::MIN_POSITIVE);
            v.iter().map(|x| (x - lo) / span).collect()
        };
        let invert = photometric == PhotometricInterpretation::Monochrome1;
        if invert {
            notes.push("MONOCHROME1 inverted".into());
        }
        shown
            .into_iter()
            .map(|v| if invert { 1.0 - v } else { v } as f32)
            .collect()
    } else {
        // Colour (secondary captures): already display values.
        let top = ((1u64 << pixels.bits_stored().clamp(1, 16)) - 1) as f32;
        notes.push(format!("{photometric:?} averaged to grey"));
        raw.chunks_exact(spp)
            .take(w * h)
            .map(|c| c[..3.min(spp)].iter().sum::<f32>() / (3.min(spp) as f32 * top))
            .collect()
    };
    let mut source = format!("DICOM {modality}").trim_end().to_string();
    for n in notes {
        source.push_str(", ");
        source.push_str(&n);
    }
    Ok(Grayscale {
        width: w,
        height: h,
        values: values.into_iter().map(|v| v.clamp(0.0, 1.0)).collect(),
        source,
    })
}
