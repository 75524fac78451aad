//! Text to image: tokenize [negative, prompt], encode, sample with
//! classifier-free guidance, decode. `StableDiffusionPipeline.__call__`'s
//! order of operations, on any [`Backend`].

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use roentgen_weights::{Manifest, ShardEntry};

use crate::attention_maps::{AttentionMaps, MapRecorder, words};
use crate::backend::{Backend, Binary, Unary};
use crate::clip::TextEncoder;
use crate::image_size::ImageSize;
use crate::loader::ModelLoader;
use crate::sampler::{Memory, Sampler, sampler};
use crate::scheduler::{self, AddNoise, SchedulerConfig, SchedulerKind, StepPlan};
use crate::tokenizer::{ClipTokenizer, Tokens};
use crate::unet::Unet;
use crate::vae::{VaeDecoder, VaeEncoder};
use crate::weights::Weights;
use crate::{ModelError, noise};

/// Everything one image depends on (with the model and the initial latents).
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub prompt: String,
    pub negative: String,
    pub steps: usize,
    pub guidance: f32,
    pub scheduler: SchedulerKind,
    pub seed: u64,
    /// Latent height and width (the image is 8x larger with SD's VAE).
    pub latent_hw: (usize, usize),
}

/// What an edit starts from.
#[derive(Clone, Debug, PartialEq)]
pub struct EditSource {
    /// The image, [3, H, W] in [-1, 1], H x W the latent size times the
    /// VAE's scale (8 for SD).
    pub image: Vec<f32>,
    /// How much of the schedule runs (diffusers' `strength`, in (0, 1]):
    /// near 0 keeps the image, 1 starts from (almost) pure noise.
    pub strength: f64,
    /// The region that may change, at latent size (h * w values, 1 = change,
    /// 0 = keep); None changes everything.
    pub mask: Option<Vec<f32>>,
    /// How much of the decoded edit each pixel takes (H * W values; 0 keeps
    /// `image`'s pixel exactly, 1 takes the edit), so that the region a mask
    /// keeps is the original and not the decoder's redrawing of it;
    /// `roentgen_imaging::edit_weight` makes it with a feathered seam. None
    /// returns the decoder's output as it is (diffusers' output).
    pub blend: Option<Vec<f32>>,
}

/// Noise handed in instead of the request's seeded noise, to reproduce a
/// run made elsewhere (diffusers' goldens, whose noise is torch's; the
/// CLI's `--init-latents` and `--noise`). The default is the seeded noise.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GivenNoise {
    /// The starting noise, [1, C, h, w] values: text to image's latents
    /// before `init_noise_sigma`, an edit's `add_noise` noise.
    pub initial: Option<Vec<f32>>,
    /// Euler ancestral's fresh noise for each step taken ([1, C, h, w]
    /// values each).
    pub per_step: Option<Vec<Vec<f32>>>,
}

impl GivenNoise {
    /// Only the starting noise.
    pub fn initial(values: Vec<f32>) -> Self {
        Self {
            initial: Some(values),
            per_step: None,
        }
    }
}

/// Where a sampling loop starts: its first latents, an edit's kept region,
/// and any given per-step noise.
struct Start<'a> {
    latents: Vec<f32>,
    keep: Option<Keep>,
    step_noise: Option<&'a [Vec<f32>]>,
}

/// A masked edit's known region, kept on the host until the loop uploads it.
struct Keep {
    x0: Vec<f32>,
    noise: Vec<f32>,
    /// The mask repeated over the latent channels.
    change: Vec<f32>,
}

/// `Keep` on the backend.
struct KeepTensors<T> {
    x0: T,
    noise: T,
    change: T,
    keep: T,
}

impl Keep {
    fn upload<B: Backend>(
        self,
        b: &B,
        shape: &[usize],
    ) -> Result<KeepTensors<B::Tensor>, ModelError> {
        let keep: Vec<f32> = self.change.iter().map(|m| 1.0 - m).collect();
        Ok(KeepTensors {
            x0: b.upload("edit x0", shape, &self.x0)?,
            noise: b.upload("edit noise", shape, &self.noise)?,
            change: b.upload("edit mask", shape, &self.change)?,
            keep: b.upload("edit keep", shape, &keep)?,
        })
    }
}

impl<T> KeepTensors<T> {
    /// `change * x + keep * known`, the known region noised to `next` (the
    /// level the next step starts at), or clean after the last step.
    fn blend<B: Backend<Tensor = T>>(
        &self,
        b: &B,
        x: &T,
        next: Option<AddNoise>,
    ) -> Result<T, ModelError> {
        let noised;
        let known = match next {
            Some(a) => {
                let s = b.unary(Unary::Scale(a.signal), &self.x0)?;
                let e = b.unary(Unary::Scale(a.noise), &self.noise)?;
                noised = b.binary(Binary::Add, &s, &e)?;
                &noised
            }
            None => &self.x0,
        };
        let kept = b.binary(Binary::Mul, &self.keep, known)?;
        let changed = b.binary(Binary::Mul, &self.change, x)?;
        b.binary(Binary::Add, &changed, &kept)
    }
}

/// How a run is watched: `watch` awaits each step and reads its latents
/// (progress means finished work, the page previews); `attention_maps`
/// records where each word of the prompt is attended (a small pass per
/// cross-attention layer and a read per step); `checkpoints` reads the
/// run's state back after each step (the latents and the sampler's memory,
/// at most four latent-sized reads) so that a lost device costs the
/// unfinished step only. `false` / `true` convert to watching alone.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RunOptions {
    pub watch: bool,
    pub attention_maps: bool,
    pub checkpoints: bool,
}

impl From<bool> for RunOptions {
    fn from(watch: bool) -> Self {
        Self {
            watch,
            ..Self::default()
        }
    }
}

/// A run after a finished step, on the host: what [`Model::resume`] needs
/// to finish it on a fresh device (or another model load) with the result
/// an uninterrupted run gives.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    pub request: Request,
    /// The latents after the last finished step, [1, C, h, w].
    pub latents: Vec<f32>,
    /// The sampler's memory (`done` = steps finished).
    pub sampler: Memory<Vec<f32>>,
    /// The attention maps recorded so far, when the run records them.
    pub maps: Option<AttentionMaps>,
}

impl Checkpoint {
    /// Steps finished.
    pub fn done(&self) -> usize {
        self.sampler.done
    }
}

/// What `generate` reports after each sampler step.
#[derive(Clone, Debug)]
pub struct Step<'a> {
    /// Steps finished (1-based) of `total`.
    pub done: usize,
    pub total: usize,
    /// The latents after this step, `shape` = [1, C, h, w], when watched.
    pub latents: Option<&'a [f32]>,
    pub shape: [usize; 4],
    /// The run as it stands, with `RunOptions::checkpoints` (handed over:
    /// the caller keeps the newest, no copy is made for it).
    pub checkpoint: Option<Checkpoint>,
}

/// What the sampler produced.
pub struct Output {
    /// Final latents [1, 4, h, w], before the VAE.
    pub latents: Vec<f32>,
    /// The VAE's output [3, H, W] (about [-1, 1]).
    pub decoded: Vec<f32>,
    pub width: usize,
    pub height: usize,
    pub tokens: Tokens,
    /// Per-word attention maps, when asked for.
    pub attention: Option<AttentionMaps>,
}

impl Output {
    /// RGB8 pixels, `round(clamp(x / 2 + 0.5, 0, 1) * 255)` with numpy's
    /// half-to-even rounding, as diffusers' `numpy_to_pil` makes them.
    pub fn rgb8(&self) -> Vec<u8> {
        let plane = self.width * self.height;
        let level = |v: f32| ((v / 2.0 + 0.5).clamp(0.0, 1.0) * 255.0).round_ties_even() as u8;
        (0..plane)
            .flat_map(|p| (0..3).map(move |c| (c, p)))
            .map(|(c, p)| level(self.decoded[c * plane + p]))
            .collect()
    }
}

pub struct Model<B: Backend> {
    pub backend: B,
    pub weights: Weights<B>,
    pub tokenizer: ClipTokenizer,
    pub text: TextEncoder,
    pub unet: Unet,
    pub vae: VaeDecoder,
    /// The VAE encoder, when the model holds it (image-to-image).
    pub encoder: Option<VaeEncoder>,
    pub scheduler: SchedulerConfig,
    /// Trained with captions that open with age, race/ethnicity and sex
    /// (the manifest's `demographic_prompts`; see [`crate::demographics`]).
    pub demographic_prompts: bool,
    /// The texts a run encoded last (see [`EncodedTexts`]).
    pub(crate) encoded: RefCell<Option<EncodedTexts<B>>>,
    /// How many times the text encoder has run for this model.
    pub(crate) text_encodes: Cell<usize>,
}

/// Texts and their CLIP hidden states, kept for the next run with the same
/// texts: a batch encodes its prompt once instead of once per image (27
/// GFLOP per guided image for RoentGen's text encoder), and a prompt
/// encoded while the UNet was still arriving
/// (`ModelLoader::encode_early`) is ready when the first image starts. The
/// same texts through the same kernels give the same hidden states, so no
/// image changes.
pub(crate) struct EncodedTexts<B: Backend> {
    pub(crate) texts: Vec<String>,
    pub(crate) hidden: Rc<B::Tensor>,
    pub(crate) tokens: Vec<Tokens>,
}

impl<B: Backend> EncodedTexts<B> {
    pub(crate) fn new(texts: &[&str], hidden: B::Tensor, tokens: Vec<Tokens>) -> Self {
        Self {
            texts: texts.iter().map(|t| t.to_string()).collect(),
            hidden: Rc::new(hidden),
            tokens,
        }
    }

    fn is_for(&self, texts: &[&str]) -> bool {
        self.texts
            .iter()
            .map(String::as_str)
            .eq(texts.iter().copied())
    }
}

/// Whether a run with this guidance scale guides (diffusers'
/// do_classifier_free_guidance: `guidance_scale > 1`), running the UNet on
/// the batch [negative, prompt].
pub fn guides(guidance: f32) -> bool {
    guidance > 1.0
}

/// The texts a run encodes: [negative, prompt] when it guides, else
/// [prompt] (the page names them before the model has loaded, to encode
/// them early).
pub fn texts_for<'a>(prompt: &'a str, negative: &'a str, guidance: f32) -> Vec<&'a str> {
    match guides(guidance) {
        true => vec![negative, prompt],
        false => vec![prompt],
    }
}

/// The texts a run with `req` encodes (`texts_for`).
pub fn texts_of(req: &Request) -> Vec<&str> {
    texts_for(&req.prompt, &req.negative, req.guidance)
}

/// CLIP hidden states for each text with `weights` as they are (the
/// loader's, before the UNet has arrived, or the model's).
pub(crate) fn encode_texts<B: Backend>(
    backend: &B,
    weights: &Weights<B>,
    tokenizer: &ClipTokenizer,
    text: &TextEncoder,
    texts: &[&str],
) -> Result<(B::Tensor, Vec<Tokens>), ModelError> {
    let tokens = texts
        .iter()
        .map(|t| tokenizer.encode(t))
        .collect::<Result<Vec<_>, _>>()?;
    let ids: Vec<Vec<u32>> = tokens.iter().map(|t| t.ids.clone()).collect();
    let hidden = text.forward(backend, weights, &ids)?;
    Ok((hidden, tokens))
}

/// `decoded` ([C, H, W]) moved towards `source` (the same layout) where
/// `weight` (H * W) is below 1: `source + weight * (decoded - source)`, so a
/// weight of 0 gives the source's value exactly.
fn blend_into(decoded: &mut [f32], source: &[f32], weight: &[f32]) -> Result<(), ModelError> {
    if decoded.len() != source.len() {
        return Err(ModelError::Input(format!(
            "the decoder gave {} values for an image of {}: blend needs the same shape",
            decoded.len(),
            source.len()
        )));
    }
    for (plane, src) in decoded
        .chunks_mut(weight.len())
        .zip(source.chunks(weight.len()))
    {
        for ((d, &s), &w) in plane.iter_mut().zip(src).zip(weight) {
            *d = if w <= 0.0 { s } else { s + w * (*d - s) };
        }
    }
    Ok(())
}

/// An edit's decoded image with the original put back where `src.blend`
/// keeps it.
fn finish_edit(mut out: Output, src: &EditSource) -> Result<Output, ModelError> {
    if let Some(weight) = &src.blend {
        blend_into(&mut out.decoded, &src.image, weight)?;
    }
    Ok(out)
}

/// A sampler's memory read to the host.
async fn read_memory<B: Backend>(
    b: &B,
    m: Memory<&B::Tensor>,
) -> Result<Memory<Vec<f32>>, ModelError> {
    let mut history = Vec::with_capacity(m.history.len());
    for t in m.history {
        history.push(b.read(t).await?);
    }
    let saved = match m.saved {
        Some(t) => Some(b.read(t).await?),
        None => None,
    };
    Ok(Memory {
        done: m.done,
        history,
        saved,
    })
}

impl<B: Backend> Model<B> {
    /// Builds the model from a manifest, its tokenizer file and its shards
    /// (`read_shard` returns a shard's verified bytes).
    pub fn load(
        backend: B,
        manifest: &Manifest,
        tokenizer_json: &[u8],
        mut read_shard: impl FnMut(usize, &ShardEntry) -> Result<Vec<u8>, ModelError>,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<Self, ModelError> {
        let mut loader = ModelLoader::new(backend, manifest, tokenizer_json)?;
        let order = loader.shard_order();
        for (done, &i) in order.iter().enumerate() {
            let bytes = read_shard(i, &manifest.shards[i])?;
            loader.add_shard(i, &bytes)?;
            progress(done + 1, order.len());
        }
        loader.finish()
    }

    /// The family and what sets it apart, for people (see [`crate::family`]).
    pub fn describe(&self) -> String {
        let (h, _) = self.default_latent_hw();
        crate::family::describe(
            &self.text.cfg,
            &self.unet.cfg,
            &self.scheduler,
            h * self.vae_scale(),
        )
    }

    pub fn family(&self) -> crate::Family {
        crate::Family::of(&self.text.cfg, &self.unet.cfg)
    }

    /// Latent size of the model's native image (UNet `sample_size`).
    pub fn default_latent_hw(&self) -> (usize, usize) {
        let s = self.unet.cfg.sample_size.unwrap_or(64);
        (s, s)
    }

    /// The latent size for an image of `size`, or why this model cannot
    /// draw it (the same rule as `check_request`: even, and divisible by the
    /// UNet's downsampling).
    pub fn latent_hw_for(&self, size: ImageSize) -> Result<(usize, usize), ModelError> {
        let downs = (self.unet.cfg.block_out_channels.len() - 1).max(1) as u32;
        size.latent_hw(self.vae_scale(), downs)
            .map_err(ModelError::Input)
    }

    /// The latent size of `size`, or of the model's own image without one.
    pub fn latent_hw_or_default(
        &self,
        size: Option<ImageSize>,
    ) -> Result<(usize, usize), ModelError> {
        size.map_or(Ok(self.default_latent_hw()), |s| self.latent_hw_for(s))
    }

    /// The VAE's upscale factor: 2 per up block after the first.
    pub fn vae_scale(&self) -> usize {
        1 << (self.vae.cfg.block_out_channels.len() - 1)
    }

    /// CLIP hidden states for each text, [texts, 77, hidden].
    pub fn encode_text(&self, texts: &[&str]) -> Result<(B::Tensor, Vec<Tokens>), ModelError> {
        self.text_encodes.set(self.text_encodes.get() + 1);
        encode_texts(
            &self.backend,
            &self.weights,
            &self.tokenizer,
            &self.text,
            texts,
        )
    }

    /// How many times the text encoder has run for this model (early
    /// encoding included): a batch of one prompt runs it once.
    pub fn text_encodes(&self) -> usize {
        self.text_encodes.get()
    }

    /// `encode_text` through the one-entry cache of [`EncodedTexts`].
    fn encoded_texts(&self, texts: &[&str]) -> Result<(Rc<B::Tensor>, Vec<Tokens>), ModelError> {
        if let Some(e) = self.encoded.borrow().as_ref().filter(|e| e.is_for(texts)) {
            return Ok((e.hidden.clone(), e.tokens.clone()));
        }
        let (hidden, tokens) = self.encode_text(texts)?;
        let encoded = EncodedTexts::<B>::new(texts, hidden, tokens.clone());
        let hidden = encoded.hidden.clone();
        *self.encoded.borrow_mut() = Some(encoded);
        Ok((hidden, tokens))
    }

    /// Samples and decodes one image. `given` replaces the seeded noise
    /// where it is given. `on_step` runs after each sampler step; returning
    /// false cancels. With `watch`, each step is awaited and its latents
    /// read back first (64 KB at 512x512): progress then means finished
    /// work, the page gets a preview and the browser's event loop a turn
    /// between steps. Without it the steps are queued as fast as they are
    /// encoded (the CLI) and `latents` is None.
    pub async fn generate(
        &self,
        req: &Request,
        mut given: GivenNoise,
        opts: impl Into<RunOptions>,
        on_step: impl FnMut(Step<'_>) -> bool,
    ) -> Result<Output, ModelError> {
        let (sampler, from) = self.generate_start(req, &mut given)?;
        self.sample(req, sampler, from, None, opts.into(), on_step)
            .await
    }

    /// Text to image's sampler and first latents.
    fn generate_start<'s>(
        &'s self,
        req: &Request,
        given: &'s mut GivenNoise,
    ) -> Result<(Box<dyn Sampler<B> + 's>, Start<'s>), ModelError> {
        self.check_request(req)?;
        let sampler = sampler(req.scheduler, &self.scheduler, req.steps, 0)?;
        let initial = self.starting_noise(req, given)?;
        let sigma = sampler.plan().init_noise_sigma;
        let start: Vec<f32> = initial.iter().map(|v| v * sigma).collect();
        let from = Start {
            latents: start,
            keep: None,
            step_noise: given.per_step.as_deref(),
        };
        Ok((sampler, from))
    }

    /// Edits an image (`StableDiffusionImg2ImgPipeline`): its latents from
    /// the VAE encoder (the distribution's mean), noised to where `strength`
    /// starts the schedule, then sampled as `generate` does. With a mask,
    /// only the masked region changes: after each step the rest is put back
    /// at the next step's noise level (diffusers' inpainting pipeline with a
    /// 4-channel UNet); at strength 1 a masked edit starts from pure noise,
    /// as that pipeline does. `given` replaces the seeded noise where given.
    pub async fn edit(
        &self,
        req: &Request,
        src: &EditSource,
        mut given: GivenNoise,
        opts: impl Into<RunOptions>,
        on_step: impl FnMut(Step<'_>) -> bool,
    ) -> Result<Output, ModelError> {
        let (sampler, from) = self.edit_start(req, src, &mut given).await?;
        let out = self
            .sample(req, sampler, from, None, opts.into(), on_step)
            .await?;
        finish_edit(out, src)
    }

    /// Finishes the run `checkpoint` was taken from, from its next step:
    /// the same `src` (for an edit) and `given` noise as the run had give
    /// the output the whole run would have given.
    pub async fn resume(
        &self,
        checkpoint: Checkpoint,
        src: Option<&EditSource>,
        mut given: GivenNoise,
        opts: impl Into<RunOptions>,
        on_step: impl FnMut(Step<'_>) -> bool,
    ) -> Result<Output, ModelError> {
        let Checkpoint {
            request: req,
            latents,
            sampler: memory,
            maps,
        } = checkpoint;
        let (mut sampler, mut from) = match src {
            Some(src) => self.edit_start(&req, src, &mut given).await?,
            None => self.generate_start(&req, &mut given)?,
        };
        if latents.len() != from.latents.len() {
            return Err(ModelError::Input(format!(
                "the checkpoint holds {} latent values, this run has {}",
                latents.len(),
                from.latents.len()
            )));
        }
        from.latents = latents;
        let b = &self.backend;
        let shape = [
            1,
            self.unet.cfg.in_channels,
            req.latent_hw.0,
            req.latent_hw.1,
        ];
        let memory = memory.try_map(|v| {
            if v.len() != from.latents.len() {
                return Err(ModelError::Input(
                    "the checkpoint's sampler memory does not fit the latents".into(),
                ));
            }
            b.upload("sampler memory", &shape, &v)
        })?;
        sampler.restore(memory)?;
        let out = self
            .sample(&req, sampler, from, maps, opts.into(), on_step)
            .await?;
        match src {
            Some(src) => finish_edit(out, src),
            None => Ok(out),
        }
    }

    /// An edit's sampler and first latents (after checking its inputs).
    async fn edit_start<'s>(
        &'s self,
        req: &Request,
        src: &EditSource,
        given: &'s mut GivenNoise,
    ) -> Result<(Box<dyn Sampler<B> + 's>, Start<'s>), ModelError> {
        self.check_request(req)?;
        let begin = scheduler::strength_begin(req.steps, src.strength)?;
        let sampler = sampler(req.scheduler, &self.scheduler, req.steps, begin)?;
        let plan = sampler.plan();
        // add_noise at the first step taken: where strength starts the schedule.
        let (h, w) = req.latent_hw;
        if let Some(m) = &src.mask
            && m.len() != h * w
        {
            return Err(ModelError::Input(format!(
                "the mask holds {} values, the {h}x{w} latent grid needs {}",
                m.len(),
                h * w
            )));
        }
        let pixels = src.image.len() / self.vae.cfg.in_channels.max(1);
        if let Some(b) = &src.blend
            && b.len() != pixels
        {
            return Err(ModelError::Input(format!(
                "the blend weight holds {} values, the image has {pixels} pixels",
                b.len()
            )));
        }
        let noise = self.starting_noise(req, given)?;
        let x0 = self.encode_image(&src.image, req.latent_hw).await?;
        let first = plan.steps[0].noised;
        let start: Vec<f32> = match &src.mask {
            Some(_) if src.strength == 1.0 => {
                noise.iter().map(|v| v * plan.init_noise_sigma).collect()
            }
            _ => x0
                .iter()
                .zip(&noise)
                .map(|(a, e)| first.signal * a + first.noise * e)
                .collect(),
        };
        let keep = src.mask.as_ref().map(|m| {
            let channels = self.unet.cfg.in_channels;
            let change: Vec<f32> = (0..channels).flat_map(|_| m.iter().copied()).collect();
            Keep { x0, noise, change }
        });
        let from = Start {
            latents: start,
            keep,
            step_noise: given.per_step.as_deref(),
        };
        Ok((sampler, from))
    }

    /// The image's latents as the sampler sees them: the VAE encoder's mean
    /// times `scaling_factor`, [1, C, h, w] values.
    pub async fn encode_image(
        &self,
        image: &[f32],
        (h, w): (usize, usize),
    ) -> Result<Vec<f32>, ModelError> {
        let encoder = self.encoder.as_ref().ok_or_else(|| {
            ModelError::Input(
                "this model has no VAE encoder (converted with --drop-encoder): convert it again \
                 to edit images"
                    .into(),
            )
        })?;
        let scale = self.vae_scale();
        let (ih, iw) = (h * scale, w * scale);
        let channels = self.vae.cfg.in_channels;
        if image.len() != channels * ih * iw {
            return Err(ModelError::Input(format!(
                "the image holds {} values, [{channels}, {ih}, {iw}] needs {}",
                image.len(),
                channels * ih * iw
            )));
        }
        let b = &self.backend;
        b.reuse_buffers(false);
        let x = b.upload("image", &[1, channels, ih, iw], image)?;
        let moments = encoder.forward(b, &self.weights, &x)?;
        let moments = b.read(&moments).await?;
        let latent = self.vae.cfg.latent_channels * h * w;
        let k = self.vae.cfg.scaling_factor;
        Ok(moments[..latent].iter().map(|v| v * k).collect())
    }

    fn check_request(&self, req: &Request) -> Result<(), ModelError> {
        let (h, w) = req.latent_hw;
        if h == 0 || w == 0 || !h.is_multiple_of(2) || !w.is_multiple_of(2) {
            return Err(ModelError::Input(format!(
                "latent size {h}x{w} must be even and non-zero"
            )));
        }
        let down = 1 << (self.unet.cfg.block_out_channels.len() - 1);
        if !h.is_multiple_of(down) || !w.is_multiple_of(down) {
            return Err(ModelError::Input(format!(
                "latent size {h}x{w} must be a multiple of {down} for this UNet"
            )));
        }
        if !req.guidance.is_finite() {
            return Err(ModelError::Input("guidance must be a finite number".into()));
        }
        Ok(())
    }

    /// Takes the starting noise out of `given` (the request's seeded noise
    /// where none is given), after checking it and any per-step noise
    /// against the latent shape.
    fn starting_noise(
        &self,
        req: &Request,
        given: &mut GivenNoise,
    ) -> Result<Vec<f32>, ModelError> {
        let (h, w) = req.latent_hw;
        let channels = self.unet.cfg.in_channels;
        let n = channels * h * w;
        let wrong = |what: &str, len: usize| {
            ModelError::Input(format!(
                "{what} holds {len} values, [1, {channels}, {h}, {w}] needs {n}"
            ))
        };
        let initial = match given.initial.take() {
            Some(v) if v.len() != n => return Err(wrong("the initial noise", v.len())),
            Some(v) => v,
            None => noise::gaussian(req.seed, n),
        };
        if let Some(bad) = given.per_step.iter().flatten().find(|v| v.len() != n) {
            return Err(wrong("a step's given noise", bad.len()));
        }
        Ok(initial)
    }

    /// The denoising loop from `from`'s latents at the sampler's next step
    /// (with the maps recorded before it, when resumed), then the decode.
    async fn sample(
        &self,
        req: &Request,
        mut sampler: Box<dyn Sampler<B> + '_>,
        from: Start<'_>,
        maps_before: Option<AttentionMaps>,
        opts: RunOptions,
        mut on_step: impl FnMut(Step<'_>) -> bool,
    ) -> Result<Output, ModelError> {
        let b = &self.backend;
        let (h, w) = req.latent_hw;
        let channels = self.unet.cfg.in_channels;
        let n = channels * h * w;
        let shape = [1, channels, h, w];
        let cfg = guides(req.guidance);
        // Buffers are pooled for the sampling loop only (Backend::reuse_buffers).
        b.reuse_buffers(false);
        let (context, tokens) = self.encode_prompt(req)?;
        b.reuse_buffers(true);
        let Start {
            latents,
            keep,
            step_noise,
        } = from;
        let mut x = b.upload("latents", &shape, &latents)?;
        let keep = keep.map(|k| k.upload(b, &shape)).transpose()?;
        let guidance = cfg.then_some(req.guidance);
        // With guidance the batch is [negative, prompt]: map the prompt's half.
        let recorder = opts
            .attention_maps
            .then(|| MapRecorder::new(req.latent_hw, cfg as usize));
        let mut maps = recorder.as_ref().map(|_| {
            maps_before.unwrap_or_else(|| {
                AttentionMaps::new(req.latent_hw, words(&self.tokenizer, &tokens))
            })
        });
        let total = sampler.plan().steps.len();
        let first = sampler.memory().done;
        for i in first..total {
            let s = sampler.plan().steps[i];
            // The level the next step starts at, where a mask's kept region goes back.
            let next_level = sampler.add_noise(i + 1);
            let eps = self.predict_noise(&x, &s, &context, cfg, recorder.as_ref())?;
            let mut noise = || match step_noise.and_then(|v| v.get(i)) {
                Some(given) => b.upload("ancestral noise", &shape, given),
                None => b.upload(
                    "ancestral noise",
                    &shape,
                    &noise::step_noise(req.seed, i, n),
                ),
            };
            x = sampler.step(b, x, &eps, guidance, &mut noise)?;
            if let Some(k) = &keep {
                x = k.blend(b, &x, next_level)?;
            }
            if let (Some(r), Some(m)) = (&recorder, &mut maps)
                && let Some(step_maps) = r.take(b).await?
            {
                m.push_step(&step_maps);
            }
            let latents = match opts.watch || opts.checkpoints {
                true => Some(b.read(&x).await?),
                false => None,
            };
            let checkpoint = match (opts.checkpoints, &latents) {
                (true, Some(l)) => Some(Checkpoint {
                    request: req.clone(),
                    latents: l.clone(),
                    sampler: read_memory(b, sampler.memory()).await?,
                    maps: maps.clone(),
                }),
                _ => None,
            };
            let step = Step {
                done: i + 1,
                total,
                latents: latents.as_deref().filter(|_| opts.watch),
                shape,
                checkpoint,
            };
            if !on_step(step) {
                return Err(ModelError::Cancelled);
            }
        }
        let latents = b.read(&x).await?;
        drop(sampler);
        drop(keep);
        b.reuse_buffers(false);
        let (decoded, height, width) = self.decode(&x).await?;
        Ok(Output {
            latents,
            decoded,
            width,
            height,
            tokens,
            attention: maps,
        })
    }

    /// CLIP hidden states for [negative, prompt] (with guidance) or [prompt],
    /// and the prompt's tokens (`encode_prompt`).
    fn encode_prompt(&self, req: &Request) -> Result<(Rc<B::Tensor>, Tokens), ModelError> {
        let (context, tokens) = self.encoded_texts(&texts_of(req))?;
        Ok((
            context,
            tokens.last().cloned().expect("the prompt's tokens"),
        ))
    }

    /// The UNet's output for latents `x` at step `s` (`scale_model_input`,
    /// then the CFG batch [uncond; cond] when guiding).
    fn predict_noise(
        &self,
        x: &B::Tensor,
        s: &StepPlan,
        context: &B::Tensor,
        cfg: bool,
        maps: Option<&MapRecorder<B>>,
    ) -> Result<B::Tensor, ModelError> {
        let b = &self.backend;
        let scaled_in = (s.input_scale != 1.0)
            .then(|| b.unary(Unary::Scale(s.input_scale), x))
            .transpose()?;
        let x_in = scaled_in.as_ref().unwrap_or(x);
        if !cfg {
            return self
                .unet
                .forward_mapped(b, &self.weights, x_in, s.t, context, maps);
        }
        let shape = b.shape(x).to_vec();
        // [1, C, h, w] twice along channels is [2, C, h, w] in memory.
        let pair = b.concat_channels(x_in, x_in)?;
        let pair = b.reshape(pair, &[2, shape[1], shape[2], shape[3]])?;
        self.unet
            .forward_mapped(b, &self.weights, &pair, s.t, context, maps)
    }

    /// The VAE decoder's output as values in [-1, 1] (not yet clamped), with
    /// its height and width.
    async fn decode(&self, x: &B::Tensor) -> Result<(Vec<f32>, usize, usize), ModelError> {
        let b = &self.backend;
        let image = self.vae.forward(b, &self.weights, x)?;
        let shape = b.shape(&image).to_vec();
        let decoded = b.read(&image).await?;
        Ok((decoded, shape[2], shape[3]))
    }
}
