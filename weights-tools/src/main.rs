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
    /// Print the sha256 and size of each file, as the manifest records them.
    Sha256 {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
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
