//! `roentgen`: the native command line of RoentGen Web.

/// Unit tests fuzz parsers and check the largest allocation they cause.
#[cfg(test)]
#[global_allocator]
static ALLOC: roentgen_fuzz::CountingAlloc = roentgen_fuzz::CountingAlloc;

mod adapter;
mod bench;
mod dataset;
mod edit;
mod generate;
mod image_out;
mod maps_out;
mod model_args;
mod model_path;
mod npy;
mod options;
mod plan;
mod read;
mod run_outputs;
mod shaders;
mod shard;
mod tokenize;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "roentgen",
    version,
    about = "Synthetic chest X-rays from radiology text (RoentGen), on your GPU"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show the GPU adapter, its limits, and run the kernel self-check.
    Adapter {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Generate images from a prompt.
    Generate(Box<generate::GenerateArgs>),
    /// Edit a radiograph (PNG, JPEG or DICOM) with a prompt: image-to-image,
    /// or only inside a mask.
    Edit(Box<edit::EditArgs>),
    /// A labelled synthetic data set from a spec: made (resumably, split
    /// over machines or Slurm array tasks with --shard), then merged.
    Dataset {
        #[command(subcommand)]
        what: dataset::DatasetCommand,
    },
    /// Build the whole pipeline on the adapter without running it; check every
    /// binding and dispatch against its limits and state the peak GPU memory.
    Plan(plan::PlanArgs),
    /// Print the token ids CLIP reads for a prompt, as JSON.
    Tokenize {
        /// A converted model folder (or its manifest.json).
        #[arg(long, value_parser = model_path::model_dir)]
        model: std::path::PathBuf,
        text: String,
    },
    /// Write every kernel's WGSL as compiled for each storage path (f32, f16,
    /// f16-packed), to check them with other compilers such as a browser's.
    Shaders {
        /// Folder to write NAME.PATH.wgsl files into.
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// What the phantom reader finds in images (findings with side and size,
    /// per head with its probability), as JSON.
    Read(read::ReadArgs),
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
}

#[derive(Subcommand)]
enum BenchWhat {
    /// Every kernel on SD v1 shapes, against burn-wgpu on the same adapter.
    Kernels(bench::BenchArgs),
    /// One UNet call (CFG batch 2) of a converted model.
    Unet(bench::model::ModelBenchArgs),
    /// One VAE decode.
    Vae(bench::model::ModelBenchArgs),
    /// One whole image (text encoder, sampling, decode).
    Pipeline(bench::model::ModelBenchArgs),
    /// SD v1.5's full-size ResNet block and transformer, random weights.
    Layers(bench::model::LayerBenchArgs),
    /// How long one queue submission holds the GPU: the largest at full
    /// size (dry run) at the slowest rate measured at a small size.
    Submissions(bench::submissions::SubmissionArgs),
    /// Prompt control: generate each control prompt over many seeds and
    /// score the images with the phantom reader.
    Control(bench::control::ControlArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Adapter { json } => adapter::run(json),
        Command::Generate(args) => generate::run(*args),
        Command::Edit(args) => edit::run(*args),
        Command::Dataset { what } => dataset::run(what),
        Command::Plan(args) => plan::run(args),
        Command::Tokenize { model, text } => tokenize::run(&model, &text),
        Command::Shaders { out } => shaders::run(&out),
        Command::Read(args) => read::run(args),
        Command::Bench { what } => match what {
            BenchWhat::Kernels(args) => bench::run(args),
            BenchWhat::Unet(args) => bench::model::run_model("unet", args),
            BenchWhat::Vae(args) => bench::model::run_model("vae", args),
            BenchWhat::Pipeline(args) => bench::model::run_model("pipeline", args),
            BenchWhat::Layers(args) => bench::model::run_layers(args),
            BenchWhat::Control(args) => bench::control::run(args),
            BenchWhat::Submissions(args) => bench::submissions::run(args),
        },
    }
}
