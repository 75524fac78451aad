//! `roentgen read IMAGE.png…`: what the phantom reader finds in an image, as
//! JSON. The page's images are PNG files a user (or the browser tests) can
//! save; this tells whether one shows what its prompt asked for, with the
//! same reader `roentgen bench control` scores the demo model with.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use roentgen_phantom::Reader;
use roentgen_phantom::labels::HEADS;

#[derive(clap::Args, Debug)]
pub struct ReadArgs {
    /// Square PNG images (grey or RGB, 8 bit), as the page and `generate` write them.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
}

/// A square PNG as grey values in [0, 1] (the mean of R, G and B).
pub(crate) fn grey_png(path: &Path) -> Result<(Vec<f32>, usize)> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut decoder = png::Decoder::new(BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder
        .read_info()
        .with_context(|| format!("{}: not a PNG", path.display()))?;
    let mut buf = vec![0; reader.output_buffer_size().context("PNG too large")?];
    let info = reader
        .next_frame(&mut buf)
        .with_context(|| format!("{}: corrupt PNG", path.display()))?;
    let (w, h) = (info.width as usize, info.height as usize);
    if w != h {
        bail!(
            "{}: {w}x{h}; the reader reads square images",
            path.display()
        );
    }
    let channels = info.color_type.samples();
    let px = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .map(|c| {
            // Grey, grey+alpha, RGB, RGBA: the colour samples, not the alpha.
            let colour = if channels >= 3 { &c[..3] } else { &c[..1] };
            colour.iter().map(|&v| f32::from(v)).sum::<f32>() / (colour.len() as f32 * 255.0)
        })
        .collect();
    Ok((px, w))
}

pub fn run(args: ReadArgs) -> Result<()> {
    let reader = Reader::bundled()?;
    let mut out = Vec::new();
    for path in &args.images {
        let (px, side) = grey_png(path)?;
        let reading = reader.read(&px, side);
        let heads: serde_json::Map<String, serde_json::Value> = HEADS
            .iter()
            .zip(&reading.answers)
            .zip(&reading.confidence)
            .map(|((h, &a), &p)| {
                let v = serde_json::json!({ "class": h.classes[a], "p": p });
                (h.name.to_string(), v)
            })
            .collect();
        out.push(serde_json::json!({
            "image": path.display().to_string(),
            "findings": reading.findings(),
            "heads": heads,
        }));
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
