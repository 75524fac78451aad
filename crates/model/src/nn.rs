//! Building blocks shared by the text encoder, UNet and VAE, by diffusers
//! module: each takes the module's weight-name prefix.

use crate::ModelError;
use crate::attention_maps::MapRecorder;
use crate::backend::{Backend, Binary, Padding, Unary};
use crate::weights::Weights;

pub type R<T> = Result<T, ModelError>;

pub(crate) fn linear<B: Backend>(b: &B, w: &Weights<B>, p: &str, x: &B::Tensor) -> R<B::Tensor> {
    let bias = w.try_get(&format!("{p}.bias"));
    b.linear(x, w.get(&format!("{p}.weight"))?, bias)
}

/// `residual + linear(x)`, one pass on the GPU.
pub(crate) fn linear_residual<B: Backend>(
    b: &B,
    w: &Weights<B>,
    p: &str,
    x: &B::Tensor,
    residual: &B::Tensor,
) -> R<B::Tensor> {
    let bias = w.try_get(&format!("{p}.bias"));
    b.linear_residual(x, w.get(&format!("{p}.weight"))?, bias, residual)
}

/// diffusers' GEGLU projection (`ff.net.0`): `h * gelu(g)`, one pass on the GPU.
pub(crate) fn linear_geglu<B: Backend>(
    b: &B,
    w: &Weights<B>,
    p: &str,
    x: &B::Tensor,
) -> R<B::Tensor> {
    let bias = w.try_get(&format!("{p}.bias"));
    b.linear_geglu(x, w.get(&format!("{p}.weight"))?, bias)
}

/// A same-padded convolution plus a per-(image, channel) bias and a
/// residual, one pass on the GPU.
pub(crate) fn conv_fused<B: Backend>(
    b: &B,
    w: &Weights<B>,
    p: &str,
    x: &B::Tensor,
    channel_bias: Option<&B::Tensor>,
    residual: Option<&B::Tensor>,
) -> R<B::Tensor> {
    let weight = w.get(&format!("{p}.weight"))?;
    let k = b.shape(weight).get(2).copied().unwrap_or(1);
    let bias = w.try_get(&format!("{p}.bias"));
    b.conv2d_fused(x, weight, bias, 1, (k / 2).into(), channel_bias, residual)
}

/// A "same" convolution (padding k / 2 on every side).
pub(crate) fn conv<B: Backend>(
    b: &B,
    w: &Weights<B>,
    p: &str,
    x: &B::Tensor,
    stride: usize,
) -> R<B::Tensor> {
    let weight = w.get(&format!("{p}.weight"))?;
    let k = b.shape(weight).get(2).copied().unwrap_or(1);
    b.conv2d(
        x,
        weight,
        w.try_get(&format!("{p}.bias")),
        stride,
        (k / 2).into(),
    )
}

/// diffusers' `Downsample2D` with `padding=0` (the VAE encoder's): one row
/// and column of zeros after the image, then a stride-2 convolution.
pub(crate) fn conv_downsample<B: Backend>(
    b: &B,
    w: &Weights<B>,
    p: &str,
    x: &B::Tensor,
) -> R<B::Tensor> {
    let pad = Padding { begin: 0, end: 1 };
    b.conv2d(
        x,
        w.get(&format!("{p}.weight"))?,
        w.try_get(&format!("{p}.bias")),
        2,
        pad,
    )
}

pub(crate) fn group_norm<B: Backend>(
    b: &B,
    w: &Weights<B>,
    p: &str,
    x: &B::Tensor,
    groups: usize,
    eps: f32,
    silu: bool,
) -> R<B::Tensor> {
    b.group_norm(
        x,
        w.get(&format!("{p}.weight"))?,
        w.get(&format!("{p}.bias"))?,
        groups,
        eps,
        silu,
    )
}

pub(crate) fn layer_norm<B: Backend>(
    b: &B,
    w: &Weights<B>,
    p: &str,
    x: &B::Tensor,
    eps: f32,
) -> R<B::Tensor> {
    b.layer_norm(
        x,
        w.get(&format!("{p}.weight"))?,
        w.get(&format!("{p}.bias"))?,
        eps,
    )
}

pub(crate) fn add<B: Backend>(b: &B, x: &B::Tensor, y: &B::Tensor) -> R<B::Tensor> {
    b.binary(Binary::Add, x, y)
}

/// diffusers `ResnetBlock2D` (default time-scale-shift, output scale 1):
/// norm1+SiLU, conv1, + time projection, norm2+SiLU, conv2, + shortcut.
/// `temb_act` is SiLU(time embedding), shared by every block of a UNet call.
pub fn resnet<B: Backend>(
    b: &B,
    w: &Weights<B>,
    p: &str,
    x: &B::Tensor,
    temb_act: Option<&B::Tensor>,
    groups: usize,
    eps: f32,
) -> R<B::Tensor> {
    let h = group_norm(b, w, &format!("{p}.norm1"), x, groups, eps, true)?;
    let t = match temb_act {
        Some(t) => Some(linear(b, w, &format!("{p}.time_emb_proj"), t)?),
        None => None,
    };
    let h = conv_fused(b, w, &format!("{p}.conv1"), &h, t.as_ref(), None)?;
    let h = group_norm(b, w, &format!("{p}.norm2"), &h, groups, eps, true)?;
    let shortcut = format!("{p}.conv_shortcut");
    let s = if w.contains(&format!("{shortcut}.weight")) {
        Some(conv(b, w, &shortcut, x, 1)?)
    } else {
        None
    };
    conv_fused(
        b,
        w,
        &format!("{p}.conv2"),
        &h,
        None,
        Some(s.as_ref().unwrap_or(x)),
    )
}

/// diffusers `Attention` as SD uses it: q from `x`, k and v from `context`
/// (or `x`), `heads` heads, softmax scale 1/sqrt(head size), `to_out.0`
/// (plus `residual`, in the same pass, when given).
pub(crate) fn attention<B: Backend>(
    b: &B,
    w: &Weights<B>,
    p: &str,
    x: &B::Tensor,
    context: Option<&B::Tensor>,
    heads: usize,
    residual: Option<&B::Tensor>,
) -> R<B::Tensor> {
    attention_mapped(b, w, p, x, context, heads, residual, None)
}

/// `attention`, with its probabilities also recorded by `maps` (a
/// cross-attention's, at the pixel grid `(h, w)`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn attention_mapped<B: Backend>(
    b: &B,
    w: &Weights<B>,
    p: &str,
    x: &B::Tensor,
    context: Option<&B::Tensor>,
    heads: usize,
    residual: Option<&B::Tensor>,
    maps: Option<(&MapRecorder<B>, (usize, usize))>,
) -> R<B::Tensor> {
    let ctx = context.unwrap_or(x);
    let q = linear(b, w, &format!("{p}.to_q"), x)?;
    let k = linear(b, w, &format!("{p}.to_k"), ctx)?;
    let v = linear(b, w, &format!("{p}.to_v"), ctx)?;
    let inner = *b.shape(&q).last().unwrap_or(&0);
    if heads == 0 || !inner.is_multiple_of(heads) {
        return Err(ModelError::Shape {
            op: "attention",
            expected: format!("{heads} heads"),
            got: format!("width {inner} at {p}"),
        });
    }
    let scale = 1.0 / ((inner / heads) as f32).sqrt();
    if let Some((recorder, grid)) = maps {
        recorder.record(b, &q, &k, heads, scale, grid)?;
    }
    let o = b.attention(&q, &k, &v, heads, scale, false)?;
    match residual {
        Some(r) => linear_residual(b, w, &format!("{p}.to_out.0"), &o, r),
        None => linear(b, w, &format!("{p}.to_out.0"), &o),
    }
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
