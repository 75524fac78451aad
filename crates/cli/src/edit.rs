//! `roentgen edit`: a radiograph (PNG, JPEG or DICOM) changed by a prompt,
//! everywhere (image-to-image) or inside a mask, the same code the page runs.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use roentgen_imaging::Fit;
use roentgen_model::png::EditedFrom;
use roentgen_model::{Backend, EditSource, GivenNoise};

use crate::model_args::{self, ModelArgs, OnBackend, SamplingArgs, Source, bar};
use crate::npy;
use crate::run_outputs::ExtraOutputs;

#[derive(clap::Args)]
pub struct EditArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The radiograph: PNG, JPEG or DICOM (uncompressed, RLE, JPEG or JPEG
    /// 2000, lossless included), shown with its own window.
    #[arg(long)]
    pub image: PathBuf,
    /// Where it may change: an image the radiograph's shape, white = change,
    /// black = keep. Without it the whole image changes.
    #[arg(long)]
    pub mask: Option<PathBuf>,
    /// Return the VAE's decoding everywhere, as diffusers does. By default a
    /// masked edit puts the original's pixels back outside the mask (the
    /// decoder shifts them by a few levels) with a seam feathered over 1/32
    /// of the width, inside the mask.
    #[arg(long, requires = "mask")]
    pub diffusers_exact: bool,
    /// How much of the schedule runs: near 0 keeps the radiograph, 1 redraws
    /// it (a masked edit at 1 starts the region from pure noise).
    #[arg(long, default_value_t = 0.75)]
    pub strength: f64,
    /// crop (keep the centre) or pad (keep everything, black bars) to the
    /// model's square.
    #[arg(long, default_value = "crop", value_parser = crate::options::fit)]
    pub fit: Fit,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    /// Float32 .npy [1, 4, h, w] used instead of the seeded noise.
    #[arg(long)]
    pub noise: Option<PathBuf>,
    #[command(flatten)]
    pub extra: ExtraOutputs,
    /// The edited image (.png).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: EditArgs) -> anyhow::Result<()> {
    if !(args.strength > 0.0 && args.strength <= 1.0) {
        bail!("--strength {}: use a value in (0, 1]", args.strength);
    }
    args.model.run(&args)
}

impl OnBackend for &EditArgs {
    fn run<B: Backend>(self, backend: B, source: &Source) -> anyhow::Result<()> {
        run_on(backend, source, self)
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn read_image(path: &Path) -> anyhow::Result<roentgen_imaging::Grayscale> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(roentgen_imaging::decode(
        &bytes,
        &path.display().to_string(),
    )?)
}

/// The radiograph, and the mask painted over it (same size) if given.
fn read_image_and_mask(
    args: &EditArgs,
) -> anyhow::Result<(
    roentgen_imaging::Grayscale,
    Option<roentgen_imaging::Grayscale>,
)> {
    let image = read_image(&args.image)?;
    let mask = args.mask.as_deref().map(read_image).transpose()?;
    if let Some(m) = &mask
        && (m.width, m.height) != (image.width, image.height)
    {
        bail!(
            "--mask {}: {}x{}, the image is {}x{}; paint the mask over the image itself",
            args.mask.as_deref().unwrap_or(Path::new("")).display(),
            m.width,
            m.height,
            image.width,
            image.height
        );
    }
    Ok((image, mask))
}

/// The initial noise from a .npy file, [1, channels, h, w] at the latent size.
fn read_noise(path: &Path, c: usize, latent_hw: (usize, usize)) -> anyhow::Result<Vec<f32>> {
    let (shape, values) = npy::read_f32(path)?;
    if shape != [1, c, latent_hw.0, latent_hw.1] {
        bail!(
            "{}: shape {shape:?}, need [1, {c}, {}, {}]",
            path.display(),
            latent_hw.0,
            latent_hw.1
        );
    }
    Ok(values)
}

fn run_on<B: Backend>(backend: B, source: &Source, args: &EditArgs) -> anyhow::Result<()> {
    let fit = args.fit;
    let (image, mask) = read_image_and_mask(args)?;
    let model = model_args::load(backend, source, &args.model.model)?;
    let latent_hw = model.default_latent_hw();
    let scale = model.vae_scale();
    let (ih, iw) = (latent_hw.0 * scale, latent_hw.1 * scale);
    let fitted = roentgen_imaging::fit(&image, iw, ih, fit);
    let mask = mask.map(|m| {
        let m = roentgen_imaging::fit(&m, iw, ih, fit);
        roentgen_imaging::edit_mask(&m, (iw, ih), latent_hw, !args.diffusers_exact)
    });
    let (latent_mask, (blend, feather)) = match mask {
        Some(m) => (Some(m.latent), m.blend.unzip()),
        None => (None, (None, None)),
    };
    let noise = match &args.noise {
        Some(path) => Some(read_noise(path, model.unet.cfg.in_channels, latent_hw)?),
        None => None,
    };
    let seed = args.sampling.seed();
    eprintln!(
        "{}: {}x{} {}, fitted ({:?}) to {iw}x{ih}",
        args.image.display(),
        image.width,
        image.height,
        image.source,
        fit
    );
    let req = args.sampling.request(&model, seed, latent_hw)?;
    let src = EditSource {
        image: roentgen_imaging::to_model_input(&fitted, model.vae.cfg.in_channels),
        strength: args.strength,
        mask: latent_mask,
        blend,
    };
    let steps = bar(0, &format!("seed {seed}"));
    let t = Instant::now();
    let opts = args.extra.run_options();
    let out = pollster::block_on(model.edit(
        &req,
        &src,
        GivenNoise {
            initial: noise,
            per_step: None,
        },
        opts,
        |s| {
            steps.set_length(s.total as u64);
            steps.set_position(s.done as u64);
            true
        },
    ))?;
    steps.finish_and_clear();
    let secs = t.elapsed().as_secs_f64();
    let from = EditedFrom {
        image: file_name(&args.image),
        read_as: image.source.clone(),
        strength: args.strength,
        mask: args.mask.as_deref().map(file_name),
        blend_feather: feather,
    };
    let png = roentgen_model::png::encode_rgb8(
        out.width,
        out.height,
        &out.rgb8(),
        &roentgen_model::png::edit_metadata(&req, &args.model.model, &from),
    )
    .map_err(anyhow::Error::msg)?;
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&args.out, png).with_context(|| format!("writing {}", args.out.display()))?;
    let shape = [1, model.unet.cfg.in_channels, latent_hw.0, latent_hw.1];
    args.extra.write(&out, shape, 1, seed)?;
    eprintln!(
        "{} ({}x{}, strength {}, {} of {} steps, {:.2} s)",
        args.out.display(),
        out.width,
        out.height,
        args.strength,
        roentgen_model::scheduler::strength_begin(args.sampling.steps, args.strength)
            .map_or(0, |b| args.sampling.steps - b),
        args.sampling.steps,
        secs
    );
    Ok(())
}
