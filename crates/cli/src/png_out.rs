//! PNG output with the generation parameters as text chunks, so any image
//! can be traced back to (and regenerated from) its settings.

use anyhow::Context;
use std::path::Path;

/// The chunks every image carries: (keyword, text).
pub fn write_rgb8(
    path: &Path,
    width: usize,
    height: usize,
    rgb: &[u8],
    text: &[(&str, String)],
) -> anyhow::Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), width as u32, height as u32);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    for (key, value) in text {
        // iTXt holds UTF-8 (prompts may have any script).
        enc.add_itxt_chunk(key.to_string(), value.clone())
            .context("adding a text chunk")?;
    }
    let mut w = enc.write_header().context("writing the PNG header")?;
    w.write_image_data(rgb).context("writing pixels")?;
    w.finish().context("finishing the PNG")?;
    Ok(())
}
