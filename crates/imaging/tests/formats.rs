//! Each way a radiograph arrives shows the same picture: the DICOM fixtures
//! (tests/fixtures/radiographs/make_dicom_fixtures.py) store cxr-128.png's
//! pixels uncompressed with a window, inverted (MONOCHROME1), JPEG-lossless
//! compressed, and through a VOI LUT; each must read back as the PNG.

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
    assert!(
        max_diff(&d.values, &png.values) < 1e-6,
        "{}",
        max_diff(&d.values, &png.values)
    );
    assert!(d.source.contains("window 1050.5/4081"), "{}", d.source);
    assert!(d.source.starts_with("DICOM CR"), "{}", d.source);
}

#[test]
fn monochrome1_is_inverted() {
    let png = read("cxr-128.png");
    let d = read("cxr-mono1-window.dcm");
    assert!(
        max_diff(&d.values, &png.values) < 1e-6,
        "{}",
        max_diff(&d.values, &png.values)
    );
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
    assert!(
        max_diff(&d.values, &want) < 1e-6,
        "{}",
        max_diff(&d.values, &want)
    );
    assert!(d.source.contains("VOI LUT"), "{}", d.source);
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
    let mae = small
        .values
        .iter()
        .zip(&png.values)
        .map(|(a, b)| (a - b).abs())
        .sum::<f32>()
        / png.values.len() as f32;
    assert!(mae < 0.02, "mean difference {mae}");
    let m = latent_mask(&small, 16, 16);
    assert_eq!(m.len(), 256);
    assert!(m.iter().all(|v| *v == 0.0 || *v == 1.0));
}
