//! What `generate` and `edit` share: where the model comes from, which
//! backend runs it, loading it with a progress bar, the sampler by name.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use roentgen_gpu::{ContextOptions, DType, GpuContext};
use roentgen_model::demographics::{Sex, Subject};
use roentgen_model::{Backend, CpuBackend, GpuBackend, Model, SchedulerKind};

use crate::options::Precision;

#[derive(clap::Args)]
pub struct ModelArgs {
    /// A converted model: a folder, or its http(s) URL (or its manifest.json).
    #[arg(long, value_parser = crate::model_path::model_location)]
    pub model: String,
    /// Authorization header value for a gated host (or env ROENTGEN_AUTHORIZATION).
    #[arg(long, env = "ROENTGEN_AUTHORIZATION", hide_env_values = true)]
    pub authorization: Option<String>,
    /// Cookie header for a gated host (or env ROENTGEN_COOKIE).
    #[arg(long, env = "ROENTGEN_COOKIE", hide_env_values = true)]
    pub cookie: Option<String>,
    /// f16 (half the memory) or f32 (exact, for comparisons).
    #[arg(long, value_enum, default_value_t = Precision::F16)]
    pub precision: Precision,
    /// Run on the CPU reference ops (slow; for machines without an adapter).
    #[arg(long)]
    pub cpu: bool,
}

/// The sampling settings `generate` and `edit` share.
#[derive(clap::Args)]
pub struct SamplingArgs {
    /// What the image should show, in radiology-report language.
    #[arg(long)]
    pub prompt: String,
    /// What it should not show (classifier-free guidance's negative prompt).
    #[arg(long, default_value = "")]
    pub negative: String,
    /// Denoising steps (an edit runs about strength x steps of them).
    /// RoentGen's authors used 75 steps at guidance 4.
    #[arg(long, default_value_t = 50)]
    pub steps: usize,
    /// Classifier-free guidance scale (1 or less: no guidance).
    #[arg(long, default_value_t = 4.0)]
    pub guidance: f32,
    /// pndm | ddim | euler | euler-a | dpm++2m; default: the model's own.
    #[arg(long, value_parser = crate::options::scheduler)]
    pub scheduler: Option<SchedulerKind>,
    /// Seed (of the first image, with several); default: random, printed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// The patient's age in years, for a model trained with demographic
    /// captions (RoentGen-v2): "50 year old White female. <prompt>".
    #[arg(long, value_parser = parse_age)]
    pub age: Option<u32>,
    /// female or male (with --age, --race: the caption's opening sentence).
    #[arg(long, value_parser = Sex::parse)]
    pub sex: Option<Sex>,
    /// Race/ethnicity as the training captions spell it ("White", "Black",
    /// "Asian", "Hispanic/Latino", ...).
    #[arg(long, value_parser = parse_race)]
    pub race: Option<String>,
}

fn parse_age(s: &str) -> Result<u32, String> {
    Subject::parse_age(s)?.ok_or_else(|| "age: a number of years".into())
}

fn parse_race(s: &str) -> Result<String, String> {
    Subject::parse_race(s)?.ok_or_else(|| "race: a word such as White".into())
}

impl SamplingArgs {
    /// The seed given, or one from the clock (printed, so the image can be
    /// made again).
    pub fn seed(&self) -> u64 {
        self.seed.unwrap_or_else(|| {
            let seed = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64 % 1_000_000_000);
            eprintln!("seed: {seed}");
            seed
        })
    }

    /// The request for `seed` at `latent_hw` on `model` (its own sampler
    /// unless `--scheduler` names one); warns when CLIP cuts the prompt.
    pub fn request<B: Backend>(
        &self,
        model: &Model<B>,
        seed: u64,
        latent_hw: (usize, usize),
    ) -> anyhow::Result<roentgen_model::Request> {
        let subject = Subject {
            age: self.age,
            sex: self.sex,
            race: self.race.clone(),
        };
        if !subject.is_empty() && !model.demographic_prompts {
            eprintln!(
                "warning: this model's manifest does not say it was trained with demographic \
                 captions (weights-tools demographic-prompts DIR on); the sentence is added anyway"
            );
        }
        let prompt = subject.compose(&self.prompt);
        warn_if_truncated(model, &prompt)?;
        Ok(roentgen_model::Request {
            prompt,
            negative: self.negative.clone(),
            steps: self.steps,
            guidance: self.guidance,
            scheduler: self
                .scheduler
                .unwrap_or_else(|| model.scheduler.default_kind()),
            seed,
            latent_hw,
        })
    }
}

/// Where the weights come from.
pub enum Source {
    Dir(PathBuf),
    Url(roentgen_weights::http::HttpSource),
}

/// Work to run on whichever backend the arguments choose.
pub trait OnBackend {
    fn run<B: Backend>(self, backend: B, source: &Source) -> anyhow::Result<()>;
}

impl ModelArgs {
    pub fn source(&self) -> anyhow::Result<Source> {
        if self.model.starts_with("http://") || self.model.starts_with("https://") {
            return Ok(Source::Url(roentgen_weights::http::HttpSource::new(
                &self.model,
                self.authorization.clone(),
                self.cookie.clone(),
            )));
        }
        let dir = PathBuf::from(&self.model);
        if !dir.join("manifest.json").is_file() {
            bail!(
                "--model {}: no manifest.json there (convert a diffusers folder with `weights-tools convert`)",
                dir.display()
            );
        }
        Ok(Source::Dir(dir))
    }

    /// Runs `job` on the CPU or on the GPU at the chosen precision.
    pub fn run(&self, job: impl OnBackend) -> anyhow::Result<()> {
        let source = self.source()?;
        let dtype = self.precision.dtype();
        if self.cpu {
            if dtype == DType::F16 {
                eprintln!("note: the CPU path computes in f32");
            }
            return job.run(CpuBackend, &source);
        }
        let ctx = pollster::block_on(GpuContext::new(ContextOptions {
            allow_shader_f16: true,
            ..Default::default()
        }))
        .context(
            "no GPU adapter: install a Vulkan driver (mesa-vulkan-drivers runs on the CPU) or pass --cpu",
        )?;
        job.run(GpuBackend::new(&ctx, dtype), &source)
    }
}

pub fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} {elapsed}/{eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

/// Loads the model with a progress bar (shards from a folder, bytes and the
/// arriving component from a URL).
pub fn load<B: Backend>(backend: B, source: &Source, name: &str) -> anyhow::Result<Model<B>> {
    eprintln!("backend: {}", backend.describe());
    let t0 = Instant::now();
    let model = match source {
        Source::Dir(dir) => {
            let loading = bar(0, "loading");
            let m = Model::load_dir(backend, dir, |done, total| {
                loading.set_length(total as u64);
                loading.set_position(done as u64);
            });
            loading.finish_and_clear();
            m
        }
        Source::Url(src) => {
            let pb = ProgressBar::new(0);
            pb.set_style(
                ProgressStyle::with_template(
                    "{msg:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            pb.set_message("download");
            let m = Model::load_url(backend, src, |p| {
                pb.set_length(p.total());
                pb.set_position(p.done());
                // The component now arriving (text encoder, UNet, VAE).
                if let Some(c) = p.components().iter().find(|c| c.done < c.total) {
                    pb.set_message(format!(
                        "{} {:.0}%",
                        c.name,
                        100.0 * c.done as f64 / c.total as f64
                    ));
                }
            });
            pb.finish_and_clear();
            m
        }
    }
    .with_context(|| format!("loading {name}"))?;
    eprintln!("model loaded in {:.1} s", t0.elapsed().as_secs_f64());
    Ok(model)
}

/// Warns when CLIP cuts the prompt.
pub fn warn_if_truncated<B: Backend>(model: &Model<B>, prompt: &str) -> anyhow::Result<()> {
    let tokens = model.tokenizer.encode(prompt)?;
    if !tokens.truncated.is_empty() {
        eprintln!(
            "warning: the prompt needs {} tokens, CLIP reads 77; cut: {:?}",
            tokens.used, tokens.truncated
        );
    }
    Ok(())
}
