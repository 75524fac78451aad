//! PNG and JPEG to grey: colour images are averaged over R, G and B (a
//! radiograph saved as RGB has three equal channels), alpha ignored.

use crate::{Grayscale, ImageError, check_size};

fn corrupt(name: &str, e: impl std::fmt::Display) -> ImageError {
    ImageError::Corrupt {
        name: name.to_string(),
        what: e.to_string(),
    }
}

/// Colour samples of one pixel (grey or RGB, with or without alpha) to grey.
fn grey(samples: &[f32], channels: usize) -> f32 {
    let colour = if channels >= 3 {
        &samples[..3]
    } else {
        &samples[..1]
    };
    colour.iter().sum::<f32>() / colour.len() as f32
}

pub(crate) fn png(bytes: &[u8], name: &str) -> Result<Grayscale, ImageError> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    // Palettes and low bit depths expanded; 16-bit samples kept.
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().map_err(|e| corrupt(name, e))?;
    let (w, h) = {
        let info = reader.info();
        (info.width as usize, info.height as usize)
    };
    check_size(name, w, h)?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| corrupt(name, "too large"))?;
    let mut buf = vec![0; size];
    let info = reader.next_frame(&mut buf).map_err(|e| corrupt(name, e))?;
    let channels = info.color_type.samples();
    let sixteen = info.bit_depth == png::BitDepth::Sixteen;
    let data = &buf[..info.buffer_size()];
    let samples: Vec<f32> = if sixteen {
        data.chunks_exact(2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]) as f32 / 65535.0)
            .collect()
    } else {
        data.iter().map(|&b| b as f32 / 255.0).collect()
    };
    Ok(Grayscale {
        width: w,
        height: h,
        values: samples
            .chunks_exact(channels)
            .map(|c| grey(c, channels))
            .collect(),
        source: format!("PNG {}-bit", if sixteen { 16 } else { 8 }),
    })
}

pub(crate) fn jpeg(bytes: &[u8], name: &str) -> Result<Grayscale, ImageError> {
    let mut decoder = jpeg_decoder::Decoder::new(std::io::Cursor::new(bytes));
    decoder.read_info().map_err(|e| corrupt(name, e))?;
    let info = decoder.info().ok_or_else(|| corrupt(name, "no frame"))?;
    let (w, h) = (info.width as usize, info.height as usize);
    check_size(name, w, h)?;
    let pixels = decoder.decode().map_err(|e| corrupt(name, e))?;
    let values: Vec<f32> = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 => pixels.iter().map(|&v| v as f32 / 255.0).collect(),
        jpeg_decoder::PixelFormat::L16 => pixels
            .chunks_exact(2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]) as f32 / 65535.0)
            .collect(),
        jpeg_decoder::PixelFormat::RGB24 => pixels
            .chunks_exact(3)
            .map(|c| grey(&[c[0] as f32, c[1] as f32, c[2] as f32], 3) / 255.0)
            .collect(),
        jpeg_decoder::PixelFormat::CMYK32 => {
            return Err(ImageError::Unsupported {
                name: name.to_string(),
                what: "a CMYK JPEG".into(),
            });
        }
    };
    Ok(Grayscale {
        width: w,
        height: h,
        values,
        source: "JPEG".into(),
    })
}
