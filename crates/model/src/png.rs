//! The PNG every image is saved as, natively and in the page: RGB8, with the
//! generation parameters as UTF-8 text chunks, so an image can be traced back
//! to (and regenerated from) its settings.

/// Encodes `rgb` (width x height x 3 bytes) with `text` chunks.
pub fn encode_rgb8(
    width: usize,
    height: usize,
    rgb: &[u8],
    text: &[(&str, String)],
) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width as u32, height as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        for (key, value) in text {
            enc.add_itxt_chunk(key.to_string(), value.clone())
                .map_err(|e| e.to_string())?;
        }
        let mut w = enc.write_header().map_err(|e| e.to_string())?;
        w.write_image_data(rgb).map_err(|e| e.to_string())?;
        w.finish().map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// The text chunks of an image: the same keys on the CLI and the page.
pub fn metadata(req: &crate::Request, model: &str) -> Vec<(&'static str, String)> {
    vec![
        ("prompt", req.prompt.clone()),
        ("negative", req.negative.clone()),
        ("seed", req.seed.to_string()),
        ("steps", req.steps.to_string()),
        ("guidance", req.guidance.to_string()),
        ("scheduler", req.scheduler.name().to_string()),
        ("model", model.to_string()),
        ("Comment", "synthetic image — not for diagnosis".to_string()),
    ]
}
