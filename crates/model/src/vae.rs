//! diffusers' `AutoencoderKL`. The decoder: latents / scaling_factor,
//! post_quant_conv, conv_in, a mid block (ResNet, single-head spatial
//! attention, ResNet), up blocks (ResNets, nearest 2x + conv), norm + SiLU,
//! conv_out. The encoder mirrors it (down blocks end in a stride-2 conv) and
//! is optional in a model: image-to-image needs it, text-to-image never runs it.

use crate::backend::{Backend, Unary};
use crate::config::VaeConfig;
use crate::nn::{
    R, add, attention, conv, conv_downsample, from_tokens, group_norm, resnet, to_tokens,
};
use crate::weights::Weights;

const P: &str = "vae";
/// Every VAE norm uses 1e-6 (diffusers hard-codes it for the autoencoder).
const EPS: f32 = 1e-6;

pub struct VaeDecoder {
    pub cfg: VaeConfig,
}

impl VaeDecoder {
    pub fn new(cfg: VaeConfig) -> Self {
        Self { cfg }
    }

    /// Image [B, 3, 8h, 8w] (values around [-1, 1]) for latents [B, 4, h, w]
    /// as the sampler leaves them (scaled by `scaling_factor`).
    pub fn forward<B: Backend>(&self, b: &B, w: &Weights<B>, latents: &B::Tensor) -> R<B::Tensor> {
        let c = &self.cfg;
        let g = c.norm_num_groups;
        let z = b.unary(Unary::Scale(1.0 / c.scaling_factor), latents)?;
        let z = if c.use_post_quant_conv {
            conv(b, w, &format!("{P}.post_quant_conv"), &z, 1)?
        } else {
            z
        };
        let d = format!("{P}.decoder");
        let x = conv(b, w, &format!("{d}.conv_in"), &z, 1)?;
        let mut x = resnet(b, w, &format!("{d}.mid_block.resnets.0"), &x, None, g, EPS)?;
        if c.mid_block_add_attention {
            x = self.mid_attention(b, w, &format!("{d}.mid_block.attentions.0"), &x)?;
        }
        let mut x = resnet(b, w, &format!("{d}.mid_block.resnets.1"), &x, None, g, EPS)?;
        let n = c.block_out_channels.len();
        for i in 0..n {
            let p = format!("{d}.up_blocks.{i}");
            for j in 0..c.layers_per_block + 1 {
                x = resnet(b, w, &format!("{p}.resnets.{j}"), &x, None, g, EPS)?;
            }
            if i + 1 < n {
                let up = b.upsample_nearest2x(&x)?;
                x = conv(b, w, &format!("{p}.upsamplers.0.conv"), &up, 1)?;
            }
        }
        let x = group_norm(b, w, &format!("{d}.conv_norm_out"), &x, g, EPS, true)?;
        conv(b, w, &format!("{d}.conv_out"), &x, 1)
    }

    fn mid_attention<B: Backend>(
        &self,
        b: &B,
        w: &Weights<B>,
        p: &str,
        x: &B::Tensor,
    ) -> R<B::Tensor> {
        mid_attention(b, w, p, x, self.cfg.norm_num_groups)
    }
}

/// One head over all pixels, with a residual (diffusers `Attention` built
/// from the old `AttentionBlock`).
fn mid_attention<B: Backend>(
    b: &B,
    w: &Weights<B>,
    p: &str,
    x: &B::Tensor,
    groups: usize,
) -> R<B::Tensor> {
    let s = b.shape(x).to_vec();
    let h = group_norm(b, w, &format!("{p}.group_norm"), x, groups, EPS, false)?;
    let t = to_tokens(b, h)?;
    let a = attention(b, w, p, &t, None, 1, None)?;
    let a = from_tokens(b, &a, s[2], s[3])?;
    add(b, &a, x)
}

/// The encoder half, present when the model's weights hold it.
pub struct VaeEncoder {
    pub cfg: VaeConfig,
}

impl VaeEncoder {
    pub fn new(cfg: VaeConfig) -> Self {
        Self { cfg }
    }

    /// The latent distribution's moments [B, 2 * latent_channels, H/8, W/8]
    /// (mean, then log-variance) for an image [B, 3, H, W] in [-1, 1]:
    /// `quant_conv(encoder(x))`, what `AutoencoderKL.encode` wraps in a
    /// `DiagonalGaussianDistribution`.
    pub fn forward<B: Backend>(&self, b: &B, w: &Weights<B>, image: &B::Tensor) -> R<B::Tensor> {
        let c = &self.cfg;
        let g = c.norm_num_groups;
        let e = format!("{P}.encoder");
        let mut x = conv(b, w, &format!("{e}.conv_in"), image, 1)?;
        let n = c.block_out_channels.len();
        for i in 0..n {
            let p = format!("{e}.down_blocks.{i}");
            for j in 0..c.layers_per_block {
                x = resnet(b, w, &format!("{p}.resnets.{j}"), &x, None, g, EPS)?;
            }
            if i + 1 < n {
                x = conv_downsample(b, w, &format!("{p}.downsamplers.0.conv"), &x)?;
            }
        }
        x = resnet(b, w, &format!("{e}.mid_block.resnets.0"), &x, None, g, EPS)?;
        if c.mid_block_add_attention {
            x = mid_attention(b, w, &format!("{e}.mid_block.attentions.0"), &x, g)?;
        }
        x = resnet(b, w, &format!("{e}.mid_block.resnets.1"), &x, None, g, EPS)?;
        let x = group_norm(b, w, &format!("{e}.conv_norm_out"), &x, g, EPS, true)?;
        let x = conv(b, w, &format!("{e}.conv_out"), &x, 1)?;
        if c.use_quant_conv {
            conv(b, w, &format!("{P}.quant_conv"), &x, 1)
        } else {
            Ok(x)
        }
    }
}
