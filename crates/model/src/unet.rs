//! diffusers' `UNet2DConditionModel` for SD v1 configs: sinusoidal time
//! embedding, down blocks (ResNets, optional cross-attention transformers,
//! stride-2 downsampling) whose outputs are kept as skips, a mid block, up
//! blocks that concatenate the skips back, and the output head. Block kinds,
//! counts, widths and heads all come from the config, once, in `build`.

use crate::ModelError;
use crate::attention_maps::MapRecorder;
use crate::backend::{Backend, TimestepConfig};
use crate::config::UnetConfig;
use crate::nn::{
    Attention, Conv2d, GroupNorm, LayerNorm, Linear, R, Resnet, add, from_tokens, silu, to_tokens,
};
use crate::vb::Vb;
use crate::weights::Weights;

/// Transformer2DModel's own GroupNorm epsilon (not the config's norm_eps).
const TRANSFORMER_NORM_EPS: f32 = 1e-6;
const LAYER_NORM_EPS: f32 = 1e-5;

/// What a down or up block holds besides its ResNets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    /// `DownBlock2D` / `UpBlock2D`: ResNets only.
    Plain,
    /// `CrossAttnDownBlock2D` / `CrossAttnUpBlock2D`: a transformer after each ResNet.
    CrossAttention,
}

impl BlockKind {
    /// From a config's block type (checked by `UnetConfig::from_json`).
    pub fn from_type(name: &str) -> Self {
        if name.starts_with("CrossAttn") {
            BlockKind::CrossAttention
        } else {
            BlockKind::Plain
        }
    }
}

/// A transformer's input and output projection: 1x1 convolution (SD v1) or
/// linear (`use_linear_projection`).
enum Projection {
    Conv(Conv2d),
    Linear(Linear),
}

impl Projection {
    fn build(vb: &Vb, c: usize, linear: bool) -> Self {
        match linear {
            true => Projection::Linear(Linear::build(vb, c, c, true)),
            false => Projection::Conv(Conv2d::build(vb, c, c, 1)),
        }
    }
}

/// One `BasicTransformerBlock`: self-attention, cross-attention, GEGLU
/// feed-forward, each pre-normed with a residual.
struct TransformerBlock {
    attn1: Attention,
    attn2: Attention,
    ff_in: Linear,
    ff_out: Linear,
    norm1: LayerNorm,
    norm2: LayerNorm,
    norm3: LayerNorm,
}

impl TransformerBlock {
    fn build(vb: &Vb, c: usize, cross: usize, heads: usize) -> Self {
        // Built in the order diffusers saves them (the table's order).
        let attn1 = Attention::build(&vb.pp("attn1"), c, c, false, heads);
        let attn2 = Attention::build(&vb.pp("attn2"), c, cross, false, heads);
        let ff_in = Linear::build(&vb.pp("ff.net.0.proj"), 8 * c, c, true);
        let ff_out = Linear::build(&vb.pp("ff.net.2"), c, 4 * c, true);
        Self {
            attn1,
            attn2,
            ff_in,
            ff_out,
            norm1: LayerNorm::build(&vb.pp("norm1"), c, LAYER_NORM_EPS),
            norm2: LayerNorm::build(&vb.pp("norm2"), c, LAYER_NORM_EPS),
            norm3: LayerNorm::build(&vb.pp("norm3"), c, LAYER_NORM_EPS),
        }
    }
}

/// One `Transformer2DModel`: norm, proj_in, blocks, proj_out, residual.
pub struct Transformer2D {
    norm: GroupNorm,
    proj_in: Projection,
    blocks: Vec<TransformerBlock>,
    proj_out: Projection,
}

impl Transformer2D {
    #[allow(clippy::too_many_arguments)]
    fn build(
        vb: &Vb,
        c: usize,
        depth: usize,
        cross: usize,
        heads: usize,
        linear: bool,
        groups: usize,
    ) -> Self {
        Self {
            norm: GroupNorm::build(&vb.pp("norm"), c, groups, TRANSFORMER_NORM_EPS),
            proj_in: Projection::build(&vb.pp("proj_in"), c, linear),
            blocks: (0..depth)
                .map(|k| {
                    TransformerBlock::build(&vb.pp("transformer_blocks").pp(k), c, cross, heads)
                })
                .collect(),
            proj_out: Projection::build(&vb.pp("proj_out"), c, linear),
        }
    }

    /// `x` [B, C, h, w] attending to `context` [B, 77, cross]; `maps` records
    /// the cross-attentions' probabilities.
    pub fn forward<B: Backend>(
        &self,
        b: &B,
        w: &Weights<B>,
        x: &B::Tensor,
        context: &B::Tensor,
        maps: Option<&MapRecorder<B>>,
    ) -> R<B::Tensor> {
        let s = b.shape(x).to_vec();
        let (h, wd) = (s[2], s[3]);
        let normed = self.norm.forward(b, w, x, false)?;
        let mut tokens = match &self.proj_in {
            Projection::Linear(l) => l.forward(b, w, &to_tokens(b, normed)?)?,
            Projection::Conv(c) => to_tokens(b, c.forward(b, w, &normed)?)?,
        };
        for t in &self.blocks {
            let n1 = t.norm1.forward(b, w, &tokens)?;
            tokens = t.attn1.forward(b, w, &n1, None, Some(&tokens), None)?;
            let n2 = t.norm2.forward(b, w, &tokens)?;
            let grid = maps.map(|m| (m, (h, wd)));
            tokens = t
                .attn2
                .forward(b, w, &n2, Some(context), Some(&tokens), grid)?;
            let n3 = t.norm3.forward(b, w, &tokens)?;
            let f = t.ff_in.forward_geglu(b, w, &n3)?;
            tokens = t.ff_out.forward_residual(b, w, &f, &tokens)?;
        }
        match &self.proj_out {
            Projection::Linear(l) => {
                let t = l.forward(b, w, &tokens)?;
                add(b, x, &from_tokens(b, &t, h, wd)?)
            }
            Projection::Conv(c) => {
                let t = from_tokens(b, &tokens, h, wd)?;
                c.forward_fused(b, w, &t, None, Some(x))
            }
        }
    }
}

/// A down block: ResNets (each followed by a transformer in a
/// cross-attention block), then a stride-2 convolution but on the last level.
pub struct DownBlock {
    pub kind: BlockKind,
    pub resnets: Vec<Resnet>,
    pub attentions: Vec<Transformer2D>,
    pub downsampler: Option<Conv2d>,
}

/// An up block: ResNets over the concatenated skips (each followed by a
/// transformer in a cross-attention block), then nearest 2x + convolution
/// but on the last level.
pub struct UpBlock {
    pub kind: BlockKind,
    pub resnets: Vec<Resnet>,
    pub attentions: Vec<Transformer2D>,
    pub upsampler: Option<Conv2d>,
}

pub struct MidBlock {
    pub resnet0: Resnet,
    pub attention: Transformer2D,
    pub resnet1: Resnet,
}

pub struct Unet {
    pub cfg: UnetConfig,
    conv_in: Conv2d,
    time_1: Linear,
    time_2: Linear,
    pub down: Vec<DownBlock>,
    pub mid: MidBlock,
    pub up: Vec<UpBlock>,
    norm_out: GroupNorm,
    conv_out: Conv2d,
}

impl Unet {
    pub fn new(cfg: UnetConfig) -> Self {
        Self::build(&Vb::root().pp("unet"), cfg)
    }

    /// The modules the config describes, their weights named under `vb`.
    ///
    /// Long: it follows diffusers' `UNet2DConditionModel.__init__` block by
    /// block, so the two can be read side by side.
    pub fn build(vb: &Vb, cfg: UnetConfig) -> Self {
        let c = &cfg;
        let ch = &c.block_out_channels;
        let n = ch.len();
        let temb = Some(c.time_embed_dim());
        let layers = c.layers_per_block.expand(n);
        let depth = c.transformer_layers_per_block.expand(n);
        let heads = c.heads();
        let (groups, eps) = (c.norm_num_groups, c.norm_eps);
        let (cross, lin) = (c.cross_attention_dim, c.use_linear_projection);
        let transformer = |vb: &Vb, width: usize, level: usize| {
            Transformer2D::build(vb, width, depth[level], cross, heads[level], lin, groups)
        };
        let conv_in = Conv2d::build(&vb.pp("conv_in"), ch[0], c.in_channels, 3);
        let time_1 = Linear::build(&vb.pp("time_embedding.linear_1"), 4 * ch[0], ch[0], true);
        let time_2 = Linear::build(
            &vb.pp("time_embedding.linear_2"),
            4 * ch[0],
            4 * ch[0],
            true,
        );
        let down = (0..n)
            .map(|i| {
                let p = vb.pp("down_blocks").pp(i);
                let kind = BlockKind::from_type(&c.down_block_types[i]);
                let cin = if i == 0 { ch[0] } else { ch[i - 1] };
                let (mut resnets, mut attentions) = (Vec::new(), Vec::new());
                for j in 0..layers[i] {
                    let rin = if j == 0 { cin } else { ch[i] };
                    resnets.push(Resnet::build(
                        &p.pp("resnets").pp(j),
                        rin,
                        ch[i],
                        temb,
                        groups,
                        eps,
                    ));
                    if kind == BlockKind::CrossAttention {
                        attentions.push(transformer(&p.pp("attentions").pp(j), ch[i], i));
                    }
                }
                let downsampler = (i + 1 < n).then(|| {
                    Conv2d::build_with(&p.pp("downsamplers.0.conv"), ch[i], ch[i], 3, 2, 1.into())
                });
                DownBlock {
                    kind,
                    resnets,
                    attentions,
                    downsampler,
                }
            })
            .collect();
        let last = ch[n - 1];
        let m = vb.pp("mid_block");
        let mid = MidBlock {
            resnet0: Resnet::build(&m.pp("resnets.0"), last, last, temb, groups, eps),
            attention: transformer(&m.pp("attentions.0"), last, n - 1),
            resnet1: Resnet::build(&m.pp("resnets.1"), last, last, temb, groups, eps),
        };
        let rev: Vec<usize> = ch.iter().rev().copied().collect();
        let up = (0..n)
            .map(|i| {
                let p = vb.pp("up_blocks").pp(i);
                let kind = BlockKind::from_type(&c.up_block_types[i]);
                let level = n - 1 - i; // up block i mirrors down block n-1-i
                let out = rev[i];
                let prev = if i == 0 { rev[0] } else { rev[i - 1] };
                let input = rev[(i + 1).min(n - 1)];
                let count = layers[level] + 1;
                let (mut resnets, mut attentions) = (Vec::new(), Vec::new());
                for j in 0..count {
                    let skip = if j == count - 1 { input } else { out };
                    let rin = if j == 0 { prev } else { out };
                    resnets.push(Resnet::build(
                        &p.pp("resnets").pp(j),
                        rin + skip,
                        out,
                        temb,
                        groups,
                        eps,
                    ));
                    if kind == BlockKind::CrossAttention {
                        attentions.push(transformer(&p.pp("attentions").pp(j), out, level));
                    }
                }
                let upsampler =
                    (i + 1 < n).then(|| Conv2d::build(&p.pp("upsamplers.0.conv"), out, out, 3));
                UpBlock {
                    kind,
                    resnets,
                    attentions,
                    upsampler,
                }
            })
            .collect();
        let norm_out = GroupNorm::build(&vb.pp("conv_norm_out"), ch[0], groups, eps);
        let conv_out = Conv2d::build(&vb.pp("conv_out"), c.out_channels, ch[0], 3);
        Self {
            cfg,
            conv_in,
            time_1,
            time_2,
            down,
            mid,
            up,
            norm_out,
            conv_out,
        }
    }

    /// eps prediction for `sample` [B, 4, h, w] at timestep `t`, conditioned on
    /// `context` [B, 77, cross_attention_dim].
    pub fn forward<B: Backend>(
        &self,
        b: &B,
        w: &Weights<B>,
        sample: &B::Tensor,
        t: f32,
        context: &B::Tensor,
    ) -> R<B::Tensor> {
        self.forward_mapped(b, w, sample, t, context, None)
    }

    /// `forward`, with every cross-attention's maps recorded by `maps`.
    pub fn forward_mapped<B: Backend>(
        &self,
        b: &B,
        w: &Weights<B>,
        sample: &B::Tensor,
        t: f32,
        context: &B::Tensor,
        maps: Option<&MapRecorder<B>>,
    ) -> R<B::Tensor> {
        let c = &self.cfg;
        let batch = b.shape(sample)[0];
        let t_emb = b.timestep_embedding(
            t,
            batch,
            TimestepConfig {
                dim: c.block_out_channels[0],
                flip_sin_to_cos: c.flip_sin_to_cos,
                downscale_freq_shift: c.freq_shift,
                max_period: 10000.0,
            },
        )?;
        let emb = self.time_1.forward(b, w, &t_emb)?;
        let emb = silu(b, &emb)?;
        let emb = self.time_2.forward(b, w, &emb)?;
        let temb = silu(b, &emb)?;
        let temb = Some(&temb);

        // Skips, in diffusers' order: conv_in's output, then every down
        // resnet(+transformer) output and every downsampler output.
        let mut skips = vec![self.conv_in.forward(b, w, sample)?];
        for block in &self.down {
            for (j, resnet) in block.resnets.iter().enumerate() {
                let prev = skips.last().expect("conv_in output");
                let mut x = resnet.forward(b, w, prev, temb)?;
                if let Some(t) = block.attentions.get(j) {
                    x = t.forward(b, w, &x, context, maps)?;
                }
                skips.push(x);
            }
            if let Some(down) = &block.downsampler {
                let prev = skips.last().expect("block output");
                let x = down.forward(b, w, prev)?;
                skips.push(x);
            }
        }

        let mut x = {
            let last = skips.last().expect("down output");
            let x = self.mid.resnet0.forward(b, w, last, temb)?;
            let x = self.mid.attention.forward(b, w, &x, context, maps)?;
            self.mid.resnet1.forward(b, w, &x, temb)?
        };

        for block in &self.up {
            for (j, resnet) in block.resnets.iter().enumerate() {
                let skip = skips.pop().ok_or_else(|| ModelError::Config {
                    component: "unet",
                    what: "up blocks need more skip connections than the down blocks made".into(),
                })?;
                let cat = b.concat_channels(&x, &skip)?;
                x = resnet.forward(b, w, &cat, temb)?;
                if let Some(t) = block.attentions.get(j) {
                    x = t.forward(b, w, &x, context, maps)?;
                }
            }
            if let Some(up) = &block.upsampler {
                let u = b.upsample_nearest2x(&x)?;
                x = up.forward(b, w, &u)?;
            }
        }
        let x = self.norm_out.forward(b, w, &x, true)?;
        self.conv_out.forward(b, w, &x)
    }
}
