//! `roentgen generate`: images from a prompt, the same bytes the page makes.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use roentgen_model::{Backend, GivenNoise, ImageSize};

use crate::image_out;
use crate::model_args::{self, ModelArgs, OnBackend, SamplingArgs, Source, bar};
use crate::npy;
use crate::options::ImageFormat;
use crate::run_outputs::ExtraOutputs;
use crate::shard::Shard;

#[derive(clap::Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    /// Images to make.
    #[arg(long, default_value_t = 1)]
    pub count: u64,
    /// Make only the images k with k % n == i (split a job across machines).
    #[arg(long, value_name = "i/n", value_parser = Shard::parse, default_value = "0/1")]
    pub shard: Shard,
    /// Image size, WIDTHxHEIGHT or one side (default: the model's own, 512
    /// for SD v1.x); each side a multiple of 64 for SD.
    #[arg(long, value_parser = ImageSize::parse)]
    pub size: Option<ImageSize>,
    /// Float32 .npy [1, 4, h, w] used instead of the seeded noise (sets the size).
    #[arg(long, conflicts_with = "size")]
    pub init_latents: Option<PathBuf>,
    #[command(flatten)]
    pub extra: ExtraOutputs,
    /// png (default) or dicom (a Secondary Capture marked synthetic, for
    /// DICOM viewers); default: dicom when --out ends in .dcm.
    #[arg(long, value_enum)]
    pub format: Option<ImageFormat>,
    /// A .png or .dcm file (one image) or a folder.
    #[arg(long)]
    pub out: PathBuf,
}

/// Whether `out` names one file (not a folder).
fn is_file(out: &Path) -> bool {
    out.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png") || e.eq_ignore_ascii_case("dcm"))
}

/// Where image k goes.
fn out_path(out: &Path, count: u64, seed: u64, format: ImageFormat) -> PathBuf {
    if is_file(out) && count == 1 {
        out.to_path_buf()
    } else {
        out.join(format!("roentgen-{seed}.{}", format.extension()))
    }
}

pub fn run(args: GenerateArgs) -> anyhow::Result<()> {
    args.model.run(&args)
}

impl OnBackend for &GenerateArgs {
    fn run<B: Backend>(self, backend: B, source: &Source) -> anyhow::Result<()> {
        run_on(backend, source, self)
    }
}

fn run_on<B: Backend>(backend: B, source: &Source, args: &GenerateArgs) -> anyhow::Result<()> {
    let model = model_args::load(backend, source, &args.model.model)?;
    let init = match &args.init_latents {
        Some(path) => {
            let (shape, values) = npy::read_f32(path)?;
            let c = model.unet.cfg.in_channels;
            match shape.as_slice() {
                [1, ch, h, w] if *ch == c => Some(((*h, *w), values)),
                _ => bail!("{}: shape {shape:?}, need [1, {c}, h, w]", path.display()),
            }
        }
        None => None,
    };
    let latent_hw = match &init {
        Some((hw, _)) => *hw,
        None => model.latent_hw_or_default(args.size)?,
    };
    let first_seed = args.sampling.seed();
    let format = image_out::format_for(args.format, &args.out);
    if args.count > 1 || !is_file(&args.out) {
        std::fs::create_dir_all(&args.out)
            .with_context(|| format!("creating {}", args.out.display()))?;
    }
    for k in (0..args.count).filter(|&k| args.shard.holds(k)) {
        let seed = first_seed.wrapping_add(k);
        let req = args.sampling.request(&model, seed, latent_hw)?;
        let steps = bar(0, &format!("seed {seed}"));
        let t = Instant::now();
        let out = pollster::block_on(model.generate(
            &req,
            GivenNoise {
                initial: init.as_ref().map(|(_, v)| v.clone()),
                per_step: None,
            },
            args.extra.run_options(),
            |s| {
                steps.set_length(s.total as u64);
                steps.set_position(s.done as u64);
                true
            },
        ))?;
        steps.finish_and_clear();
        let secs = t.elapsed().as_secs_f64();
        let path = out_path(&args.out, args.count, seed, format);
        let bytes = image_out::encode(
            format,
            &out,
            &roentgen_model::png::metadata(&req, &args.model.model),
            &req,
            &args.model.model,
            &image_out::Patient {
                age: args.sampling.age,
                sex: args.sampling.sex,
            },
        )?;
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        let shape = [1, model.unet.cfg.in_channels, latent_hw.0, latent_hw.1];
        args.extra.write(&out, shape, args.count, seed)?;
        eprintln!(
            "{} ({}x{}, {} steps, {:.2} s, {:.3} s/step)",
            path.display(),
            out.width,
            out.height,
            req.steps,
            secs,
            secs / req.steps as f64
        );
    }
    Ok(())
}
