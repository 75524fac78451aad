//! `roentgen generate`: images from a prompt, the same bytes the page makes.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use roentgen_gpu::{ContextOptions, DType, GpuContext};
use roentgen_model::{Backend, CpuBackend, GpuBackend, Model, Request, SchedulerKind};

use crate::npy;

#[derive(clap::Args)]
pub struct GenerateArgs {
    /// A converted model: a folder, or its http(s) URL.
    #[arg(long)]
    pub model: String,
    /// Authorization header value for a gated host (or env ROENTGEN_AUTHORIZATION).
    #[arg(long, env = "ROENTGEN_AUTHORIZATION", hide_env_values = true)]
    pub authorization: Option<String>,
    /// Cookie header for a gated host (or env ROENTGEN_COOKIE).
    #[arg(long, env = "ROENTGEN_COOKIE", hide_env_values = true)]
    pub cookie: Option<String>,
    /// What the image should show, in radiology-report language.
    #[arg(long)]
    pub prompt: String,
    /// What it should not show (classifier-free guidance's negative prompt).
    #[arg(long, default_value = "")]
    pub negative: String,
    /// Denoising steps. RoentGen's authors used 75 steps at guidance 4.
    #[arg(long, default_value_t = 50)]
    pub steps: usize,
    /// Classifier-free guidance scale (1 or less: no guidance).
    #[arg(long, default_value_t = 4.0)]
    pub guidance: f32,
    /// pndm | ddim | euler | euler-a | dpm++2m; default: the model's own.
    #[arg(long)]
    pub scheduler: Option<String>,
    /// Seed of the first image; image k uses seed + k. Default: random, printed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Images to make.
    #[arg(long, default_value_t = 1)]
    pub count: u64,
    /// Make only the images k with k % n == i (split a job across machines).
    #[arg(long, value_name = "i/n")]
    pub shard: Option<String>,
    /// f16 (default, half the memory) or f32 (exact, for comparisons).
    #[arg(long, default_value = "f16")]
    pub precision: String,
    /// Float32 .npy [1, 4, h, w] used instead of the seeded noise (sets the size).
    #[arg(long)]
    pub init_latents: Option<PathBuf>,
    /// Write the final latents (before the VAE) as float32 .npy [1, 4, h, w].
    #[arg(long)]
    pub save_latents: Option<PathBuf>,
    /// Run on the CPU reference ops (slow; for machines without an adapter).
    #[arg(long)]
    pub cpu: bool,
    /// A .png file (one image) or a folder.
    #[arg(long)]
    pub out: PathBuf,
}

fn parse_shard(s: &str) -> anyhow::Result<(u64, u64)> {
    let (i, n) = s.split_once('/').context("--shard takes i/n, e.g. 0/4")?;
    let (i, n): (u64, u64) = (i.trim().parse()?, n.trim().parse()?);
    if n == 0 || i >= n {
        bail!("--shard {s}: need 0 <= i < n");
    }
    Ok((i, n))
}

/// Where image k goes, and its latents if asked.
fn out_path(out: &Path, count: u64, seed: u64) -> PathBuf {
    let is_file = out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    if is_file && count == 1 {
        out.to_path_buf()
    } else {
        out.join(format!("roentgen-{seed}.png"))
    }
}

fn latents_path(base: &Path, count: u64, seed: u64) -> PathBuf {
    if count == 1 {
        return base.to_path_buf();
    }
    let stem = base
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("latents");
    base.with_file_name(format!("{stem}-{seed}.npy"))
}

/// Where the weights come from.
enum Source {
    Dir(PathBuf),
    Url(roentgen_weights::http::HttpSource),
}

pub fn run(args: GenerateArgs) -> anyhow::Result<()> {
    let source = if args.model.starts_with("http://") || args.model.starts_with("https://") {
        Source::Url(roentgen_weights::http::HttpSource::new(
            &args.model,
            args.authorization.clone(),
            args.cookie.clone(),
        ))
    } else {
        let dir = PathBuf::from(&args.model);
        if !dir.join("manifest.json").is_file() {
            bail!(
                "--model {}: no manifest.json there (convert a diffusers folder with `weights-tools convert`)",
                dir.display()
            );
        }
        Source::Dir(dir)
    };
    let dtype = match args.precision.as_str() {
        "f16" => DType::F16,
        "f32" => DType::F32,
        p => bail!("--precision {p}: use f16 or f32"),
    };
    if args.cpu {
        if dtype == DType::F16 {
            eprintln!("note: the CPU path computes in f32");
        }
        run_on(CpuBackend, &source, &args)
    } else {
        let ctx = pollster::block_on(GpuContext::new(ContextOptions {
            allow_shader_f16: true,
            ..Default::default()
        }))
        .context(
            "no GPU adapter: install a Vulkan driver (mesa-vulkan-drivers runs on the CPU) or pass --cpu",
        )?;
        run_on(GpuBackend::new(&ctx, dtype), &source, &args)
    }
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} {elapsed}/{eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

fn run_on<B: Backend>(backend: B, source: &Source, args: &GenerateArgs) -> anyhow::Result<()> {
    eprintln!("backend: {}", backend.describe());
    let t0 = Instant::now();
    let model = match source {
        Source::Dir(dir) => {
            let loading = bar(0, "loading");
            let m = Model::load_dir(backend, dir, |done, total| {
                loading.set_length(total as u64);
                loading.set_position(done as u64);
            });
            loading.finish_and_clear();
            m
        }
        Source::Url(src) => {
            let pb = ProgressBar::new(0);
            pb.set_style(
                ProgressStyle::with_template(
                    "{msg:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            pb.set_message("download");
            let m = Model::load_url(backend, src, |p| {
                pb.set_length(p.total());
                pb.set_position(p.done());
                // The component now arriving (text encoder, UNet, VAE).
                if let Some(c) = p.components().iter().find(|c| c.done < c.total) {
                    pb.set_message(format!(
                        "{} {:.0}%",
                        c.name,
                        100.0 * c.done as f64 / c.total as f64
                    ));
                }
            });
            pb.finish_and_clear();
            m
        }
    }
    .with_context(|| format!("loading {}", args.model))?;
    eprintln!("model loaded in {:.1} s", t0.elapsed().as_secs_f64());

    let scheduler = match &args.scheduler {
        Some(name) => SchedulerKind::from_name(name).with_context(|| {
            format!("--scheduler {name}: use pndm, ddim, euler, euler-a or dpm++2m")
        })?,
        None => model.scheduler.default_kind(),
    };
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
    let latent_hw = init
        .as_ref()
        .map_or(model.default_latent_hw(), |(hw, _)| *hw);
    let tokens = model.tokenizer.encode(&args.prompt)?;
    if !tokens.truncated.is_empty() {
        eprintln!(
            "warning: the prompt needs {} tokens, CLIP reads 77; cut: {:?}",
            tokens.used, tokens.truncated
        );
    }
    let (shard_i, shard_n) = args
        .shard
        .as_deref()
        .map(parse_shard)
        .transpose()?
        .unwrap_or((0, 1));
    let first_seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64 % 1_000_000_000)
    });
    if args.seed.is_none() {
        eprintln!("seed: {first_seed}");
    }
    let is_png = args
        .out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    if args.count > 1 || !is_png {
        std::fs::create_dir_all(&args.out)
            .with_context(|| format!("creating {}", args.out.display()))?;
    }
    for k in (0..args.count).filter(|k| k % shard_n == shard_i) {
        let seed = first_seed.wrapping_add(k);
        let req = Request {
            prompt: args.prompt.clone(),
            negative: args.negative.clone(),
            steps: args.steps,
            guidance: args.guidance,
            scheduler,
            seed,
            latent_hw,
        };
        let steps = bar(0, &format!("seed {seed}"));
        let t = Instant::now();
        let out = pollster::block_on(model.generate(
            &req,
            init.as_ref().map(|(_, v)| v.clone()),
            // Await each step, so the bar and its time left count finished work.
            true,
            |s| {
                steps.set_length(s.total as u64);
                steps.set_position(s.done as u64);
                true
            },
        ))?;
        steps.finish_and_clear();
        let secs = t.elapsed().as_secs_f64();
        let path = out_path(&args.out, args.count, seed);
        let png = roentgen_model::png::encode_rgb8(
            out.width,
            out.height,
            &out.rgb8(),
            &roentgen_model::png::metadata(&req, &args.model),
        )
        .map_err(anyhow::Error::msg)?;
        std::fs::write(&path, png).with_context(|| format!("writing {}", path.display()))?;
        if let Some(base) = &args.save_latents {
            let (h, w) = latent_hw;
            let c = model.unet.cfg.in_channels;
            npy::write_f32(
                &latents_path(base, args.count, seed),
                &[1, c, h, w],
                &out.latents,
            )?;
        }
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
