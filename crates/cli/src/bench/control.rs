//! `roentgen bench control`: does the model draw what the prompt says? Each
//! control prompt (crates/phantom/src/control.rs) is generated over many
//! seeds and every image is read by the phantom reader; the table gives, per
//! prompt and in all, the share of images whose findings are present or
//! absent on the side asked ("side") and, where a size is asked, of that size
//! too ("exact"); then whether effusion size grows from small to large, and
//! how far generated images are from phantoms in the reader's features.
//!
//! The images come from our pipeline on the adapter (`--model`) or from a
//! folder (`--images`, with an index.json of prompt, seed and file), such as
//! the one demo-model/control.py fills with diffusers on the CPU, which is
//! some fifty times faster than lavapipe where no GPU is at hand. Either way
//! the reader, the scores and the table are this code's.

use crate::options::Precision;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use roentgen_gpu::{ContextOptions, GpuContext};
use roentgen_model::{GivenNoise, GpuBackend, Model, Request, SchedulerKind};
use roentgen_phantom::control::{PROMPTS, score};
use roentgen_phantom::labels::HEADS;
use roentgen_phantom::{Reader, phantom};

use super::frechet::frechet_distance;

#[derive(clap::Args, Debug)]
pub struct ControlArgs {
    /// A converted model folder (the demo model: demo-model/model).
    #[arg(long, required_unless_present_any = ["images", "list"], value_parser = crate::model_path::model_dir)]
    pub model: Option<PathBuf>,
    /// Score the images in this folder instead of generating: index.json
    /// lists {prompt, seed, file} per image and says what made them.
    #[arg(long, conflicts_with = "model")]
    pub images: Option<PathBuf>,
    /// Print the control prompts as a JSON array and exit.
    #[arg(long)]
    pub list: bool,
    /// Images per prompt (seeds 0..n).
    #[arg(long, default_value_t = 16)]
    pub seeds: u64,
    #[arg(long, default_value_t = 20)]
    pub steps: usize,
    #[arg(long, default_value_t = 4.0)]
    pub guidance: f32,
    /// pndm | ddim | euler | euler-a | dpm++2m; default: the model's own.
    #[arg(long, value_parser = crate::options::scheduler)]
    pub scheduler: Option<SchedulerKind>,
    #[arg(long, value_enum, default_value_t = Precision::F16)]
    pub precision: Precision,
    /// Only prompts containing this text (repeat it for several: any one).
    #[arg(long)]
    pub filter: Vec<String>,
    /// Write each prompt's images side by side, one PNG row per prompt, here.
    #[arg(long)]
    pub grid: Option<PathBuf>,
    /// Images per prompt in the grid (the first seeds); default: all.
    #[arg(long)]
    pub grid_columns: Option<usize>,
    /// Fail (exit 1) if the share of images right on presence and side is
    /// below this, in all.
    #[arg(long)]
    pub min_side: Option<f64>,
    /// One JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

#[derive(serde::Serialize)]
struct PromptRow {
    prompt: &'static str,
    images: usize,
    side: f64,
    exact: f64,
    /// Mean answer of each effusion head (0 none .. 3 large).
    mean_effusion: [f64; 2],
}

#[derive(serde::Serialize)]
struct Report {
    model: String,
    adapter: String,
    steps: usize,
    guidance: f32,
    seeds: u64,
    prompts: Vec<PromptRow>,
    side: f64,
    exact: f64,
    /// Mean right-effusion answer for "Small/Moderate/Large right pleural
    /// effusion." where all three ran, and whether it grows.
    effusion_sizes: Option<([f64; 3], bool)>,
    /// Fréchet distance between generated images and as many phantoms, in
    /// the reader's 128 hidden features; and between two phantom sets, for scale.
    frechet_to_phantoms: f64,
    frechet_phantoms_to_phantoms: f64,
    seconds: f64,
}

fn grey(out: &roentgen_model::pipeline::Output) -> Vec<f32> {
    let plane = out.width * out.height;
    (0..plane)
        .map(|i| {
            let v = (out.decoded[i] + out.decoded[plane + i] + out.decoded[2 * plane + i]) / 3.0;
            (v / 2.0 + 0.5).clamp(0.0, 1.0)
        })
        .collect()
}

/// Where the images come from.
enum Source<'c> {
    /// Our pipeline on the adapter.
    Model {
        model: Box<Model<GpuBackend<'c>>>,
        scheduler: SchedulerKind,
        adapter: String,
        path: PathBuf,
    },
    /// PNG files listed in DIR/index.json.
    Images {
        dir: PathBuf,
        generator: String,
        files: HashMap<(String, u64), String>,
    },
}

#[derive(serde::Deserialize)]
struct Index {
    /// What made the images (program, model, steps, scheduler, guidance).
    generator: String,
    images: Vec<IndexEntry>,
}

#[derive(serde::Deserialize)]
struct IndexEntry {
    prompt: String,
    seed: u64,
    file: String,
}

impl<'c> Source<'c> {
    fn open(args: &ControlArgs, ctx: &'c Option<GpuContext>) -> Result<Self> {
        if let Some(dir) = &args.images {
            let path = dir.join("index.json");
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let index: Index = serde_json::from_str(&text)
                .with_context(|| format!("{}: not a control image index", path.display()))?;
            let files = index
                .images
                .into_iter()
                .map(|e| ((e.prompt, e.seed), e.file))
                .collect();
            return Ok(Source::Images {
                dir: dir.clone(),
                generator: index.generator,
                files,
            });
        }
        let (Some(path), Some(ctx)) = (&args.model, ctx) else {
            bail!("give --model or --images");
        };
        let dtype = args.precision.dtype();
        let model = Model::load_dir(GpuBackend::new(ctx, dtype), path, |_, _| {})
            .with_context(|| format!("loading {}", path.display()))?;
        let scheduler = args
            .scheduler
            .unwrap_or_else(|| model.scheduler.default_kind());
        Ok(Source::Model {
            model: Box::new(model),
            scheduler,
            adapter: ctx.report.label(),
            path: path.clone(),
        })
    }

    /// One image as grey values in [0, 1], and its side.
    fn image(&self, args: &ControlArgs, prompt: &str, seed: u64) -> Result<(Vec<f32>, usize)> {
        match self {
            Source::Model {
                model, scheduler, ..
            } => {
                let req = Request {
                    prompt: prompt.into(),
                    negative: String::new(),
                    steps: args.steps,
                    guidance: args.guidance,
                    scheduler: *scheduler,
                    seed,
                    latent_hw: model.default_latent_hw(),
                };
                let out =
                    pollster::block_on(
                        model.generate(&req, GivenNoise::default(), false, |_| true),
                    )?;
                Ok((grey(&out), out.width))
            }
            Source::Images { dir, files, .. } => {
                let file = files.get(&(prompt.to_string(), seed)).with_context(|| {
                    format!("{}: no image of \"{prompt}\" seed {seed}", dir.display())
                })?;
                crate::read::grey_png(&dir.join(file))
            }
        }
    }

    /// Where the images came from, for the report.
    fn describe(&self) -> (String, String) {
        match self {
            Source::Model { path, adapter, .. } => (path.display().to_string(), adapter.clone()),
            Source::Images { dir, generator, .. } => (dir.display().to_string(), generator.clone()),
        }
    }
}

pub fn run(args: ControlArgs) -> Result<()> {
    if args.list {
        let prompts: Vec<&str> = PROMPTS.iter().map(|p| p.prompt).collect();
        println!("{}", serde_json::to_string_pretty(&prompts)?);
        return Ok(());
    }
    let ctx = match args.images {
        Some(_) => None,
        None => Some(
            pollster::block_on(GpuContext::new(ContextOptions {
                allow_shader_f16: true,
                ..Default::default()
            }))
            .context("no GPU adapter (install mesa-vulkan-drivers for a CPU one)")?,
        ),
    };
    let source = Source::open(&args, &ctx)?;
    let reader = Reader::bundled()?;
    let mut read = Readings::new();
    for p in PROMPTS {
        if args.filter.is_empty() || args.filter.iter().any(|f| p.prompt.contains(f.as_str())) {
            read.prompt(p, &source, &reader, &args)?;
        }
    }
    if read.images == 0 {
        bail!("no control prompt matches --filter");
    }
    if let Some(path) = &args.grid {
        write_grid(path, &read.grid_rows)?;
    }
    let images = read.images;
    let report = read.report(&reader, &source, &args);
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "in all: side {:.1}%, exact {:.1}% of {} images; effusion size small<moderate<large: {}; \
             Fréchet distance to phantoms {:.2} (phantoms to phantoms {:.2}); {} on {}, {:.0} s",
            100.0 * report.side,
            100.0 * report.exact,
            images,
            match report.effusion_sizes {
                Some((m, ok)) => format!("{ok} ({:.2}, {:.2}, {:.2})", m[0], m[1], m[2]),
                None => "not run".into(),
            },
            report.frechet_to_phantoms,
            report.frechet_phantoms_to_phantoms,
            report.model,
            report.adapter,
            report.seconds
        );
    }
    if let Some(min) = args.min_side
        && report.side < min
    {
        bail!(
            "prompt control: {:.1}% of images right on presence and side, below --min-side {:.1}%",
            100.0 * report.side,
            100.0 * min
        );
    }
    Ok(())
}

/// What the reader found so far: a row per prompt, every image's features,
/// the grid's rows of images, and the counts over all prompts.
struct Readings {
    t0: Instant,
    rows: Vec<PromptRow>,
    features: Vec<Vec<f32>>,
    grid_rows: Vec<(usize, Vec<f32>)>,
    side: usize,
    exact: usize,
    images: usize,
    /// The images' side in pixels.
    size: usize,
}

impl Readings {
    fn new() -> Self {
        Self {
            t0: Instant::now(),
            rows: Vec::new(),
            features: Vec::new(),
            grid_rows: Vec::new(),
            side: 0,
            exact: 0,
            images: 0,
            size: 0,
        }
    }

    /// Makes (or reads) `args.seeds` images of prompt `p` and scores each.
    fn prompt(
        &mut self,
        p: &'static roentgen_phantom::control::ControlPrompt,
        source: &Source,
        reader: &Reader,
        args: &ControlArgs,
    ) -> Result<()> {
        let eff = |name: &str| HEADS.iter().position(|h| h.name == name).expect("head");
        let (eff_r, eff_l) = (eff("effusion_right"), eff("effusion_left"));
        let (mut side, mut exact, mut effusion) = (0usize, 0usize, [0usize; 2]);
        let mut images = Vec::new();
        for seed in 0..args.seeds {
            let (px, width) = source.image(args, p.prompt, seed)?;
            self.size = width;
            let reading = reader.read(&px, width);
            let s = score(p, &reading.answers);
            side += usize::from(s.presence_and_side);
            exact += usize::from(s.exact);
            effusion[0] += reading.answers[eff_r];
            effusion[1] += reading.answers[eff_l];
            self.features.push(reading.features);
            if args.grid.is_some() && args.grid_columns.is_none_or(|c| images.len() < c) {
                images.push((width, px));
            }
        }
        let n = args.seeds as usize;
        (self.side, self.exact, self.images) =
            (self.side + side, self.exact + exact, self.images + n);
        let row = PromptRow {
            prompt: p.prompt,
            images: n,
            side: side as f64 / n as f64,
            exact: exact as f64 / n as f64,
            mean_effusion: effusion.map(|e| e as f64 / n as f64),
        };
        if !args.json {
            println!(
                "{:<40} side {:>5.1}%  exact {:>5.1}%  ({} images, {:.0} s so far)",
                row.prompt,
                100.0 * row.side,
                100.0 * row.exact,
                n,
                self.t0.elapsed().as_secs_f64()
            );
        }
        self.rows.push(row);
        if let Some((w, first)) = images.first() {
            let mut row_px = Vec::with_capacity(first.len() * images.len());
            for y in 0..*w {
                for (_, im) in &images {
                    row_px.extend_from_slice(&im[y * w..(y + 1) * w]);
                }
            }
            self.grid_rows.push((*w, row_px));
        }
        Ok(())
    }

    /// The report over all prompts: the rates, whether effusion grows with
    /// the size named, and the Fréchet distance to as many phantoms.
    fn report(self, reader: &Reader, source: &Source, args: &ControlArgs) -> Report {
        let sizes = ["Small", "Moderate", "Large"].map(|s| {
            let name = format!("{s} right pleural effusion.");
            self.rows
                .iter()
                .find(|r| r.prompt == name)
                .map(|r| r.mean_effusion[0])
        });
        let effusion_sizes = match sizes {
            [Some(a), Some(b), Some(c)] => Some(([a, b, c], a < b && b < c)),
            _ => None,
        };
        // Phantoms at the images' size, as many as the generated images.
        let phantom_features = |first: u64| -> Vec<Vec<f32>> {
            (0..self.features.len() as u64)
                .map(|k| reader.features(&phantom(first + k, self.size).pixels, self.size))
                .collect()
        };
        let real = phantom_features(9_000_000);
        let real2 = phantom_features(9_500_000);
        let (model, adapter) = source.describe();
        Report {
            model,
            adapter,
            steps: args.steps,
            guidance: args.guidance,
            seeds: args.seeds,
            side: self.side as f64 / self.images as f64,
            exact: self.exact as f64 / self.images as f64,
            effusion_sizes,
            frechet_to_phantoms: frechet_distance(&self.features, &real),
            frechet_phantoms_to_phantoms: frechet_distance(&real2, &real),
            seconds: self.t0.elapsed().as_secs_f64(),
            prompts: self.rows,
        }
    }
}

/// Rows of images, one per prompt, as an 8-bit grey PNG.
fn write_grid(path: &Path, rows: &[(usize, Vec<f32>)]) -> Result<()> {
    let width = rows.iter().map(|(w, px)| px.len() / w).max().unwrap_or(0);
    let height: usize = rows.iter().map(|(w, _)| *w).sum();
    let mut img = vec![0u8; width * height];
    let mut y0 = 0;
    for (h, px) in rows {
        let w = px.len() / h;
        for y in 0..*h {
            for x in 0..w {
                img[(y0 + y) * width + x] = (px[y * w + x].clamp(0.0, 1.0) * 255.0).round() as u8;
            }
        }
        y0 += h;
    }
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), width as u32, height as u32);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header()?.write_image_data(&img)?;
    Ok(())
}
