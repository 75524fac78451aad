//! diffusers' `UNet2DConditionModel` for SD v1 configs: sinusoidal time
//! embedding, down blocks (ResNets, optional cross-attention transformers,
//! stride-2 downsampling) whose outputs are kept as skips, a mid block, up
//! blocks that concatenate the skips back, and the output head. Block types,
//! counts, widths and heads all come from the config.

use crate::attention_maps::MapRecorder;
use crate::backend::{Backend, TimestepConfig};
use crate::config::UnetConfig;
use crate::nn::{
    R, add, attention, attention_mapped, conv, conv_fused, from_tokens, group_norm, layer_norm,
    linear, linear_geglu, linear_residual, resnet, silu, to_tokens,
};
use crate::weights::Weights;

const P: &str = "unet";

pub struct Unet {
    pub cfg: UnetConfig,
}

/// Transformer2DModel's own GroupNorm epsilon (not the config's norm_eps).
const TRANSFORMER_NORM_EPS: f32 = 1e-6;
const LAYER_NORM_EPS: f32 = 1e-5;

impl Unet {
    pub fn new(cfg: UnetConfig) -> Self {
        Self { cfg }
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
        let n = c.block_out_channels.len();
        let batch = b.shape(sample)[0];
        let groups = c.norm_num_groups;
        let eps = c.norm_eps;
        let heads = c.heads();
        let layers = c.layers_per_block.expand(n);
        let tlayers = c.transformer_layers_per_block.expand(n);

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
        let emb = linear(b, w, &format!("{P}.time_embedding.linear_1"), &t_emb)?;
        let emb = silu(b, &emb)?;
        let emb = linear(b, w, &format!("{P}.time_embedding.linear_2"), &emb)?;
        let temb = silu(b, &emb)?;
        let temb = Some(&temb);

        // Skips, in diffusers' order: conv_in's output, then every down
        // resnet(+transformer) output and every downsampler output.
        let mut skips = vec![conv(b, w, &format!("{P}.conv_in"), sample, 1)?];
        for i in 0..n {
            let p = format!("{P}.down_blocks.{i}");
            let cross = c.down_block_types[i] == "CrossAttnDownBlock2D";
            for j in 0..layers[i] {
                let prev = skips.last().expect("conv_in output");
                let mut x = resnet(b, w, &format!("{p}.resnets.{j}"), prev, temb, groups, eps)?;
                if cross {
                    let at = format!("{p}.attentions.{j}");
                    x = self.transformer(b, w, &at, &x, context, heads[i], tlayers[i], maps)?;
                }
                skips.push(x);
            }
            if i + 1 < n {
                let prev = skips.last().expect("block output");
                let x = conv(b, w, &format!("{p}.downsamplers.0.conv"), prev, 2)?;
                skips.push(x);
            }
        }

        let mut x = {
            let p = format!("{P}.mid_block");
            let last = skips.last().expect("down output");
            let x = resnet(b, w, &format!("{p}.resnets.0"), last, temb, groups, eps)?;
            let x = self.transformer(
                b,
                w,
                &format!("{p}.attentions.0"),
                &x,
                context,
                heads[n - 1],
                tlayers[n - 1],
                maps,
            )?;
            resnet(b, w, &format!("{p}.resnets.1"), &x, temb, groups, eps)?
        };

        for i in 0..n {
            let level = n - 1 - i; // up block i mirrors down block n-1-i
            let p = format!("{P}.up_blocks.{i}");
            let cross = c.up_block_types[i] == "CrossAttnUpBlock2D";
            for j in 0..layers[level] + 1 {
                let skip = skips.pop().ok_or_else(|| crate::ModelError::Config {
                    component: "unet",
                    what: "up blocks need more skip connections than the down blocks made".into(),
                })?;
                let cat = b.concat_channels(&x, &skip)?;
                x = resnet(b, w, &format!("{p}.resnets.{j}"), &cat, temb, groups, eps)?;
                if cross {
                    let at = format!("{p}.attentions.{j}");
                    x = self.transformer(
                        b,
                        w,
                        &at,
                        &x,
                        context,
                        heads[level],
                        tlayers[level],
                        maps,
                    )?;
                }
            }
            if i + 1 < n {
                let up = b.upsample_nearest2x(&x)?;
                x = conv(b, w, &format!("{p}.upsamplers.0.conv"), &up, 1)?;
            }
        }
        let x = group_norm(b, w, &format!("{P}.conv_norm_out"), &x, groups, eps, true)?;
        conv(b, w, &format!("{P}.conv_out"), &x, 1)
    }

    /// One `Transformer2DModel` (norm, proj_in, `blocks` transformer blocks,
    /// proj_out, residual) at `p`.
    #[allow(clippy::too_many_arguments)]
    pub fn transformer<B: Backend>(
        &self,
        b: &B,
        w: &Weights<B>,
        p: &str,
        x: &B::Tensor,
        context: &B::Tensor,
        heads: usize,
        blocks: usize,
        maps: Option<&MapRecorder<B>>,
    ) -> R<B::Tensor> {
        let s = b.shape(x).to_vec();
        let (h, wd) = (s[2], s[3]);
        let normed = group_norm(
            b,
            w,
            &format!("{p}.norm"),
            x,
            self.cfg.norm_num_groups,
            TRANSFORMER_NORM_EPS,
            false,
        )?;
        let mut tokens = if self.cfg.use_linear_projection {
            let t = to_tokens(b, normed)?;
            linear(b, w, &format!("{p}.proj_in"), &t)?
        } else {
            let t = conv(b, w, &format!("{p}.proj_in"), &normed, 1)?;
            to_tokens(b, t)?
        };
        for j in 0..blocks {
            let q = format!("{p}.transformer_blocks.{j}");
            let n1 = layer_norm(b, w, &format!("{q}.norm1"), &tokens, LAYER_NORM_EPS)?;
            tokens = attention(b, w, &format!("{q}.attn1"), &n1, None, heads, Some(&tokens))?;
            let n2 = layer_norm(b, w, &format!("{q}.norm2"), &tokens, LAYER_NORM_EPS)?;
            let a2 = format!("{q}.attn2");
            let grid = maps.map(|m| (m, (h, wd)));
            tokens = attention_mapped(b, w, &a2, &n2, Some(context), heads, Some(&tokens), grid)?;
            let n3 = layer_norm(b, w, &format!("{q}.norm3"), &tokens, LAYER_NORM_EPS)?;
            let f = linear_geglu(b, w, &format!("{q}.ff.net.0.proj"), &n3)?;
            tokens = linear_residual(b, w, &format!("{q}.ff.net.2"), &f, &tokens)?;
        }
        let out = if self.cfg.use_linear_projection {
            let t = linear(b, w, &format!("{p}.proj_out"), &tokens)?;
            from_tokens(b, &t, h, wd)?
        } else {
            let t = from_tokens(b, &tokens, h, wd)?;
            return conv_fused(b, w, &format!("{p}.proj_out"), &t, None, Some(x));
        };
        add(b, x, &out)
    }
}
