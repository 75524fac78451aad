//! Each way a radiograph arrives shows the same picture: the DICOM fixtures
//! (tests/fixtures/radiographs/make_dicom_fixtures.py) store cxr-128.png's
//! pixels uncompressed with a window, inverted (MONOCHROME1), JPEG-lossless
//! compressed, through a VOI LUT, JPEG 2000 compressed (lossless exactly,
//! lossy closely) and as a 15-bit MONOCHROME1 computed radiograph with a
//! window, a VOI LUT or neither; each must read back as the PNG.

use std::path::PathBuf;

use roentgen_imaging::{Fit, Grayscale, decode, fit, latent_mask, sniff};

fn fixture(name: &str) -> (Vec<u8>, String) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/radiographs")
        .join(name);
    (std::fs::read(&path).unwrap(), name.to_string())
}

fn read(name: &str) -> Grayscale {
    let (bytes, name) = fixture(name);
    decode(&bytes, &name).unwrap_or_else(|e| panic!("{e}"))
}

/// `got` within `tol` of `want` everywhere; the failure says by how much.
fn assert_close(got: &[f32], want: &[f32], tol: f32, what: &str) {
    let worst = max_diff(got, want);
    assert!(
        worst < tol,
        "{what}: max difference {worst} (tolerance {tol})"
    );
}

fn mean_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn windowed_dicom_shows_the_png() {
    let png = read("cxr-128.png");
    assert_eq!((png.width, png.height), (128, 128));
    let d = read("cxr-mono2-window.dcm");
    assert_eq!((d.width, d.height), (128, 128));
    assert_close(&d.values, &png.values, 1e-6, "windowed");
    assert!(d.source.contains("window 1050.5/4081"), "{}", d.source);
    assert!(d.source.starts_with("DICOM CR"), "{}", d.source);
}

#[test]
fn monochrome1_is_inverted() {
    let png = read("cxr-128.png");
    let d = read("cxr-mono1-window.dcm");
    assert_close(&d.values, &png.values, 1e-6, "MONOCHROME1");
    assert!(d.source.contains("MONOCHROME1 inverted"), "{}", d.source);
}

#[test]
fn jpeg_lossless_dicom_decodes_to_the_same_pixels() {
    let (bytes, _) = fixture("cxr-jpeg-lossless.dcm");
    // The transfer syntax really is JPEG Lossless SV1.
    let ts = b"1.2.840.10008.1.2.4.70";
    assert!(bytes.windows(ts.len()).any(|w| w == ts));
    let a = read("cxr-jpeg-lossless.dcm");
    let b = read("cxr-mono2-window.dcm");
    assert_eq!(a.values, b.values);
}

#[test]
fn voi_lut_sequence_is_applied() {
    let png = read("cxr-128.png");
    let d = read("cxr-voi-lut.dcm");
    let want: Vec<f32> = png
        .values
        .iter()
        .map(|v| {
            let stored = 16.0 * (v * 255.0).round() as f64;
            ((65535.0 * stored / 4095.0).round() / 65535.0) as f32
        })
        .collect();
    assert_close(&d.values, &want, 1e-6, "VOI LUT");
    assert!(d.source.contains("VOI LUT"), "{}", d.source);
}

#[test]
fn jpeg_2000_dicom_decodes_lossless_exactly_and_lossy_closely() {
    let png = read("cxr-128.png");
    for (name, uid) in [
        ("cxr-j2k-lossless.dcm", "1.2.840.10008.1.2.4.90"),
        ("cxr-j2k-lossy.dcm", "1.2.840.10008.1.2.4.91"),
    ] {
        let (bytes, _) = fixture(name);
        assert!(
            bytes.windows(uid.len()).any(|w| w == uid.as_bytes()),
            "{name} is not {uid}"
        );
        let d = read(name);
        assert_eq!((d.width, d.height), (128, 128));
        assert!(d.source.contains("window 1050.5/4081"), "{}", d.source);
        let worst = max_diff(&d.values, &png.values);
        let mean = mean_diff(&d.values, &png.values);
        println!("{name}: max error {worst:.2e}, mean {mean:.2e} (of 1)");
        if uid.ends_with(".90") {
            assert!(worst < 1e-6, "lossless: {worst}");
        } else {
            // Lossy: what OpenJPEG itself decodes (through the same window,
            // as a 16-bit PNG: half a 16-bit level of rounding). The 9/7
            // wavelet is computed in floating point and rounded to stored
            // levels: hayro-jpeg2000 and OpenJPEG may round a sample to
            // neighbouring levels, one level of the 4081-wide window (the
            // compression itself moves it 700 times more on average).
            let reference = read("cxr-j2k-lossy-ref.png");
            let off = max_diff(&d.values, &reference.values);
            let off_mean = mean_diff(&d.values, &reference.values);
            println!("{name}: against OpenJPEG's decode, max {off:.2e}, mean {off_mean:.2e}");
            assert!(
                off <= 1.0 / 4080.0 + 0.5 / 65535.0 + 1e-6,
                "lossy vs OpenJPEG: {off}"
            );
        }
    }
}

#[test]
fn a_15_bit_monochrome1_computed_radiograph_shows_the_png_by_window_lut_or_range() {
    let png = read("cxr-128.png");
    let window = read("cxr-cr15-window.dcm");
    assert_close(&window.values, &png.values, 1e-6, "window");
    assert!(
        window.source.contains("window 13750.5/25501"),
        "{}",
        window.source
    );
    assert!(
        window.source.contains("MONOCHROME1 inverted"),
        "{}",
        window.source
    );
    let lut = read("cxr-cr15-voi-lut.dcm");
    // Entry i = round(65535 i / 25500), i = 100 (255 - p): exact at 8 bits.
    assert_close(&lut.values, &png.values, 1e-6, "VOI LUT");
    assert!(lut.source.contains("VOI LUT"), "{}", lut.source);
    // No window and no LUT: the stored range stretched to [0, 1], inverted.
    let raw = read("cxr-cr15-raw.dcm");
    let (lo, hi) = png
        .values
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    let want: Vec<f32> = png.values.iter().map(|v| (v - lo) / (hi - lo)).collect();
    assert_close(&raw.values, &want, 1e-5, "range");
    assert!(raw.source.contains("pixel range"), "{}", raw.source);
}

#[test]
fn a_transfer_syntax_we_cannot_decode_is_named_in_words() {
    // The JPEG 2000 file relabelled JPEG-LS (same length UID): the reader
    // has no JPEG-LS decoder, and says which syntax it met.
    let (bytes, _) = fixture("cxr-j2k-lossless.dcm");
    let (from, to) = (b"1.2.840.10008.1.2.4.90", b"1.2.840.10008.1.2.4.80");
    let at = bytes.windows(from.len()).position(|w| w == from).unwrap();
    let mut relabelled = bytes.clone();
    relabelled[at..at + to.len()].copy_from_slice(to);
    let err = decode(&relabelled, "pacs.dcm").unwrap_err().to_string();
    assert!(
        err.starts_with("pacs.dcm: its pixel data (JPEG-LS Lossless Image Compression (1.2.840.10008.1.2.4.80)) cannot be decoded here"),
        "{err}"
    );
}

#[test]
fn wrong_and_broken_files_are_refused_by_name() {
    let err = decode(b"not an image at all", "notes.txt")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("notes.txt: not a PNG, JPEG or DICOM file"),
        "{err}"
    );
    let (bytes, _) = fixture("cxr-mono2-window.dcm");
    let cut = &bytes[..bytes.len() / 2];
    let err = decode(cut, "cut.dcm").unwrap_err().to_string();
    assert!(err.starts_with("cut.dcm: "), "{err}");
    let (png, _) = fixture("cxr-128.png");
    let err = decode(&png[..png.len() / 2], "cut.png")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("cut.png: "), "{err}");
    assert_eq!(sniff(&png), Some(roentgen_imaging::Format::Png));
}

#[test]
fn the_full_radiograph_fits_the_model_and_keeps_its_look() {
    let full = read("nih-cxr14-00000001_000.png");
    assert_eq!((full.width, full.height), (512, 512));
    let small = fit(&full, 128, 128, Fit::Crop);
    let png = read("cxr-128.png");
    // Our antialiased bilinear against PIL's bicubic: the same picture.
    let mae = mean_diff(&small.values, &png.values);
    assert!(mae < 0.02, "mean difference {mae}");
    let m = latent_mask(&small, 16, 16);
    assert_eq!(m.len(), 256);
    assert!(m.iter().all(|v| *v == 0.0 || *v == 1.0));
}
