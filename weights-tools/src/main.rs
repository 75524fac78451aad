//! `weights-tools`: prepares weight folders for RoentGen Web.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};
use weights_tools::options::{
    AnyDType, Arch, DiffusersDType, Layout, OnOff, RandomDType, StoredDType,
};

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
        /// The diffusers folder (model_index.json, text_encoder/, unet/, vae/,
        /// tokenizer/, scheduler/; weights as .safetensors or PyTorch .bin).
        #[arg(long)]
        from: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Storage type of the weights.
        #[arg(long, value_enum, default_value_t = StoredDType::F16)]
        dtype: StoredDType,
        /// Target shard size: small enough to retry and cache one at a time,
        /// large enough to keep the request count low.
        #[arg(long, default_value_t = 32)]
        shard_mib: u64,
        /// Drop the VAE encoder: text-to-image only (`roentgen edit` and the
        /// page's image editing need it; 68 MB in f16 at SD v1's size).
        #[arg(long)]
        drop_encoder: bool,
        /// The model was trained with captions that open with age,
        /// race/ethnicity and sex (RoentGen-v2): the page asks for them.
        #[arg(long)]
        demographic_prompts: bool,
    },
    /// Say whether a converted model was trained with demographic captions
    /// (RoentGen-v2's "50 year old White female. ..."): on or off.
    DemographicPrompts {
        dir: PathBuf,
        #[arg(value_enum)]
        state: OnOff,
    },
    /// Write a converted folder back as a diffusers folder (safetensors,
    /// diffusers' names), e.g. for diffusers itself or to test a converter.
    Export {
        #[arg(long)]
        from: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, value_enum, default_value_t = DiffusersDType::F16)]
        dtype: DiffusersDType,
        /// Spell VAE attention as diffusers < 0.14 did (query/key/value/proj_attn, 1x1 convs).
        #[arg(long)]
        old_vae_attention: bool,
    },
    /// Check a converted folder: the manifest's table, every shard's size and sha256.
    /// Exits non-zero naming the first shard or tensor that is wrong.
    Verify { dir: PathBuf },
    /// Write a model of a known architecture with random weights (for
    /// benchmarks and memory plans without the gated weights).
    Random {
        #[arg(long, value_enum, default_value_t = Arch::SdV15)]
        arch: Arch,
        #[arg(long)]
        out: PathBuf,
        /// A CLIP tokenizer.json to ship with it (any converted folder has one,
        /// e.g. tests/goldens/tiny-sd2/model/tokenizer.json).
        #[arg(long)]
        tokenizer: PathBuf,
        /// f16, f32 or q8 for our layout; f32, f16 or bf16 for diffusers'.
        #[arg(long, value_enum, default_value_t = AnyDType::F16)]
        dtype: AnyDType,
        #[arg(long, default_value_t = 32)]
        shard_mib: u64,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long, value_enum, default_value_t = Layout::Ours)]
        layout: Layout,
    },
    /// Write procedural chest phantoms and their captions (the demo model's
    /// training set): images.npy (uint8) and captions.jsonl.
    Phantoms {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 1000)]
        count: usize,
        #[arg(long, default_value_t = 128)]
        size: usize,
        /// Seed of the first phantom; phantom k has seed + k.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
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
            drop_encoder,
            demographic_prompts,
        } => convert(
            &from,
            &out,
            &weights_tools::convert::ConvertOptions {
                dtype: dtype.tensor_dtype(),
                shard_bytes: shard_mib * 1024 * 1024,
                keep_encoder: !drop_encoder,
            },
            demographic_prompts,
        ),
        Command::DemographicPrompts { dir, state } => {
            weights_tools::manifest_edit::set_demographic_prompts(&dir, state == OnOff::On)?;
            println!(
                "{}: demographic prompts {}",
                dir.join("manifest.json").display(),
                if state == OnOff::On { "on" } else { "off" }
            );
            Ok(())
        }
        Command::Export {
            from,
            out,
            dtype,
            old_vae_attention,
        } => {
            let n = weights_tools::export::export(
                &from,
                &out,
                roentgen_convert::diffusers_layout::LayoutOptions {
                    dtype: dtype.safetensors(),
                    old_vae_attention,
                },
            )?;
            println!("wrote {n} tensors to {} (diffusers layout)", out.display());
            Ok(())
        }
        Command::Verify { dir } => verify(&dir),
        Command::Random {
            arch,
            out,
            tokenizer,
            dtype,
            shard_mib,
            seed,
            layout,
        } => {
            // Checked before the tokenizer is read or anything written.
            let dtype = dtype.for_layout(layout).map_err(anyhow::Error::msg)?;
            random(arch, &out, &tokenizer, dtype, shard_mib, seed)
        }
        Command::Phantoms {
            out,
            count,
            size,
            seed,
        } => {
            let t0 = std::time::Instant::now();
            let bar = indicatif::ProgressBar::new(count as u64);
            weights_tools::phantoms::write(&out, count, size, seed, |done| {
                bar.set_position(done as u64)
            })?;
            bar.finish_and_clear();
            println!(
                "wrote {count} phantoms of {size}x{size} to {} in {:.1} s",
                out.display(),
                t0.elapsed().as_secs_f64()
            );
            Ok(())
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
            Ok(())
        }
    }
}

fn convert(
    from: &Path,
    out: &Path,
    opts: &weights_tools::convert::ConvertOptions,
    demographic_prompts: bool,
) -> anyhow::Result<()> {
    let t0 = std::time::Instant::now();
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template(
            "{msg} {bar:40} {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)",
        )
        .expect("valid template"),
    );
    let summary = weights_tools::convert::convert(from, out, opts, |p| {
        bar.set_length(p.total);
        bar.set_position(p.done);
        bar.set_message(p.file.clone());
    })?;
    bar.finish_and_clear();
    println!("converted in {:.1} s", t0.elapsed().as_secs_f64());
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
    if demographic_prompts {
        weights_tools::manifest_edit::set_demographic_prompts(out, true)?;
    }
    println!("wrote {}", out.display());
    Ok(())
}

/// Every shard's size and sha256, then the manifest's table against the
/// loader's own (`Spec::check_table`): one table of what a model may hold,
/// the optional VAE encoder included.
fn verify(dir: &Path) -> anyhow::Result<()> {
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template(
            "{msg} {bar:40} {bytes}/{total_bytes} ({bytes_per_sec})",
        )
        .expect("valid template"),
    );
    let manifest = roentgen_weights::folder::verify_dir(dir, |shard, done, total| {
        bar.set_length(total);
        bar.set_position(done);
        bar.set_message(format!("shard {shard}"));
    });
    bar.finish_and_clear();
    let m = manifest.with_context(|| format!("{} does not verify", dir.display()))?;
    let spec = roentgen_model::Spec::from_configs(&m.configs)
        .with_context(|| format!("{}: configs", dir.display()))?;
    let checked = spec.check_table(
        m.tensors
            .iter()
            .map(|t| (t.name.as_str(), t.shape.as_slice())),
    );
    match checked {
        Ok(()) => {}
        Err(roentgen_model::ModelError::Architecture { problems }) => {
            for p in &problems {
                eprintln!("  {p}");
            }
            anyhow::bail!(
                "{}: {} tensors do not match the architecture in the manifest's configs",
                dir.display(),
                problems.len()
            );
        }
        Err(e) => return Err(e).with_context(|| format!("{}", dir.display())),
    }
    let bytes: u64 = m.shards.iter().map(|s| s.bytes).sum();
    println!(
        "{}: {} tensors in {} shards, {bytes} bytes, architecture as configured: OK",
        dir.display(),
        m.tensors.len(),
        m.shards.len()
    );
    Ok(())
}

fn random(
    arch: Arch,
    out: &Path,
    tokenizer: &Path,
    dtype: RandomDType,
    shard_mib: u64,
    seed: u64,
) -> anyhow::Result<()> {
    let t0 = std::time::Instant::now();
    let arch = arch.name();
    let configs = weights_tools::random::arch_configs(arch)?;
    let tok = std::fs::read_to_string(tokenizer)
        .with_context(|| format!("reading {}", tokenizer.display()))?;
    // The family's padding (SD 2.x pads with "!").
    let tok =
        weights_tools::random::family_tokenizer(&configs, &tok, &tokenizer.display().to_string())?;
    let stored = match dtype {
        RandomDType::Diffusers(d) => {
            weights_tools::random::write_random_diffusers(
                configs,
                &tok,
                out,
                d.safetensors(),
                seed,
            )?;
            println!(
                "wrote {} ({arch}, random, diffusers layout) in {:.1} s",
                out.display(),
                t0.elapsed().as_secs_f64()
            );
            return Ok(());
        }
        RandomDType::Ours(d) => d,
    };
    let bar = indicatif::ProgressBar::new(0);
    let summary = weights_tools::random::write_random(
        configs,
        tok.as_bytes(),
        out,
        stored.tensor_dtype(),
        shard_mib * 1024 * 1024,
        seed,
        |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        },
    )?;
    bar.finish_and_clear();
    let mut bytes = 0;
    for (component, (tensors, params, b)) in &summary {
        bytes += b;
        println!("{component:<13} {tensors:>5} tensors {params:>12} parameters {b:>13} bytes");
    }
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "wrote {} ({arch}, random) in {secs:.1} s, {:.0} MB/s",
        out.display(),
        bytes as f64 / secs / 1e6
    );
    Ok(())
}
