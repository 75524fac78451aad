//! The modules the text encoder, UNet and VAE are built from, by diffusers
//! module: each is built once from a [`Vb`] (which records its parameters'
//! names and shapes) and runs on any [`Backend`] with the loaded weights.

use crate::ModelError;
use crate::attention_maps::MapRecorder;
use crate::backend::{Backend, Binary, Padding, Unary};
use crate::vb::{Param, Vb};
use crate::weights::Weights;

pub type R<T> = Result<T, ModelError>;

/// `nn.Linear`.
pub struct Linear {
    weight: Param,
    bias: Option<Param>,
}

impl Linear {
    pub fn build(vb: &Vb, out: usize, inp: usize, bias: bool) -> Self {
        Self {
            weight: vb.param("weight", &[out, inp]),
            bias: bias.then(|| vb.param("bias", &[out])),
        }
    }

    fn parts<'w, B: Backend>(
        &self,
        w: &'w Weights<B>,
    ) -> R<(&'w B::Tensor, Option<&'w B::Tensor>)> {
        let bias = self.bias.as_ref().map(|p| w.get(p.name())).transpose()?;
        Ok((w.get(self.weight.name())?, bias))
    }

    pub fn forward<B: Backend>(&self, b: &B, w: &Weights<B>, x: &B::Tensor) -> R<B::Tensor> {
        let (weight, bias) = self.parts(w)?;
        b.linear(x, weight, bias)
    }

    /// `residual + linear(x)`, one pass on the GPU.
    pub fn forward_residual<B: Backend>(
        &self,
        b: &B,
        w: &Weights<B>,
        x: &B::Tensor,
        residual: &B::Tensor,
    ) -> R<B::Tensor> {
        let (weight, bias) = self.parts(w)?;
        b.linear_residual(x, weight, bias, residual)
    }

    /// diffusers' GEGLU projection (`ff.net.0`): `h * gelu(g)`, one pass on the GPU.
    pub fn forward_geglu<B: Backend>(&self, b: &B, w: &Weights<B>, x: &B::Tensor) -> R<B::Tensor> {
        let (weight, bias) = self.parts(w)?;
        b.linear_geglu(x, weight, bias)
    }
}

/// `nn.Conv2d` with a bias, square kernel, "same" padding unless built as
/// the VAE encoder's downsample.
pub struct Conv2d {
    weight: Param,
    bias: Param,
    stride: usize,
    pad: Padding,
}

impl Conv2d {
    /// Stride 1, padding k / 2.
    pub fn build(vb: &Vb, out: usize, inp: usize, k: usize) -> Self {
        Self::build_with(vb, out, inp, k, 1, (k / 2).into())
    }

    pub fn build_with(
        vb: &Vb,
        out: usize,
        inp: usize,
        k: usize,
        stride: usize,
        pad: Padding,
    ) -> Self {
        Self {
            weight: vb.param("weight", &[out, inp, k, k]),
            bias: vb.param("bias", &[out]),
            stride,
            pad,
        }
    }

    /// diffusers' `Downsample2D` with `padding=0` (the VAE encoder's): one row
    /// and column of zeros after the image, then a stride-2 convolution.
    pub fn build_downsample(vb: &Vb, c: usize) -> Self {
        Self::build_with(vb, c, c, 3, 2, Padding { begin: 0, end: 1 })
    }

    pub fn forward<B: Backend>(&self, b: &B, w: &Weights<B>, x: &B::Tensor) -> R<B::Tensor> {
        let (weight, bias) = (w.get(self.weight.name())?, w.get(self.bias.name())?);
        b.conv2d(x, weight, Some(bias), self.stride, self.pad)
    }

    /// The convolution plus a per-(image, channel) bias and a residual, one
    /// pass on the GPU.
    pub fn forward_fused<B: Backend>(
        &self,
        b: &B,
        w: &Weights<B>,
        x: &B::Tensor,
        channel_bias: Option<&B::Tensor>,
        residual: Option<&B::Tensor>,
    ) -> R<B::Tensor> {
        let (weight, bias) = (w.get(self.weight.name())?, w.get(self.bias.name())?);
        b.conv2d_fused(
            x,
            weight,
            Some(bias),
            self.stride,
            self.pad,
            channel_bias,
            residual,
        )
    }
}

/// `nn.GroupNorm` (optionally followed by SiLU in the same pass).
pub struct GroupNorm {
    gamma: Param,
    beta: Param,
    groups: usize,
    eps: f32,
}

impl GroupNorm {
    pub fn build(vb: &Vb, c: usize, groups: usize, eps: f32) -> Self {
        Self {
            gamma: vb.param("weight", &[c]),
            beta: vb.param("bias", &[c]),
            groups,
            eps,
        }
    }

    pub fn forward<B: Backend>(
        &self,
        b: &B,
        w: &Weights<B>,
        x: &B::Tensor,
        silu: bool,
    ) -> R<B::Tensor> {
        b.group_norm(
            x,
            w.get(self.gamma.name())?,
            w.get(self.beta.name())?,
            self.groups,
            self.eps,
            silu,
        )
    }
}

/// `nn.LayerNorm` over the last dimension.
pub struct LayerNorm {
    gamma: Param,
    beta: Param,
    eps: f32,
}

impl LayerNorm {
    pub fn build(vb: &Vb, c: usize, eps: f32) -> Self {
        Self {
            gamma: vb.param("weight", &[c]),
            beta: vb.param("bias", &[c]),
            eps,
        }
    }

    pub fn forward<B: Backend>(&self, b: &B, w: &Weights<B>, x: &B::Tensor) -> R<B::Tensor> {
        b.layer_norm(
            x,
            w.get(self.gamma.name())?,
            w.get(self.beta.name())?,
            self.eps,
        )
    }
}

/// diffusers `ResnetBlock2D` (default time-scale-shift, output scale 1):
/// norm1+SiLU, conv1, + time projection, norm2+SiLU, conv2, + shortcut.
pub struct Resnet {
    norm1: GroupNorm,
    conv1: Conv2d,
    time_emb_proj: Option<Linear>,
    norm2: GroupNorm,
    conv2: Conv2d,
    conv_shortcut: Option<Conv2d>,
}

impl Resnet {
    /// `temb`: the time embedding's width (UNet), or None (VAE).
    pub fn build(
        vb: &Vb,
        cin: usize,
        cout: usize,
        temb: Option<usize>,
        groups: usize,
        eps: f32,
    ) -> Self {
        let norm1 = GroupNorm::build(&vb.pp("norm1"), cin, groups, eps);
        let conv1 = Conv2d::build(&vb.pp("conv1"), cout, cin, 3);
        let time_emb_proj = temb.map(|t| Linear::build(&vb.pp("time_emb_proj"), cout, t, true));
        let norm2 = GroupNorm::build(&vb.pp("norm2"), cout, groups, eps);
        let conv2 = Conv2d::build(&vb.pp("conv2"), cout, cout, 3);
        let conv_shortcut =
            (cin != cout).then(|| Conv2d::build(&vb.pp("conv_shortcut"), cout, cin, 1));
        Self {
            norm1,
            conv1,
            time_emb_proj,
            norm2,
            conv2,
            conv_shortcut,
        }
    }

    /// `temb_act` is SiLU(time embedding), shared by every block of a UNet call.
    pub fn forward<B: Backend>(
        &self,
        b: &B,
        w: &Weights<B>,
        x: &B::Tensor,
        temb_act: Option<&B::Tensor>,
    ) -> R<B::Tensor> {
        let h = self.norm1.forward(b, w, x, true)?;
        let t = match (&self.time_emb_proj, temb_act) {
            (Some(proj), Some(t)) => Some(proj.forward(b, w, t)?),
            _ => None,
        };
        let h = self.conv1.forward_fused(b, w, &h, t.as_ref(), None)?;
        let h = self.norm2.forward(b, w, &h, true)?;
        let s = match &self.conv_shortcut {
            Some(c) => Some(c.forward(b, w, x)?),
            None => None,
        };
        self.conv2
            .forward_fused(b, w, &h, None, Some(s.as_ref().unwrap_or(x)))
    }
}

/// diffusers `Attention` as SD uses it: q from `x`, k and v from `context`
/// (or `x`), `heads` heads, softmax scale 1/sqrt(head size), `to_out.0`.
pub struct Attention {
    to_q: Linear,
    to_k: Linear,
    to_v: Linear,
    to_out: Linear,
    heads: usize,
}

impl Attention {
    /// Width `c`, context width `ctx` (`c` for self-attention).
    pub fn build(vb: &Vb, c: usize, ctx: usize, qkv_bias: bool, heads: usize) -> Self {
        Self {
            to_q: Linear::build(&vb.pp("to_q"), c, c, qkv_bias),
            to_k: Linear::build(&vb.pp("to_k"), c, ctx, qkv_bias),
            to_v: Linear::build(&vb.pp("to_v"), c, ctx, qkv_bias),
            to_out: Linear::build(&vb.pp("to_out.0"), c, c, true),
            heads,
        }
    }

    /// The attention, plus `residual` in the output projection's pass when
    /// given; `maps` records a cross-attention's probabilities at the pixel
    /// grid it names.
    pub fn forward<B: Backend>(
        &self,
        b: &B,
        w: &Weights<B>,
        x: &B::Tensor,
        context: Option<&B::Tensor>,
        residual: Option<&B::Tensor>,
        maps: Option<(&MapRecorder<B>, (usize, usize))>,
    ) -> R<B::Tensor> {
        let ctx = context.unwrap_or(x);
        let q = self.to_q.forward(b, w, x)?;
        let k = self.to_k.forward(b, w, ctx)?;
        let v = self.to_v.forward(b, w, ctx)?;
        let heads = self.heads;
        let inner = *b.shape(&q).last().unwrap_or(&0);
        if heads == 0 || !inner.is_multiple_of(heads) {
            return Err(ModelError::Shape {
                op: "attention",
                expected: format!("{heads} heads"),
                got: format!("width {inner}"),
            });
        }
        let scale = 1.0 / ((inner / heads) as f32).sqrt();
        if let Some((recorder, grid)) = maps {
            recorder.record(b, &q, &k, heads, scale, grid)?;
        }
        let o = b.attention(&q, &k, &v, heads, scale, false)?;
        match residual {
            Some(r) => self.to_out.forward_residual(b, w, &o, r),
            None => self.to_out.forward(b, w, &o),
        }
    }
}

pub(crate) fn add<B: Backend>(b: &B, x: &B::Tensor, y: &B::Tensor) -> R<B::Tensor> {
    b.binary(Binary::Add, x, y)
}

/// [B, C, H, W] -> [B, H*W, C] tokens.
pub(crate) fn to_tokens<B: Backend>(b: &B, x: B::Tensor) -> R<B::Tensor> {
    let s = b.shape(&x).to_vec();
    let x = b.reshape(x, &[s[0], s[1], s[2] * s[3]])?;
    b.transpose(&x)
}

/// [B, H*W, C] tokens -> [B, C, H, W].
pub(crate) fn from_tokens<B: Backend>(b: &B, x: &B::Tensor, h: usize, wd: usize) -> R<B::Tensor> {
    let t = b.transpose(x)?;
    let s = b.shape(&t).to_vec();
    b.reshape(t, &[s[0], s[1], h, wd])
}

pub(crate) fn silu<B: Backend>(b: &B, x: &B::Tensor) -> R<B::Tensor> {
    b.unary(Unary::Silu, x)
}
