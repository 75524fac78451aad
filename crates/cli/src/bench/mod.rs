//! `roentgen bench kernels`: each SD-shaped case on our kernels and, for the
//! compute-heavy families, the same operation through burn-wgpu on the same
//! adapter in the same run.

mod cases;
pub mod control;
mod frechet;
pub mod model;
mod ours;
#[cfg(feature = "burn-peer")]
mod peer;
pub mod submissions;

use std::time::Instant;

use anyhow::Result;
use roentgen_gpu::{ContextOptions, DType, GpuContext};

pub use cases::Op;

/// Options of `roentgen bench kernels`.
/// The storage types `bench kernels` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum KernelDTypes {
    F32,
    F16,
    Both,
}

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Timed runs per case (after one warm-up run).
    #[arg(long, default_value_t = 5)]
    pub iters: usize,
    /// Software adapters (lavapipe, SwiftShader): same channels and head sizes,
    /// token counts / 4, image sides / 4. Without it, the real SD shapes.
    #[arg(long)]
    pub quick: bool,
    /// Only cases whose family or name contains this.
    #[arg(long)]
    pub filter: Option<String>,
    /// Skip cases above this many GFLOP per call (slow software adapters).
    #[arg(long)]
    pub max_gflop: Option<f64>,
    /// Storage types to run: f32, f16 or both.
    #[arg(long, value_enum, default_value_t = KernelDTypes::Both)]
    pub dtype: KernelDTypes,
    /// Leave out the burn-wgpu comparison.
    #[arg(long)]
    pub no_burn: bool,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// One measured line.
#[derive(serde::Serialize)]
struct Row<'a> {
    op: &'static str,
    case: &'a str,
    shape: String,
    path: &'static str,
    adapter: &'a str,
    ours_ms: f64,
    burn_ms: Option<f64>,
    /// burn time / our time: above 1 means ours is faster.
    speedup_vs_burn: Option<f64>,
    gflops: Option<f64>,
    /// Least bytes moved (each input read once, output written once) per second.
    min_gbps: f64,
}

/// Runs `f` once to warm up (compile pipelines), then `iters` times, and
/// returns milliseconds per run, waiting for the GPU with `sync`. Each run's
/// output is dropped as soon as it is queued, as a pipeline would.
pub fn time_ms<T, E: Into<anyhow::Error>>(
    iters: usize,
    mut f: impl FnMut() -> Result<T, E>,
    sync: impl Fn(),
) -> Result<f64> {
    f().map_err(Into::into)?;
    sync();
    let t = Instant::now();
    for _ in 0..iters {
        f().map_err(Into::into)?;
    }
    sync();
    Ok(t.elapsed().as_secs_f64() * 1e3 / iters as f64)
}

/// burn-wgpu's time for the same case, where the CLI was built with it.
#[cfg(feature = "burn-peer")]
fn peer_time(op: &cases::Op, dtype: DType, iters: usize) -> Result<Option<f64>> {
    peer::time(op, dtype, iters)
}

#[cfg(not(feature = "burn-peer"))]
fn peer_time(_: &cases::Op, _: DType, _: usize) -> Result<Option<f64>> {
    Ok(None)
}

pub fn run(args: BenchArgs) -> Result<()> {
    if !args.no_burn && cfg!(not(feature = "burn-peer")) {
        eprintln!(
            "# built without burn-wgpu, so no burn column: \
             cargo run --release -p roentgen-cli --features burn-peer -- bench kernels"
        );
    }
    let ctx = pollster::block_on(GpuContext::new(ContextOptions::default()))?;
    let adapter = ctx.report.label();
    let dtypes: Vec<DType> = match args.dtype {
        KernelDTypes::F32 => vec![DType::F32],
        KernelDTypes::F16 => vec![DType::F16],
        KernelDTypes::Both => vec![DType::F32, DType::F16],
    };
    if !args.json {
        println!(
            "adapter: {adapter}; shader-f16: {}; {} timed runs per case",
            ctx.report.shader_f16_enabled, args.iters
        );
        println!(
            "{:<11} {:<48} {:<30} {:>10} {:>10} {:>8} {:>9} {:>8}",
            "op", "case", "path", "ours ms", "burn ms", "burn/us", "GFLOP/s", "min GB/s"
        );
    }
    for mut case in cases::all() {
        if args.quick {
            case.op = case.op.quick();
            case.name = format!("{} [quick]", case.name);
        }
        let family = case.op.family();
        if let Some(f) = &args.filter
            && !family.contains(f.as_str())
            && !case.name.contains(f.as_str())
        {
            continue;
        }
        if let (Some(max), Some(fl)) = (args.max_gflop, case.op.flops())
            && fl / 1e9 > max
        {
            if !args.json {
                println!(
                    "{family:<11} {:<40} skipped: {:.1} GFLOP > --max-gflop {max}",
                    case.name,
                    fl / 1e9
                );
            }
            continue;
        }
        for &dtype in &dtypes {
            let ours_ms = ours::time(&ctx, &case.op, dtype, args.iters)?;
            let burn_ms = if args.no_burn {
                None
            } else {
                peer_time(&case.op, dtype, args.iters)?
            };
            let secs = ours_ms / 1e3;
            let row = Row {
                op: family,
                case: &case.name,
                shape: case.op.shape(),
                path: ctx.path_for(dtype).name(),
                adapter: &adapter,
                ours_ms,
                burn_ms,
                speedup_vs_burn: burn_ms.map(|b| b / ours_ms),
                gflops: case.op.flops().map(|f| f / secs / 1e9),
                min_gbps: case.op.min_elements_moved() * dtype.size() as f64 / secs / 1e9,
            };
            if args.json {
                println!("{}", serde_json::to_string(&row)?);
            } else {
                let opt =
                    |v: Option<f64>, p: usize| v.map_or("-".to_string(), |v| format!("{v:.p$}"));
                println!(
                    "{:<11} {:<48} {:<30} {:>10.3} {:>10} {:>8} {:>9} {:>8.1}",
                    row.op,
                    row.case,
                    row.path,
                    row.ours_ms,
                    opt(row.burn_ms, 3),
                    opt(row.speedup_vs_burn, 2),
                    opt(row.gflops, 1),
                    row.min_gbps
                );
            }
        }
    }
    Ok(())
}
