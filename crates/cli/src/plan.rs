//! `roentgen plan`: builds the whole pipeline for a size on the adapter,
//! creating every buffer, pipeline and bind group and validating every
//! dispatch against the adapter's limits, but running nothing; then states
//! the GPU memory it allocated. This is how the full-size model is checked
//! on an adapter far too slow to run it.

use crate::options::Precision;
use std::time::Instant;

use anyhow::Context;
use roentgen_gpu::{ContextOptions, GpuContext};
use roentgen_model::{GpuBackend, Model};
use roentgen_weights::Manifest;

#[derive(clap::Args)]
pub struct PlanArgs {
    /// A converted model folder (e.g. from `weights-tools random --arch
    /// sd-v1.5`), or with --before-download its http(s) URL (either may
    /// name its manifest.json).
    #[arg(long, value_parser = crate::model_path::model_location)]
    pub model: String,
    /// Read only manifest.json and the tokenizer, no shard: every weight
    /// is an empty buffer of its size, so a device can be checked before
    /// gigabytes are downloaded.
    #[arg(long)]
    pub before_download: bool,
    /// Image side in pixels (a multiple of 8 x the UNet's downsampling).
    #[arg(long, default_value_t = 512)]
    pub size: usize,
    #[arg(long, value_enum, default_value_t = Precision::F16)]
    pub precision: Precision,
    /// Hold every binding to this many MiB even where the adapter allows more
    /// (128 MiB is common on real devices). 0: the adapter's own limit.
    #[arg(long, default_value_t = 128)]
    pub max_binding_mib: u64,
    /// Sampler steps to build (the second reuses the first's buffers, so
    /// two show the steady state's memory).
    #[arg(long, default_value_t = 2)]
    pub steps: usize,
    #[arg(long)]
    pub json: bool,
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

/// A model whose weights are empty buffers of their sizes, from the
/// manifest and tokenizer alone (a folder or an http(s) URL).
fn manifest_only<'c>(
    backend: GpuBackend<'c>,
    model: &str,
) -> anyhow::Result<Model<GpuBackend<'c>>> {
    let read = |name: &str| -> anyhow::Result<Vec<u8>> {
        if model.starts_with("http://") || model.starts_with("https://") {
            let src = roentgen_weights::http::HttpSource::new(model, None, None);
            Ok(src.get(name, 64 << 20)?)
        } else {
            let path = std::path::Path::new(model).join(name);
            std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
        }
    };
    let manifest = Manifest::from_json(&String::from_utf8_lossy(&read("manifest.json")?))?;
    Ok(roentgen_model::plan::manifest_only(
        backend,
        &manifest,
        &read(&manifest.tokenizer)?,
    )?)
}

pub fn run(args: PlanArgs) -> anyhow::Result<()> {
    let dtype = args.precision.dtype();
    let mut ctx = pollster::block_on(GpuContext::new(ContextOptions {
        dry_run: true,
        ..Default::default()
    }))
    .context("no GPU adapter (install mesa-vulkan-drivers to plan on the CPU)")?;
    let adapter_binding = ctx.report.limits.max_storage_buffer_binding_size;
    if args.max_binding_mib > 0 {
        let cap = args.max_binding_mib * 1024 * 1024;
        let l = &mut ctx.report.limits.max_storage_buffer_binding_size;
        *l = (*l).min(cap);
    }
    let t0 = Instant::now();
    let backend = GpuBackend::new(&ctx, dtype);
    let model = if args.before_download {
        manifest_only(backend, &args.model)?
    } else {
        Model::load_dir(backend, args.model.as_ref(), |_, _| {})
            .with_context(|| format!("loading {}", args.model))?
    };
    let load_s = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let report = pollster::block_on(roentgen_model::plan::plan(
        &ctx, &model, args.size, args.steps,
    ))
    .context(
        "the pipeline does not fit this adapter (a smaller --size needs smaller \
             buffers; the error names the kernel and binding)",
    )?;
    let build_s = t1.elapsed().as_secs_f64();
    let counts = report.counts;
    let dispatches = counts.dispatches;
    let (weights, peak, largest) = (
        report.weights_bytes,
        report.peak_bytes,
        report.largest_buffer_bytes,
    );
    let r = &ctx.report;
    let tensors = report.tensors;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "adapter": r.name, "backend": r.backend, "precision": args.precision.name(),
                "size": args.size, "cfg_batch": 2, "tensors": tensors,
                "weights_bytes": weights, "peak_bytes": peak,
                "activation_peak_bytes": peak - weights, "largest_buffer_bytes": largest,
                "max_binding_bytes": r.limits.max_storage_buffer_binding_size,
                "adapter_max_binding_bytes": adapter_binding,
                "steps": args.steps, "dispatches_per_image": dispatches, "load_s": load_s, "build_s": build_s,
                "counts_per_image": counts, "largest_submission_flops": report.work.submit_flops,
                "largest_dispatch_flops": report.work.dispatch_flops,
                "submit_budget_flops": roentgen_gpu::kernel::SUBMIT_BUDGET_FLOPS,
            })
        );
    } else {
        println!("adapter: {} ({})", r.name, r.backend);
        println!(
            "model: {} ({} tensors), {} storage, {}x{} image, CFG batch 2",
            args.model, tensors, args.precision, args.size, args.size
        );
        println!(
            "every binding within {:.0} MiB (adapter allows {:.0} MiB); every dispatch within {} workgroups per dimension",
            mib(r.limits.max_storage_buffer_binding_size),
            mib(adapter_binding),
            r.limits.max_compute_workgroups_per_dimension
        );
        println!("weights:          {:>9.1} MiB", mib(weights));
        println!("activations peak: {:>9.1} MiB", mib(peak - weights));
        println!(
            "peak allocated:   {:>9.1} MiB ({:.2} GB)",
            mib(peak),
            peak as f64 / 1e9
        );
        println!("largest buffer:   {:>9.1} MiB", mib(largest));
        println!("verdict: {}", report.verdict(args.before_download));
        println!(
            "{dispatches} dispatches for {} steps + text encoder + VAE decode validated, none run (load {load_s:.1} s, build {build_s:.1} s)",
            args.steps
        );
        println!(
            "they created {} buffers ({:.1} MiB) and {} bind groups; {:.1} us host time per dispatch",
            counts.buffers_created,
            mib(counts.buffer_bytes_created),
            counts.bind_groups_created,
            counts.host_us_per_dispatch()
        );
        println!(
            "{} submissions, {:.0} GFLOP in GEMMs, convolutions and attention; the largest submission {:.1} GFLOP, \
             the largest dispatch {:.1} GFLOP (budget {:.0} GFLOP a submission)",
            counts.submits,
            counts.flops as f64 / 1e9,
            report.work.submit_flops as f64 / 1e9,
            report.work.dispatch_flops as f64 / 1e9,
            roentgen_gpu::kernel::SUBMIT_BUDGET_FLOPS as f64 / 1e9
        );
    }
    Ok(())
}
