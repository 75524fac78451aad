//! `weights-tools`: prepares weight folders for RoentGen Web.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "weights-tools",
    version,
    about = "Convert, verify and make RoentGen weight folders"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Convert a diffusers folder (.safetensors) into manifest.json + shards.
    Convert {
        #[arg(long)]
        from: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Storage type of the weights.
        #[arg(long, default_value = "f16", value_parser = ["f16", "f32"])]
        dtype: String,
        /// Target shard size: small enough to retry and cache one at a time,
        /// large enough to keep the request count low.
        #[arg(long, default_value_t = 32)]
        shard_mib: u64,
        /// Keep the VAE encoder (image-to-image); dropped by default.
        #[arg(long)]
        keep_encoder: bool,
    },
    /// Check a converted folder: the manifest's table, every shard's size and sha256.
    /// Exits non-zero naming the first shard or tensor that is wrong.
    Verify { dir: PathBuf },
    /// Print the sha256 and size of each file, as the manifest records them.
    Sha256 {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Convert {
            from,
            out,
            dtype,
            shard_mib,
            keep_encoder,
        } => {
            let opts = weights_tools::convert::ConvertOptions {
                dtype: if dtype == "f32" {
                    roentgen_weights::TensorDType::F32
                } else {
                    roentgen_weights::TensorDType::F16
                },
                shard_bytes: shard_mib * 1024 * 1024,
                keep_encoder,
            };
            let spinner = indicatif::ProgressBar::new_spinner();
            let summary = weights_tools::convert::convert(&from, &out, &opts, |f| {
                spinner.set_message(format!("reading {f}"))
            })?;
            spinner.finish_and_clear();
            for (component, s) in summary {
                println!(
                    "{component:<13} {:>5} tensors {:>12} parameters {:>13} bytes{}",
                    s.tensors,
                    s.parameters,
                    s.bytes,
                    if s.skipped.is_empty() {
                        String::new()
                    } else {
                        format!(" (skipped non-float: {})", s.skipped.join(", "))
                    }
                );
            }
            println!("wrote {}", out.display());
        }
        Command::Verify { dir } => {
            let bar = indicatif::ProgressBar::new(0).with_style(
                indicatif::ProgressStyle::with_template(
                    "{msg} {bar:40} {bytes}/{total_bytes} ({bytes_per_sec})",
                )
                .expect("valid template"),
            );
            let manifest = roentgen_weights::folder::verify_dir(&dir, |shard, done, total| {
                bar.set_length(total);
                bar.set_position(done);
                bar.set_message(format!("shard {shard}"));
            });
            bar.finish_and_clear();
            let m = manifest.with_context(|| format!("{} does not verify", dir.display()))?;
            let bytes: u64 = m.shards.iter().map(|s| s.bytes).sum();
            println!(
                "{}: {} tensors in {} shards, {bytes} bytes: OK",
                dir.display(),
                m.tensors.len(),
                m.shards.len()
            );
        }
        Command::Sha256 { files } => {
            for f in files {
                let bytes =
                    std::fs::read(&f).with_context(|| format!("reading {}", f.display()))?;
                println!(
                    "{}  {:>12}  {}",
                    roentgen_weights::sha256_hex(&bytes),
                    bytes.len(),
                    f.display()
                );
            }
        }
    }
    Ok(())
}
