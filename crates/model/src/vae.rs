//! diffusers' `AutoencoderKL`. The decoder: latents / scaling_factor,
//! post_quant_conv, conv_in, a mid block (ResNet, single-head spatial
//! attention, ResNet), up blocks (ResNets, nearest 2x + conv), norm + SiLU,
//! conv_out. The encoder mirrors it (down blocks end in a stride-2 conv) and
//! is optional in a model: image-to-image needs it, text-to-image never runs it.

use crate::backend::{Backend, Unary};
use crate::config::VaeConfig;
use crate::nn::{Attention, Conv2d, GroupNorm, R, Resnet, add, from_tokens, to_tokens};
use crate::vb::Vb;
use crate::weights::Weights;

/// Every VAE norm uses 1e-6 (diffusers hard-codes it for the autoencoder).
const EPS: f32 = 1e-6;

/// One head over all pixels, with a residual (diffusers `Attention` built
/// from the old `AttentionBlock`).
struct SpatialAttention {
    norm: GroupNorm,
    attn: Attention,
}

impl SpatialAttention {
    fn forward<B: Backend>(&self, b: &B, w: &Weights<B>, x: &B::Tensor) -> R<B::Tensor> {
        let s = b.shape(x).to_vec();
        let h = self.norm.forward(b, w, x, false)?;
        let t = to_tokens(b, h)?;
        let a = self.attn.forward(b, w, &t, None, None, None)?;
        let a = from_tokens(b, &a, s[2], s[3])?;
        add(b, &a, x)
    }
}

/// `UNetMidBlock2D` as the autoencoder builds it: ResNet, optional
/// attention, ResNet.
struct VaeMid {
    resnet0: Resnet,
    attention: Option<SpatialAttention>,
    resnet1: Resnet,
}

impl VaeMid {
    fn build(vb: &Vb, c: usize, groups: usize, attention: bool) -> Self {
        let resnet0 = Resnet::build(&vb.pp("resnets.0"), c, c, None, groups, EPS);
        let attention = attention.then(|| {
            let p = vb.pp("attentions.0");
            SpatialAttention {
                norm: GroupNorm::build(&p.pp("group_norm"), c, groups, EPS),
                attn: Attention::build(&p, c, c, true, 1),
            }
        });
        let resnet1 = Resnet::build(&vb.pp("resnets.1"), c, c, None, groups, EPS);
        Self {
            resnet0,
            attention,
            resnet1,
        }
    }

    fn forward<B: Backend>(&self, b: &B, w: &Weights<B>, x: &B::Tensor) -> R<B::Tensor> {
        let mut x = self.resnet0.forward(b, w, x, None)?;
        if let Some(a) = &self.attention {
            x = a.forward(b, w, &x)?;
        }
        self.resnet1.forward(b, w, &x, None)
    }
}

/// ResNets then an optional resampling convolution (one level).
struct Level {
    resnets: Vec<Resnet>,
    resample: Option<Conv2d>,
}

impl Level {
    /// `count` ResNets under `p.resnets`, the first from `cin` channels, all
    /// to `cout`; the caller adds the resampling convolution (after them:
    /// build order is the weight table's order).
    fn resnets(p: &Vb, cin: usize, cout: usize, count: usize, groups: usize) -> Self {
        let resnets = (0..count)
            .map(|j| {
                let rin = if j == 0 { cin } else { cout };
                Resnet::build(&p.pp("resnets").pp(j), rin, cout, None, groups, EPS)
            })
            .collect();
        Self {
            resnets,
            resample: None,
        }
    }

    /// The ResNets, then the resampling convolution (after a nearest 2x
    /// upsample when `upsample`: the decoder's; the encoder's is strided).
    fn forward<B: Backend>(
        &self,
        b: &B,
        w: &Weights<B>,
        x: B::Tensor,
        upsample: bool,
    ) -> R<B::Tensor> {
        let mut x = x;
        for r in &self.resnets {
            x = r.forward(b, w, &x, None)?;
        }
        match &self.resample {
            Some(conv) if upsample => conv.forward(b, w, &b.upsample_nearest2x(&x)?),
            Some(conv) => conv.forward(b, w, &x),
            None => Ok(x),
        }
    }
}

pub struct VaeDecoder {
    pub cfg: VaeConfig,
    post_quant_conv: Option<Conv2d>,
    conv_in: Conv2d,
    mid: VaeMid,
    up: Vec<Level>,
    norm_out: GroupNorm,
    conv_out: Conv2d,
}

impl VaeDecoder {
    pub fn new(cfg: VaeConfig) -> Self {
        Self::build(&Vb::root().pp("vae"), cfg)
    }

    pub fn build(vb: &Vb, cfg: VaeConfig) -> Self {
        let c = &cfg;
        let ch = &c.block_out_channels;
        let n = ch.len();
        let last = ch[n - 1];
        let g = c.norm_num_groups;
        let lat = c.latent_channels;
        let post_quant_conv = c
            .use_post_quant_conv
            .then(|| Conv2d::build(&vb.pp("post_quant_conv"), lat, lat, 1));
        let d = vb.pp("decoder");
        let conv_in = Conv2d::build(&d.pp("conv_in"), last, lat, 3);
        let mid = VaeMid::build(&d.pp("mid_block"), last, g, c.mid_block_add_attention);
        let rev: Vec<usize> = ch.iter().rev().copied().collect();
        let up = (0..n)
            .map(|i| {
                let p = d.pp("up_blocks").pp(i);
                let prev = if i == 0 { rev[0] } else { rev[i - 1] };
                let mut level = Level::resnets(&p, prev, rev[i], c.layers_per_block + 1, g);
                level.resample = (i + 1 < n)
                    .then(|| Conv2d::build(&p.pp("upsamplers.0.conv"), rev[i], rev[i], 3));
                level
            })
            .collect();
        let norm_out = GroupNorm::build(&d.pp("conv_norm_out"), ch[0], g, EPS);
        let conv_out = Conv2d::build(&d.pp("conv_out"), c.out_channels, ch[0], 3);
        Self {
            cfg,
            post_quant_conv,
            conv_in,
            mid,
            up,
            norm_out,
            conv_out,
        }
    }

    /// Image [B, 3, 8h, 8w] (values around [-1, 1]) for latents [B, 4, h, w]
    /// as the sampler leaves them (scaled by `scaling_factor`).
    pub fn forward<B: Backend>(&self, b: &B, w: &Weights<B>, latents: &B::Tensor) -> R<B::Tensor> {
        let z = b.unary(Unary::Scale(1.0 / self.cfg.scaling_factor), latents)?;
        let z = match &self.post_quant_conv {
            Some(c) => c.forward(b, w, &z)?,
            None => z,
        };
        let x = self.conv_in.forward(b, w, &z)?;
        let mut x = self.mid.forward(b, w, &x)?;
        for level in &self.up {
            x = level.forward(b, w, x, true)?;
        }
        let x = self.norm_out.forward(b, w, &x, true)?;
        self.conv_out.forward(b, w, &x)
    }
}

/// The encoder half, present when the model's weights hold it.
pub struct VaeEncoder {
    pub cfg: VaeConfig,
    conv_in: Conv2d,
    down: Vec<Level>,
    mid: VaeMid,
    norm_out: GroupNorm,
    conv_out: Conv2d,
    quant_conv: Option<Conv2d>,
}

impl VaeEncoder {
    pub fn new(cfg: VaeConfig) -> Self {
        Self::build(&Vb::root().pp("vae"), cfg)
    }

    pub fn build(vb: &Vb, cfg: VaeConfig) -> Self {
        let c = &cfg;
        let ch = &c.block_out_channels;
        let n = ch.len();
        let last = ch[n - 1];
        let g = c.norm_num_groups;
        let moments = 2 * c.latent_channels;
        let e = vb.pp("encoder");
        let conv_in = Conv2d::build(&e.pp("conv_in"), ch[0], c.in_channels, 3);
        let down = (0..n)
            .map(|i| {
                let p = e.pp("down_blocks").pp(i);
                let cin = if i == 0 { ch[0] } else { ch[i - 1] };
                let mut level = Level::resnets(&p, cin, ch[i], c.layers_per_block, g);
                level.resample = (i + 1 < n)
                    .then(|| Conv2d::build_downsample(&p.pp("downsamplers.0.conv"), ch[i]));
                level
            })
            .collect();
        let mid = VaeMid::build(&e.pp("mid_block"), last, g, c.mid_block_add_attention);
        let norm_out = GroupNorm::build(&e.pp("conv_norm_out"), last, g, EPS);
        let conv_out = Conv2d::build(&e.pp("conv_out"), moments, last, 3);
        let quant_conv = c
            .use_quant_conv
            .then(|| Conv2d::build(&vb.pp("quant_conv"), moments, moments, 1));
        Self {
            cfg,
            conv_in,
            down,
            mid,
            norm_out,
            conv_out,
            quant_conv,
        }
    }

    /// The latent distribution's moments [B, 2 * latent_channels, H/8, W/8]
    /// (mean, then log-variance) for an image [B, 3, H, W] in [-1, 1]:
    /// `quant_conv(encoder(x))`, what `AutoencoderKL.encode` wraps in a
    /// `DiagonalGaussianDistribution`.
    pub fn forward<B: Backend>(&self, b: &B, w: &Weights<B>, image: &B::Tensor) -> R<B::Tensor> {
        let mut x = self.conv_in.forward(b, w, image)?;
        for level in &self.down {
            x = level.forward(b, w, x, false)?;
        }
        let x = self.mid.forward(b, w, &x)?;
        let x = self.norm_out.forward(b, w, &x, true)?;
        let x = self.conv_out.forward(b, w, &x)?;
        match &self.quant_conv {
            Some(q) => q.forward(b, w, &x),
            None => Ok(x),
        }
    }
}
