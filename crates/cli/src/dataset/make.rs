//! Making one shard of a data set: everything checked before the model is
//! read, then image after image, each skipped (and verified) if a run before
//! made it.

use std::io::IsTerminal;
use std::time::Instant;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use roentgen_model::{Backend, GivenNoise, Model, Request, RunOptions};

use super::MakeArgs;
use super::spec::{Checked, Spec};
use super::store::{self, Layout, Meta, Part};
use crate::model_args::{self, OnBackend, Source};

pub fn run(args: MakeArgs) -> anyhow::Result<()> {
    let spec_text = std::fs::read_to_string(&args.spec)
        .with_context(|| format!("reading --spec {}", args.spec.display()))?;
    let checked = Spec::parse(&spec_text)
        .and_then(Spec::check)
        .with_context(|| format!("--spec {}", args.spec.display()))?;
    let source = args.model.source()?;
    let manifest = match &source {
        Source::Dir(dir) => std::fs::read(dir.join("manifest.json"))
            .with_context(|| format!("reading {}/manifest.json", dir.display()))?,
        Source::Url(src) => src.get("manifest.json", 64 << 20)?,
    };
    let model_kind = serde_json::from_slice::<serde_json::Value>(&manifest)
        .ok()
        .and_then(|v| v.get("model_kind")?.as_str().map(String::from))
        .unwrap_or_default();
    let meta = Meta {
        format: store::FORMAT.into(),
        format_version: store::FORMAT_VERSION,
        total: checked.total,
        spec_sha256: checked.sha256(),
        spec: checked.spec.clone(),
        model: args.model.model.clone(),
        model_manifest_sha256: roentgen_weights::sha256_hex(&manifest),
        model_kind,
        arithmetic: if args.model.cpu {
            "cpu".into()
        } else {
            args.model.precision.to_string()
        },
    };
    let layout = Layout::new(&args.out);
    // Before the model loads: a folder of another data set is refused now,
    // not after gigabytes have been read.
    if layout.meta().exists() {
        meta.create_or_check(&layout, &spec_text)?;
    }
    args.model.run(Job {
        args: &args,
        checked: &checked,
        meta: &meta,
        layout: &layout,
        spec_text: &spec_text,
    })
}

struct Job<'a> {
    args: &'a MakeArgs,
    checked: &'a Checked,
    meta: &'a Meta,
    layout: &'a Layout,
    spec_text: &'a str,
}

impl OnBackend for Job<'_> {
    fn run<B: Backend>(self, backend: B, source: &Source) -> anyhow::Result<()> {
        let model = model_args::load(backend, source, &self.args.model.model)?;
        let settings = self.settings(&model)?;
        // The folder's own record from here on (its model location, if an
        // earlier run named the model elsewhere).
        let meta = self.meta.create_or_check(self.layout, self.spec_text)?;
        self.make(&model, &settings, &meta)
    }
}

/// What the model decides: the latent size and the sampler.
struct Settings {
    latent_hw: (usize, usize),
    image_size: (usize, usize),
    scheduler: roentgen_model::SchedulerKind,
}

/// How far this shard has come.
#[derive(Default)]
struct Tally {
    made: u64,
    found: u64,
    mended_rows: u64,
    remade: u64,
}

impl Job<'_> {
    /// The checks that need the model: size, demographics, prompt lengths.
    fn settings<B: Backend>(&self, model: &Model<B>) -> anyhow::Result<Settings> {
        let latent_hw = model.latent_hw_or_default(self.checked.size)?;
        let scale = model.vae_scale();
        if self.checked.varies_subject() && !model.demographic_prompts {
            bail!(
                "the spec sets age, sex or race, but this model's manifest does not say it was \
                 trained with demographic captions (weights-tools demographic-prompts DIR on, if \
                 it was)"
            );
        }
        for (k, prompt) in self.checked.distinct_prompts()? {
            let tokens = model.tokenizer.encode(&prompt)?;
            if !tokens.truncated.is_empty() {
                bail!(
                    "image {k}'s prompt {prompt:?} needs {} tokens, CLIP reads 77 (it would cut \
                     {:?}, and the labels would claim what the model never read): shorten it",
                    tokens.used,
                    tokens.truncated
                );
            }
        }
        Ok(Settings {
            latent_hw,
            image_size: (latent_hw.1 * scale, latent_hw.0 * scale),
            scheduler: self
                .checked
                .scheduler
                .unwrap_or_else(|| model.scheduler.default_kind()),
        })
    }

    fn request(
        &self,
        k: u64,
        settings: &Settings,
    ) -> anyhow::Result<(super::spec::Planned, Request)> {
        let planned = self.checked.image(k)?;
        let spec = &self.checked.spec;
        let req = Request {
            prompt: planned.prompt.clone(),
            negative: spec.negative.clone(),
            steps: spec.steps,
            guidance: spec.guidance,
            scheduler: settings.scheduler,
            seed: planned.seed,
            latent_hw: settings.latent_hw,
        };
        Ok((planned, req))
    }

    fn make<B: Backend>(
        &self,
        model: &Model<B>,
        settings: &Settings,
        meta: &Meta,
    ) -> anyhow::Result<()> {
        let shard = self.args.shard;
        let (mut part, cut) = Part::open(self.layout, shard)?;
        if let Some(cut) = cut {
            eprintln!("shard {shard}: dropped a row cut when a task was killed: {cut:?}");
        }
        let rows = store::read_parts(self.layout)?;
        let ks: Vec<u64> = (0..self.checked.total)
            .filter(|&k| shard.holds(k))
            .collect();
        let progress = Progress::new(shard, ks.len() as u64);
        let mut tally = Tally::default();
        for &k in &ks {
            let (planned, req) = self.request(k, settings)?;
            let expect = roentgen_model::png::metadata(&req, &meta.model);
            let path = self.layout.image(k);
            let has_row = rows.by_k.contains_key(&k);
            let exists = match path.exists().then(|| store::read_image(&path)) {
                None => false,
                Some(Ok(image)) => {
                    if let Some(why) = store::differs(&image, &expect, settings.image_size) {
                        bail!(
                            "image {k} ({}): {why}. This folder holds another data set's images; \
                             give a new --out",
                            path.display()
                        );
                    }
                    true
                }
                Some(Err(e)) => {
                    eprintln!(
                        "image {k} ({}) is damaged ({e:#}): making it again",
                        path.display()
                    );
                    tally.remade += 1;
                    false
                }
            };
            if exists {
                tally.found += 1;
            } else {
                self.draw(model, &req, &expect, k)?;
                tally.made += 1;
            }
            if !has_row {
                part.append(&store::row(&planned, &req, settings.image_size, meta))?;
                if exists {
                    tally.mended_rows += 1;
                }
            }
            progress.image(k, !exists, &tally);
        }
        progress.finish();
        eprintln!(
            "shard {shard}: {} images made, {} already there and verified{}{}; when every shard \
             is done: roentgen dataset merge --out {}",
            tally.made,
            tally.found,
            match tally.mended_rows {
                0 => String::new(),
                n => format!(", {n} label rows written for images a killed task had left"),
            },
            match tally.remade {
                0 => String::new(),
                n => format!(", {n} damaged images made again"),
            },
            self.layout.root.display()
        );
        Ok(())
    }

    /// Generates image k and puts it in place whole.
    fn draw<B: Backend>(
        &self,
        model: &Model<B>,
        req: &Request,
        expect: &[(&'static str, String)],
        k: u64,
    ) -> anyhow::Result<()> {
        let out = pollster::block_on(model.generate(
            req,
            GivenNoise::default(),
            RunOptions::default(),
            |_| true,
        ))
        .with_context(|| format!("image {k}"))?;
        let png = roentgen_model::png::encode_rgb8(out.width, out.height, &out.rgb8(), expect)
            .map_err(anyhow::Error::msg)?;
        store::write_atomically(&self.layout.image(k), &self.layout.partial(k), &png)
            .with_context(|| format!("image {k}"))
    }
}

/// A bar on a terminal; on a scheduler's log (no terminal), one JSON line
/// per image on stdout that a script can follow.
struct Progress {
    bar: ProgressBar,
    shard: crate::shard::Shard,
    total: u64,
    start: Instant,
    json: bool,
}

impl Progress {
    fn new(shard: crate::shard::Shard, total: u64) -> Self {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} images, {elapsed} elapsed")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_message(format!("shard {shard}"));
        Self {
            bar,
            shard,
            total,
            start: Instant::now(),
            json: !std::io::stdout().is_terminal(),
        }
    }

    fn image(&self, k: u64, made: bool, tally: &Tally) {
        // Every image so far was either made or found already there.
        let done = tally.made + tally.found;
        let secs = self.start.elapsed().as_secs_f64();
        // The rate of images made, not of images found already there.
        let per_hour = if tally.made > 0 {
            tally.made as f64 * 3600.0 / secs
        } else {
            0.0
        };
        let left = self.total - done;
        let eta = (per_hour > 0.0).then(|| left as f64 * 3600.0 / per_hour);
        self.bar.set_position(done);
        self.bar.set_message(format!(
            "shard {} {:.0} img/h, {} left",
            self.shard,
            per_hour,
            eta.map_or("?".into(), |s| format!("{:.0} s", s))
        ));
        if self.json {
            println!(
                "{}",
                serde_json::json!({
                    "shard": self.shard.to_string(),
                    "k": k,
                    "made": made,
                    "done": done,
                    "total": self.total,
                    "images_per_hour": (per_hour * 10.0).round() / 10.0,
                    "eta_s": eta.map(|s| s.round()),
                })
            );
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
