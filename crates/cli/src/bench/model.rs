//! `roentgen bench unet|vae|pipeline|layers`: the model's stages timed on the
//! adapter, with the GPU memory our tensors held at peak.

use crate::options::Precision;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use roentgen_gpu::profile::Profile;
use roentgen_gpu::{ContextOptions, Counters, GpuContext};
use roentgen_model::config::UnetConfig;
use roentgen_model::noise::gaussian;
use roentgen_model::{
    Backend, GivenNoise, GpuBackend, Model, Request, SchedulerKind, Weights, arch,
};

use super::time_ms;

#[derive(clap::Args, Debug)]
pub struct ModelBenchArgs {
    /// A converted model folder (`weights-tools random --arch sd-v1.5` for full size).
    #[arg(long, value_parser = crate::model_path::model_dir)]
    pub model: PathBuf,
    /// Image side in pixels.
    #[arg(long, default_value_t = 512)]
    pub size: usize,
    #[arg(long, value_enum, default_value_t = Precision::F16)]
    pub precision: Precision,
    /// Timed runs (after one warm-up).
    #[arg(long, default_value_t = 3)]
    pub iters: usize,
    /// Steps of `bench pipeline`.
    #[arg(long, default_value_t = 20)]
    pub steps: usize,
    /// One JSON object instead of text (for scripts such as device-bench.sh).
    #[arg(long)]
    pub json: bool,
    /// Validate every dispatch but record and run nothing: the time is then
    /// the host's alone (what creating, binding and checking cost per call),
    /// which a GPU would otherwise hide or an emulated one swamp.
    #[arg(long)]
    pub dry_run: bool,
    /// After the timed runs, one more UNet call (or decode) with every
    /// dispatch submitted and timed alone (GPU timestamp queries where the
    /// adapter offers them), summed by kernel family: dispatches, ms, share,
    /// GFLOP/s, GB/s. In the JSON as `profile`.
    #[arg(long)]
    pub profile: bool,
}

/// What `bench unet|vae|pipeline --json` prints.
#[derive(serde::Serialize)]
struct ModelRow<'a> {
    stage: &'a str,
    adapter: String,
    precision: &'a str,
    size: usize,
    /// Milliseconds per UNet call, per decode, or per whole image.
    ms: f64,
    steps: Option<usize>,
    weights_mib: f64,
    peak_mib: f64,
    /// What one more UNet call (after the timed ones) or the whole image
    /// asked of the GPU API.
    counts: Option<Counters>,
    profile: Option<Profile>,
}

#[derive(clap::Args, Debug)]
pub struct LayerBenchArgs {
    #[arg(long, value_enum, default_value_t = Precision::F16)]
    pub precision: Precision,
    #[arg(long, default_value_t = 3)]
    pub iters: usize,
    /// Latent side (64 is a 512x512 image).
    #[arg(long, default_value_t = 64)]
    pub side: usize,
}

fn context(dry_run: bool) -> Result<GpuContext> {
    pollster::block_on(GpuContext::new(ContextOptions {
        dry_run,
        ..Default::default()
    }))
    .context("no GPU adapter (install mesa-vulkan-drivers for a CPU one)")
}

fn sync(ctx: &GpuContext) {
    ctx.wait();
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

pub fn run_model(what: &str, args: ModelBenchArgs) -> Result<()> {
    if args.profile && (args.dry_run || what == "pipeline") {
        bail!(
            "--profile times one UNet call (bench unet) or one decode (bench vae) as it runs: not with `bench pipeline` or --dry-run"
        );
    }
    let ctx = context(args.dry_run)?;
    let b = GpuBackend::new(&ctx, args.precision.dtype());
    let model = Model::load_dir(b, &args.model, |_, _| {})
        .with_context(|| format!("loading {}", args.model.display()))?;
    let weights = ctx.memory.live();
    let side = args.size / model.vae_scale();
    if !args.json {
        println!(
            "adapter: {} ({}); {} {}; {}x{} image ({side}x{side} latents), CFG batch 2",
            ctx.report.name,
            ctx.report.backend,
            args.model.display(),
            args.precision,
            args.size,
            args.size
        );
    }
    ctx.memory.reset_peak();
    let (ms, counts, profile) = time_stage(what, &model, &ctx, &args)?;
    let peak = ctx.memory.peak();
    if args.json {
        let row = ModelRow {
            stage: what,
            adapter: ctx.report.label(),
            precision: args.precision.name(),
            size: args.size,
            ms,
            steps: (what == "pipeline").then_some(args.steps),
            weights_mib: mib(weights),
            peak_mib: mib(peak),
            counts,
            profile,
        };
        println!("{}", serde_json::to_string(&row)?);
        return Ok(());
    }
    if let Some(c) = counts {
        println!(
            "{}: {} dispatches writing {:.1} MiB, {} submits, {} buffers created ({:.1} MiB), {} bind groups created, {:.1} us host time per dispatch",
            if what == "unet" {
                "one more UNet call"
            } else {
                "the whole image"
            },
            c.dispatches,
            mib(c.bytes_written),
            c.submits,
            c.buffers_created,
            mib(c.buffer_bytes_created),
            c.bind_groups_created,
            c.host_us_per_dispatch()
        );
    }
    println!(
        "GPU memory we allocated: weights {:.1} MiB, peak {:.1} MiB (activations {:.1} MiB)",
        mib(weights),
        mib(peak),
        mib(peak - weights)
    );
    if let Some(p) = profile {
        print!("{p}");
    }
    Ok(())
}

/// Times `what` ("unet": one UNet call on the CFG batch; "vae": one decode;
/// otherwise a whole image) in ms, with the counters of one more UNet call
/// or of the whole image, and with `--profile` that of one more call.
fn time_stage(
    what: &str,
    model: &Model<GpuBackend<'_>>,
    ctx: &GpuContext,
    args: &ModelBenchArgs,
) -> Result<(f64, Option<roentgen_gpu::Counters>, Option<Profile>)> {
    let mut profile = None;
    let b = &model.backend;
    let side = args.size / model.vae_scale();
    let c = model.unet.cfg.in_channels;
    let mut counts = None;
    let ms = match what {
        "unet" => {
            let (context, _) = model.encode_text(&["", "bench"])?;
            let x = b.upload(
                "latents",
                &[2, c, side, side],
                &gaussian(1, 2 * c * side * side),
            )?;
            let ms = time_ms(
                args.iters,
                || model.unet.forward(b, &model.weights, &x, 500.0, &context),
                || sync(ctx),
            )?;
            let before = ctx.stats.snapshot();
            drop(model.unet.forward(b, &model.weights, &x, 500.0, &context)?);
            sync(ctx);
            counts = Some(ctx.stats.snapshot().since(&before));
            if args.profile {
                let (out, p) =
                    ctx.profile(|| model.unet.forward(b, &model.weights, &x, 500.0, &context));
                drop(out?);
                profile = Some(p);
            }
            if !args.json {
                println!("unet: {ms:.1} ms per step (one call on the CFG batch of 2)");
            }
            ms
        }
        "vae" => {
            let z = b.upload(
                "latents",
                &[1, c, side, side],
                &gaussian(2, c * side * side),
            )?;
            let ms = time_ms(
                args.iters,
                || model.vae.forward(b, &model.weights, &z),
                || sync(ctx),
            )?;
            if args.profile {
                let (out, p) = ctx.profile(|| model.vae.forward(b, &model.weights, &z));
                drop(out?);
                profile = Some(p);
            }
            if !args.json {
                println!("vae decode: {ms:.1} ms per image");
            }
            ms
        }
        _ => {
            let req = Request {
                prompt: "small left apical pneumothorax".into(),
                negative: String::new(),
                steps: args.steps,
                guidance: 4.0,
                scheduler: SchedulerKind::DpmSolver2M,
                seed: 1,
                latent_hw: (side, side),
            };
            let t = Instant::now();
            let before = ctx.stats.snapshot();
            pollster::block_on(model.generate(&req, GivenNoise::default(), false, |_| true))?;
            counts = Some(ctx.stats.snapshot().since(&before));
            let s = t.elapsed().as_secs_f64();
            if !args.json {
                println!(
                    "pipeline: {s:.2} s per image, {} steps ({:.3} s per step incl. text encoder and VAE)",
                    args.steps,
                    s / args.steps as f64
                );
            }
            s * 1e3
        }
    };
    Ok((ms, counts, profile))
}

/// FLOPs of `x @ w^T` for M x K by K x N.
fn mm(m: usize, k: usize, n: usize) -> f64 {
    2.0 * (m * k * n) as f64
}

/// SD v1.5's first-level ResNet block and transformer at full size, with
/// random weights: the layers most of a UNet step is made of.
pub fn run_layers(args: LayerBenchArgs) -> Result<()> {
    let ctx = context(false)?;
    let b = GpuBackend::new(&ctx, args.precision.dtype());
    let cfg_json: serde_json::Value = serde_json::from_str(include_str!(
        "../../../../weights-tools/configs/sd-v1.5/unet.json"
    ))?;
    let cfg = UnetConfig::from_json(&cfg_json)?;
    let wanted = [
        "unet.down_blocks.0.resnets.1.",
        "unet.down_blocks.0.attentions.0.",
    ];
    let mut tensors = HashMap::new();
    for (i, (name, shape)) in arch::unet(&cfg).into_iter().enumerate() {
        if !wanted.iter().any(|w| name.starts_with(w)) {
            continue;
        }
        let n: usize = shape.iter().product();
        let v: Vec<f32> = if shape.len() == 1 {
            vec![if name.ends_with(".weight") { 1.0 } else { 0.0 }; n]
        } else {
            let s = 1.0 / (shape[1..].iter().product::<usize>() as f32).sqrt();
            gaussian(i as u64, n).into_iter().map(|x| x * s).collect()
        };
        tensors.insert(name.clone(), b.upload(&name, &shape, &v)?);
    }
    let w = Weights::from_tensors(tensors);
    let (ch, side, batch) = (320usize, args.side, 2usize);
    let hw = side * side;
    let x = b.upload("x", &[batch, ch, side, side], &gaussian(7, batch * ch * hw))?;
    let temb = b.upload("temb", &[batch, 1280], &gaussian(8, batch * 1280))?;
    let text = b.upload("context", &[batch, 77, 768], &gaussian(9, batch * 77 * 768))?;
    println!(
        "adapter: {} ({}); {}; batch {batch} (CFG), {side}x{side} latents, {} timed runs",
        ctx.report.name, ctx.report.backend, args.precision, args.iters
    );
    let unet = roentgen_model::unet::Unet::new(cfg);
    let resnet = &unet.down[0].resnets[1];
    let ms = time_ms(
        args.iters,
        || resnet.forward(&b, &w, &x, Some(&temb)),
        || sync(&ctx),
    )?;
    let m = batch * hw;
    let flops = 2.0 * mm(m, ch * 9, ch) + mm(batch, 1280, ch);
    println!(
        "resnet 320->320 @{side}x{side}: {ms:.2} ms, {:.1} GFLOP, {:.0} GFLOP/s",
        flops / 1e9,
        flops / ms / 1e6
    );
    let transformer = &unet.down[0].attentions[0];
    let ms = time_ms(
        args.iters,
        || transformer.forward(&b, &w, &x, &text, None),
        || sync(&ctx),
    )?;
    let l = hw;
    let flops = 2.0 * mm(m, ch, ch) // proj_in, proj_out
        + 4.0 * mm(m, ch, ch) // self-attention q, k, v, out
        + 2.0 * mm(m, ch, l) * 1.0 // scores and weighted sum (all heads)
        + 2.0 * mm(m, ch, ch) + 2.0 * mm(batch * 77, 768, ch) // cross q, out; k, v
        + 2.0 * mm(m, ch, 77) // cross scores and sum
        + mm(m, ch, 8 * ch) + mm(m, 4 * ch, ch); // GEGLU feed-forward
    println!(
        "transformer 320 ch, {l} tokens, 8 heads: {ms:.2} ms, {:.1} GFLOP, {:.0} GFLOP/s",
        flops / 1e9,
        flops / ms / 1e6
    );
    Ok(())
}
