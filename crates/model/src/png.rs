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

/// What an edited image was made from, written beside its settings.
#[derive(Clone, Debug, PartialEq)]
pub struct EditedFrom {
    /// The uploaded file's name (never its pixels or other contents).
    pub image: String,
    /// How it was read ("DICOM CR, window 1050.5/4081 from the file").
    pub read_as: String,
    pub strength: f64,
    /// The mask file's name, when the edit was masked.
    pub mask: Option<String>,
    /// The seam's width in pixels when the original was put back outside
    /// the mask (`EditSource::blend`); None when the decoder's output was
    /// kept as it is.
    pub blend_feather: Option<f32>,
}

/// `metadata` for an edited image: it says so, and from what.
pub fn edit_metadata(
    req: &crate::Request,
    model: &str,
    from: &EditedFrom,
) -> Vec<(&'static str, String)> {
    let mut text: Vec<_> = metadata(req, model)
        .into_iter()
        .filter(|(k, _)| *k != "Comment")
        .collect();
    text.extend([
        ("edited_from", from.image.clone()),
        ("edited_read_as", from.read_as.clone()),
        ("strength", from.strength.to_string()),
        ("mask", from.mask.clone().unwrap_or_else(|| "none".into())),
        (
            "outside_mask",
            match (&from.mask, from.blend_feather) {
                (None, _) => "no mask".into(),
                (Some(_), Some(f)) => format!("the original's pixels, seam feathered over {f} px"),
                (Some(_), None) => "as the VAE decoded it (diffusers' output)".into(),
            },
        ),
        (
            "Comment",
            format!(
                "edited synthetic image, made from {} with the prompt above — not for diagnosis",
                from.image
            ),
        ),
    ]);
    text
}
