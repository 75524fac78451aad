//! What `generate` and `edit` may write besides the image: the final
//! latents (to compare with another implementation) and where the model
//! looked for each word.

use std::path::{Path, PathBuf};

use roentgen_model::{Output, RunOptions};

use crate::npy;

#[derive(clap::Args)]
pub struct ExtraOutputs {
    /// Write the final latents (before the VAE) as float32 .npy [1, 4, h, w];
    /// with several images, NAME-SEED.npy beside it.
    #[arg(long)]
    pub save_latents: Option<PathBuf>,
    /// Write where the model attends for each word of the prompt: a heat
    /// overlay per word (NN-word.png) and maps.json; with several images, a
    /// folder per seed inside.
    #[arg(long, value_name = "DIR")]
    pub attention_maps: Option<PathBuf>,
}

impl ExtraOutputs {
    /// Every step awaited, so the progress bar and its time left count
    /// finished work; maps recorded only when asked for.
    pub fn run_options(&self) -> RunOptions {
        RunOptions {
            watch: true,
            attention_maps: self.attention_maps.is_some(),
            checkpoints: false,
        }
    }

    /// Writes what was asked for of image `seed` (one of `count`), whose
    /// latents have `shape`.
    pub fn write(
        &self,
        out: &Output,
        shape: [usize; 4],
        count: u64,
        seed: u64,
    ) -> anyhow::Result<()> {
        if let (Some(dir), Some(maps)) = (&self.attention_maps, &out.attention) {
            let dir = match count {
                1 => dir.clone(),
                _ => dir.join(format!("roentgen-{seed}")),
            };
            crate::maps_out::write(&dir, out, maps)?;
        }
        if let Some(base) = &self.save_latents {
            npy::write_f32(&latents_path(base, count, seed), &shape, &out.latents)?;
        }
        Ok(())
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
