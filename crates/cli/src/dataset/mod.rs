//! `roentgen dataset make`: a labelled synthetic data set from a spec, split
//! over as many machines (or Slurm array tasks) as there are, resumable
//! after any kill, and the same image k wherever it is made.
//! `roentgen dataset merge` checks the whole set and writes its
//! `labels.csv` and its card. deploy/slurm/ runs both on a cluster.

mod card;
mod make;
mod merge;
mod spec;
mod store;

use std::path::PathBuf;

use clap::Subcommand;

use crate::model_args::ModelArgs;
use crate::shard::Shard;

#[derive(Subcommand)]
pub enum DatasetCommand {
    /// Make the images (all, or one shard's) and their label rows; a rerun
    /// skips and verifies what is there and mends what a killed task left.
    Make(Box<MakeArgs>),
    /// When every shard is done: check that each image is there exactly
    /// once and matches its label row, then write labels.csv (image order)
    /// and the data set's card, README.md.
    Merge {
        /// The data set's folder.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(clap::Args)]
pub struct MakeArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// What to draw: prompts and their lists, counts, sampler settings and
    /// the base seed (TOML; see docs/dataset.md).
    #[arg(long)]
    pub spec: PathBuf,
    /// The data set's folder (made if missing; a rerun resumes it).
    #[arg(long)]
    pub out: PathBuf,
    /// Make only the images k with k % n == i (one array task's part).
    #[arg(long, value_name = "i/n", value_parser = Shard::parse, default_value = "0/1")]
    pub shard: Shard,
}

pub fn run(command: DatasetCommand) -> anyhow::Result<()> {
    match command {
        DatasetCommand::Make(args) => make::run(*args),
        DatasetCommand::Merge { out } => merge::run(&out),
    }
}
