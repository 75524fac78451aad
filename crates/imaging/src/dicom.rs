//! DICOM to grey in [0, 1] as a viewer would show it: the modality LUT
//! (rescale slope and intercept), then the file's first VOI LUT if it has
//! one, else its first window (centre/width, with its VOI LUT function),
//! else the pixel range; MONOCHROME1 (white = low values) inverted. Pixel
//! decoding (uncompressed, RLE, JPEG baseline/extended/lossless) is
//! dicom-rs's, JPEG 2000 (lossless and lossy) hayro-jpeg2000's (j2k.rs), in
//! the page as in the CLI; the windowing is ours, written from PS3.3
//! C.11.2. A syntax it cannot decode is refused by name, not only UID.

use dicom_dictionary_std::tags;
use dicom_pixeldata::{PhotometricInterpretation, PixelDecoder, VoiLutFunction, WindowLevel};

use crate::{Grayscale, ImageError, check_size};

/// What is decoded, for refusals.
const DECODABLE: &str =
    "RoentGen reads uncompressed, RLE, JPEG (baseline, extended, lossless) and JPEG 2000";

pub(crate) fn corrupt(name: &str, e: impl std::fmt::Display) -> ImageError {
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
    crate::dicom_lengths::check(body).map_err(|e| corrupt(name, e))?;
    let mut obj = dicom_object::from_reader(body).map_err(|e| corrupt(name, e))?;
    let modality = obj
        .element(tags::MODALITY)
        .ok()
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let layout = header_layout(name, &obj)?;
    let frames = layout.frames;
    if crate::j2k::is_jpeg_2000(obj.meta().transfer_syntax()) {
        crate::j2k::to_native(&mut obj, name, &layout)?;
    }
    // Only the first frame: a multi-frame file (or a mutated frame count)
    // must not make us decode, and allocate for, all of them.
    let pixels = obj.decode_pixel_data_frame(0).map_err(|e| {
        let uid = obj.meta().transfer_syntax().trim_end_matches('\0');
        ImageError::Unsupported {
            name: name.to_string(),
            what: format!(
                "its pixel data ({}) cannot be decoded here: {e}; {DECODABLE}",
                transfer_syntax_in_words(uid)
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
    if frames > 1 {
        notes.push(format!("frame 1 of {frames}"));
    }
    let values: Vec<f32> = if spp == 1 {
        monochrome_display(&pixels, &raw[..w * h], &mut notes)
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

/// One frame's grey values (`raw`, rows x columns) as shown: through the
/// file's VOI LUT, else its window, else its pixel range; MONOCHROME1
/// inverted. `notes` say which.
fn monochrome_display(
    pixels: &dicom_pixeldata::DecodedPixelData<'_>,
    raw: &[f32],
    notes: &mut Vec<String>,
) -> Vec<f32> {
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
    let mono = raw.iter().map(|&v| v as f64);
    let shown: Vec<f64> = if let Some(lut) = lut.filter(|l| !l.data.is_empty()) {
        notes.push("VOI LUT from the file".into());
        let top = ((1u32 << lut.bits_stored.clamp(1, 16)) - 1) as f64;
        mono.map(|x| {
            let i =
                (x.round() as i64 - lut.min_pixel_value as i64).clamp(0, lut.data.len() as i64 - 1);
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
    let invert = *pixels.photometric_interpretation() == PhotometricInterpretation::Monochrome1;
    if invert {
        notes.push("MONOCHROME1 inverted".into());
    }
    shown
        .into_iter()
        .map(|v| if invert { 1.0 - v } else { v } as f32)
        .collect()
}

/// A transfer syntax as a person reads it: "JPEG-LS Lossless Image
/// Compression (1.2.840.10008.1.2.4.80)", or the bare UID when the standard
/// does not know it.
fn transfer_syntax_in_words(uid: &str) -> String {
    use dicom_transfer_syntax_registry::{TransferSyntaxIndex, TransferSyntaxRegistry};
    match TransferSyntaxRegistry.get(uid) {
        Some(ts) => format!("{} ({uid})", ts.name()),
        None => format!("transfer syntax {uid}, which the DICOM standard does not list"),
    }
}

/// The image a DICOM header describes, checked (`header_layout`).
pub(crate) struct Layout {
    pub rows: usize,
    pub columns: usize,
    /// 1 (grey) or 3 (colour).
    pub samples: usize,
    pub frames: u32,
}

/// The header's image size checked before any pixel is decoded, so that a
/// file claiming more than it holds (a mutated or truncated export) is
/// refused rather than allocated for: the size within `MAX_SIDE`, a sample
/// layout we read, and, when the pixels are stored uncompressed, at least
/// one frame's bytes present. Returns that size and the number of frames
/// the file says.
fn header_layout(name: &str, obj: &dicom_object::DefaultDicomObject) -> Result<Layout, ImageError> {
    let int = |tag, what: &str| -> Result<Option<u32>, ImageError> {
        match obj.element_opt(tag) {
            Ok(Some(e)) => e
                .to_int::<u32>()
                .map(Some)
                .map_err(|_| corrupt(name, format!("its {what} is not a number"))),
            _ => Ok(None),
        }
    };
    let need = |v: Option<u32>, what: &str| {
        v.ok_or_else(|| corrupt(name, format!("it has no {what}: not an image")))
    };
    let rows = need(int(tags::ROWS, "Rows")?, "Rows")? as usize;
    let columns = need(int(tags::COLUMNS, "Columns")?, "Columns")? as usize;
    check_size(name, columns, rows)?;
    let samples = int(tags::SAMPLES_PER_PIXEL, "Samples per Pixel")?.unwrap_or(1) as usize;
    let bits = need(
        int(tags::BITS_ALLOCATED, "Bits Allocated")?,
        "Bits Allocated",
    )? as usize;
    if !matches!(samples, 1 | 3) || !matches!(bits, 1 | 8 | 16 | 32) {
        return Err(ImageError::Unsupported {
            name: name.to_string(),
            what: format!(
                "{samples} samples of {bits} bits per pixel; grey or RGB of 8, 16 or 32 bits can be read"
            ),
        });
    }
    // dicom-rs asserts on a zero or too large Bits Stored (a panic ends the
    // page's worker): refuse it here.
    if let Some(stored) = int(tags::BITS_STORED, "Bits Stored")?
        && !(1..=bits as u32).contains(&stored)
    {
        return Err(corrupt(
            name,
            format!("Bits Stored is {stored}, Bits Allocated {bits}"),
        ));
    }
    let frames = match obj.element_opt(tags::NUMBER_OF_FRAMES) {
        Ok(Some(e)) => e
            .to_str()
            .ok()
            .and_then(|s| s.trim().trim_end_matches('\0').parse::<u32>().ok())
            .unwrap_or(1),
        _ => 1,
    };
    let layout = Layout {
        rows,
        columns,
        samples,
        frames,
    };
    let Ok(Some(data)) = obj.element_opt(tags::PIXEL_DATA) else {
        return Ok(layout);
    };
    let frame = (rows * columns * samples * bits).div_ceil(8);
    if let Some(fragments) = data.value().fragments() {
        // A header claiming far more pixels than the compressed bytes can
        // hold would have the decoders allocate for it. Diagnostic
        // radiographs compress 2-4:1 lossless and at most about 20:1 lossy;
        // 64:1 is the bound dicom-rs's own decoders guard with.
        let compressed: usize = fragments.iter().map(Vec::len).sum();
        if frame > 64 * compressed.max(1) {
            return Err(corrupt(
                name,
                format!(
                    "{compressed} bytes of compressed pixel data for a {columns}x{rows} frame \
                     of {frame} bytes, over 64:1"
                ),
            ));
        }
        check_codestream(
            name,
            obj.meta().transfer_syntax(),
            fragments,
            (columns, rows, samples),
        )?;
    } else if let Ok(bytes) = data.to_bytes()
        && bytes.len() < frame
    {
        return Err(corrupt(
            name,
            format!(
                "{} bytes of pixel data, one {columns}x{rows} frame needs {frame}",
                bytes.len()
            ),
        ));
    }
    Ok(layout)
}

/// The first frame's codestream must describe the image the DICOM header
/// does (size and components; for JPEG 2000 no subsampling): the decoders
/// allocate from the codestream's own header and dicom-rs's adapters write
/// its samples into a buffer sized from the DICOM header; where they differ
/// a 19 KB file asked for 29 MB, and a JPEG 2000 one panicked (found by
/// crates/imaging's fuzz test; a panic would end the page's worker).
fn check_codestream(
    name: &str,
    uid: &str,
    fragments: &[Vec<u8>],
    want: (usize, usize, usize),
) -> Result<(), ImageError> {
    let uid = uid.trim_end_matches(['\0', ' ']);
    let jpeg = uid.starts_with("1.2.840.10008.1.2.4.5") || uid == "1.2.840.10008.1.2.4.70";
    let jpeg_2000 = crate::j2k::is_jpeg_2000(uid);
    if !jpeg && !jpeg_2000 {
        return Ok(());
    }
    let (got, subsampled) = if jpeg_2000 {
        // SOC (FF4F) then SIZ (FF51): Lsiz, Rsiz, Xsiz, Ysiz, XOsiz,
        // YOsiz, XTsiz, YTsiz, XTOsiz, YTOsiz, Csiz, then per component
        // Ssiz, XRsiz, YRsiz.
        let siz = fragments
            .iter()
            .find_map(|f| {
                f.windows(4)
                    .position(|w| w == [0xff, 0x4f, 0xff, 0x51])
                    .map(|i| &f[i + 4..])
            })
            .ok_or_else(|| corrupt(name, "its JPEG 2000 pixel data has no codestream header"))?;
        let be32 = |at: usize| {
            siz.get(at..at + 4)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        };
        let c = siz
            .get(36..38)
            .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize);
        let (Some(x), Some(y), Some(x0), Some(y0), Some(c)) =
            (be32(4), be32(8), be32(12), be32(16), c)
        else {
            return Err(corrupt(
                name,
                "its JPEG 2000 codestream header is cut short",
            ));
        };
        let subsampled = (0..c).any(|i| siz.get(38 + 3 * i + 1..38 + 3 * i + 3) != Some(&[1, 1]));
        ((x.saturating_sub(x0), y.saturating_sub(y0), c), subsampled)
    } else {
        // A start-of-frame marker (FFC0-FFCF but DHT C4, JPG C8, DAC CC):
        // Lf, P, Y, X, Nf.
        let is_sof = |w: &[u8]| {
            w[0] == 0xff && (0xc0..=0xcf).contains(&w[1]) && ![0xc4, 0xc8, 0xcc].contains(&w[1])
        };
        let sof = fragments
            .iter()
            .find_map(|f| f.windows(2).position(is_sof).map(|i| &f[i + 2..]))
            .ok_or_else(|| corrupt(name, "its JPEG pixel data has no frame header"))?;
        let Some(h) = sof.get(..8) else {
            return Err(corrupt(name, "its JPEG frame header is cut short"));
        };
        let y = u16::from_be_bytes([h[3], h[4]]) as usize;
        let x = u16::from_be_bytes([h[5], h[6]]) as usize;
        ((x, y, h[7] as usize), false)
    };
    if got != want || subsampled {
        let (w, h, c) = got;
        let (columns, rows, samples) = want;
        return Err(corrupt(
            name,
            format!(
                "its compressed frame is {w}x{h} with {c} components{}, the DICOM header says \
                 {columns}x{rows} with {samples}",
                if subsampled { " (subsampled)" } else { "" }
            ),
        ));
    }
    Ok(())
}
