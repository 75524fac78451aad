//! The "DICOM" link beside each finished image: the PNG the page shows,
//! turned into a Secondary Capture marked synthetic
//! (`roentgen_imaging::dicom_out::from_png`, the CLI's writer) with fresh
//! UIDs from `crypto.getRandomValues`, held as a blob URL while the image is
//! on the page. Made when the image is shown (a few milliseconds for
//! 512x512), so the link is a plain download link.

use base64::Engine;
use wasm_bindgen::JsCast;

/// A blob: URL of the DICOM file for a `data:image/png;base64,` image.
pub fn dicom_url(png_data_url: &str) -> Result<String, String> {
    let b64 = png_data_url
        .strip_prefix("data:image/png;base64,")
        .ok_or("the image is not a PNG data URL")?;
    let png = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| e.to_string())?;
    let mut random = [0u8; 16];
    let crypto = web_sys::window()
        .ok_or("no window")?
        .crypto()
        .map_err(|_| "no crypto.getRandomValues for the file's UIDs")?;
    crypto
        .get_random_values_with_u8_array(&mut random)
        .map_err(|_| "crypto.getRandomValues failed")?;
    let now = (js_sys::Date::now() / 1000.0) as u64;
    let dcm = roentgen_imaging::dicom_out::from_png(
        &png,
        random,
        now,
        concat!("RoentGen Web page ", env!("CARGO_PKG_VERSION")),
    )?;
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(dcm.as_slice()));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("application/dicom");
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options)
        .map_err(|e| format!("{e:?}"))?;
    web_sys::Url::create_object_url_with_blob(blob.unchecked_ref()).map_err(|e| format!("{e:?}"))
}

pub fn revoke(url: &str) {
    let _ = web_sys::Url::revoke_object_url(url);
}

/// `roentgen-seed1.png` -> `roentgen-seed1.dcm`.
pub fn file_name(png_name: &str) -> String {
    match png_name.strip_suffix(".png") {
        Some(stem) => format!("{stem}.dcm"),
        None => format!("{png_name}.dcm"),
    }
}
