//! `roentgen bench submissions`: how long one queue submission holds the GPU.
//! A desktop OS resets a GPU whose submission runs for about two seconds,
//! and an emulated adapter cannot run a 512x512 image in reasonable time, so
//! this measures in two halves: a dry run at the full size cuts submissions
//! exactly where a real run cuts them and gives the largest one in FLOPs;
//! a real run at a small size, waiting for the GPU after each submission,
//! gives each submission's time and so the adapter's slowest rate. The
//! longest full-size submission is then at most the largest one's FLOPs at
//! that slowest rate (small images run our kernels less efficiently than
//! large ones, so the bound errs long).

use crate::options::Precision;
use std::path::PathBuf;

use anyhow::{Context, Result};
use roentgen_gpu::kernel::{SUBMIT_BUDGET_FLOPS, SubmitTiming};
use roentgen_gpu::{ContextOptions, GpuContext};
use roentgen_model::{GivenNoise, GpuBackend, Model, Request, SchedulerKind};

#[derive(clap::Args, Debug)]
pub struct SubmissionArgs {
    /// A converted model folder (`weights-tools random --arch sd-v1.5`).
    #[arg(long, value_parser = crate::model_path::model_dir)]
    pub model: PathBuf,
    /// Image side of the timed run (small: it runs on the adapter).
    #[arg(long, default_value_t = 128)]
    pub size: usize,
    /// Image side of the dry run whose largest submission is bounded.
    #[arg(long, default_value_t = 512)]
    pub full_size: usize,
    #[arg(long, value_enum, default_value_t = Precision::F16)]
    pub precision: Precision,
    /// FLOPs a submission may carry, in GFLOP (the built-in budget by default).
    #[arg(long)]
    pub budget_gflop: Option<f64>,
    /// Submissions whose rate counts: those carrying at least this share of
    /// the budget (a submission of norms alone has no FLOPs to rate).
    #[arg(long, default_value_t = 0.1)]
    pub rated_share: f64,
    #[arg(long)]
    pub json: bool,
}

/// What `--json` prints.
#[derive(serde::Serialize)]
struct Report {
    adapter: String,
    precision: String,
    budget_flops: u64,
    full_size: usize,
    full_submissions: u64,
    full_flops: u64,
    full_largest_submission_flops: u64,
    full_largest_dispatch_flops: u64,
    size: usize,
    timed_submissions: usize,
    timed_secs: f64,
    timed_flops: u64,
    longest: SubmitTiming,
    /// The slowest rate of the submissions that carry enough work to rate.
    slowest_rated_gflops: f64,
    /// The longest submission that carries no GEMM work (norms, copies).
    longest_without_flops_secs: f64,
    full_longest_bound_secs: f64,
}

fn context(dry_run: bool, budget: u64) -> Result<GpuContext> {
    let mut ctx = pollster::block_on(GpuContext::new(ContextOptions {
        dry_run,
        submit_budget_flops: budget,
        ..Default::default()
    }))
    .context("no GPU adapter (install mesa-vulkan-drivers for a CPU one)")?;
    // As `roentgen plan`: bindings within the 128 MiB many real devices allow.
    let l = &mut ctx.report.limits.max_storage_buffer_binding_size;
    *l = (*l).min(128 << 20);
    Ok(ctx)
}

fn request(model: &Model<GpuBackend<'_>>, size: usize) -> Request {
    let side = size / model.vae_scale();
    Request {
        prompt: "small left apical pneumothorax".into(),
        negative: String::new(),
        steps: 1,
        guidance: 4.0,
        scheduler: SchedulerKind::Ddim,
        seed: 1,
        latent_hw: (side, side),
    }
}

pub fn run(args: SubmissionArgs) -> Result<()> {
    let budget = args
        .budget_gflop
        .map_or(SUBMIT_BUDGET_FLOPS, |g| (g * 1e9) as u64);
    let dtype = args.precision.dtype();
    let load = |ctx| {
        Model::load_dir(GpuBackend::new(ctx, dtype), &args.model, |_, _| {})
            .with_context(|| format!("loading {}", args.model.display()))
    };

    // The full size, dry: where a real run would cut its submissions.
    let dry = context(true, budget)?;
    let model = load(&dry)?;
    let full = pollster::block_on(roentgen_model::plan::plan(&dry, &model, args.full_size, 1))?;
    drop(model);

    // The small size, run: one warm-up image (pipelines compile) of another
    // prompt (the model keeps the last prompt's encoding, and the timed run
    // must encode its own, as the dry run did), then one with every
    // submission timed.
    let ctx = context(false, budget)?;
    let model = load(&ctx)?;
    let req = request(&model, args.size);
    let warm_up = Request {
        prompt: "warm-up".into(),
        ..req.clone()
    };
    pollster::block_on(model.generate(&warm_up, GivenNoise::default(), false, |_| true))?;
    ctx.time_submissions(true);
    pollster::block_on(model.generate(&req, GivenNoise::default(), false, |_| true))?;
    let log = ctx.time_submissions(false);

    let longest = log
        .iter()
        .max_by(|a, b| a.secs.total_cmp(&b.secs))
        .context("no submission was timed")?
        .clone();
    let rated_floor = (budget as f64 * args.rated_share) as u64;
    let slowest = log
        .iter()
        .filter(|s| s.flops >= rated_floor.max(1))
        .map(|s| s.flops as f64 / s.secs)
        .min_by(f64::total_cmp)
        .context("no submission carried enough work to rate (lower --rated-share)")?;
    let without = log
        .iter()
        .filter(|s| s.flops == 0)
        .map(|s| s.secs)
        .fold(0.0, f64::max);
    let report = Report {
        adapter: ctx.report.label(),
        precision: args.precision.to_string(),
        budget_flops: budget,
        full_size: args.full_size,
        full_submissions: full.counts.submits,
        full_flops: full.counts.flops,
        full_largest_submission_flops: full.work.submit_flops,
        full_largest_dispatch_flops: full.work.dispatch_flops,
        size: args.size,
        timed_submissions: log.len(),
        timed_secs: log.iter().map(|s| s.secs).sum(),
        timed_flops: log.iter().map(|s| s.flops).sum(),
        longest,
        slowest_rated_gflops: slowest / 1e9,
        longest_without_flops_secs: without,
        full_longest_bound_secs: full.work.submit_flops as f64 / slowest,
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    print(&report, &log);
    Ok(())
}

fn print(r: &Report, log: &[SubmitTiming]) {
    let g = |f: u64| f as f64 / 1e9;
    println!(
        "adapter: {}; {}; budget {:.1} GFLOP a submission",
        r.adapter,
        r.precision,
        g(r.budget_flops)
    );
    println!(
        "{0}x{0}, 1 CFG step + text encoder + VAE decode, dry run: {1} submissions, {2:.0} GFLOP; \
         largest submission {3:.1} GFLOP, largest dispatch {4:.1} GFLOP",
        r.full_size,
        r.full_submissions,
        g(r.full_flops),
        g(r.full_largest_submission_flops),
        g(r.full_largest_dispatch_flops)
    );
    println!(
        "{0}x{0}, the same, run with each submission timed: {1} submissions, {2:.1} s, {3:.1} GFLOP ({4:.2} GFLOP/s)",
        r.size,
        r.timed_submissions,
        r.timed_secs,
        g(r.timed_flops),
        g(r.timed_flops) / r.timed_secs
    );
    let mut slow: Vec<&SubmitTiming> = log.iter().collect();
    slow.sort_by(|a, b| b.secs.total_cmp(&a.secs));
    println!("the longest submissions:");
    for s in slow.iter().take(5) {
        println!(
            "  {:>8.3} s  {:>6.2} GFLOP  {:>5.2} GFLOP/s  {:>2} dispatches  {} .. {}",
            s.secs,
            g(s.flops),
            g(s.flops) / s.secs,
            s.dispatches,
            s.first,
            s.last
        );
    }
    println!(
        "slowest rate of submissions with GEMM work: {:.2} GFLOP/s; longest without any: {:.3} s",
        r.slowest_rated_gflops, r.longest_without_flops_secs
    );
    println!(
        "bound at {0}x{0} on this adapter: the largest submission ({1:.1} GFLOP) at the slowest rate: {2:.1} s; \
         a GPU needs {3:.1} GFLOP/s to keep every submission under 2 s",
        r.full_size,
        g(r.full_largest_submission_flops),
        r.full_longest_bound_secs,
        g(r.full_largest_submission_flops) / 2.0
    );
}
