//! Where the model's ops run. The model graph (CLIP, UNet, VAE, schedulers)
//! is written once against [`Backend`]; [`GpuBackend`] runs it on our WGSL
//! kernels, [`CpuBackend`] on the CPU reference ops (slow: for tests, and for
//! machines without an adapter).

mod cpu;
mod gpu;

use std::future::Future;

pub use cpu::{CpuBackend, CpuTensor};
pub use gpu::GpuBackend;
pub use roentgen_gpu::ops::conv2d::Padding;
pub use roentgen_gpu::ops::elementwise::{Binary, Unary};
/// One fused latent update after classifier-free guidance; the host-side
/// schedulers compute the coefficients (`shaders/scheduler.wgsl` has each formula).
pub use roentgen_gpu::ops::scheduler::Update;
pub use roentgen_gpu::ops::timestep::TimestepConfig;
use roentgen_weights::TensorDType;

use crate::ModelError;

/// The ops the SD v1 graph needs. Shapes follow PyTorch (NCHW, row-major).
pub trait Backend {
    type Tensor;

    /// A short description for logs and reports ("gpu f16 on ...", "cpu f32").
    fn describe(&self) -> String;

    /// Uploads per-call host data (latents, noise, embeddings), converted to
    /// the backend's activation type; the GPU reuses pooled buffers for it.
    fn upload(&self, name: &str, shape: &[usize], data: &[f32])
    -> Result<Self::Tensor, ModelError>;
    /// Uploads a weight stored as `dtype` little-endian bytes, into memory of
    /// its own that is freed when the weight drops.
    fn upload_weight(
        &self,
        name: &str,
        shape: &[usize],
        dtype: TensorDType,
        bytes: &[u8],
    ) -> Result<Self::Tensor, ModelError>;
    /// Uploads a q8 weight: int8 `values` and one f16 scale per output
    /// channel (dimension 0), little-endian. By default widened on the host;
    /// the GPU keeps it int8 and dequantizes in its GEMM kernels.
    fn upload_q8(
        &self,
        name: &str,
        shape: &[usize],
        values: &[u8],
        scales: &[u8],
    ) -> Result<Self::Tensor, ModelError> {
        let values = roentgen_weights::q8::dequantize(values, scales, shape[0]);
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.upload_weight(name, shape, TensorDType::F32, &bytes)
    }
    fn shape<'a>(&self, t: &'a Self::Tensor) -> &'a [usize];
    /// The same values viewed with another shape of equal size.
    fn reshape(&self, t: Self::Tensor, shape: &[usize]) -> Result<Self::Tensor, ModelError>;
    fn read(&self, t: &Self::Tensor) -> impl Future<Output = Result<Vec<f32>, ModelError>>;
    /// Keep intermediate buffers for reuse (work that repeats: the sampling
    /// loop) or free them as they drop (one-shot phases: text encoder, VAE,
    /// whose sizes never come back and would only add to the peak).
    fn reuse_buffers(&self, _on: bool) {}

    fn linear(
        &self,
        x: &Self::Tensor,
        w: &Self::Tensor,
        b: Option<&Self::Tensor>,
    ) -> Result<Self::Tensor, ModelError>;
    fn conv2d(
        &self,
        x: &Self::Tensor,
        w: &Self::Tensor,
        b: Option<&Self::Tensor>,
        stride: usize,
        pad: Padding,
    ) -> Result<Self::Tensor, ModelError>;
    /// `residual + linear(x)`: an attention output projection or a
    /// feed-forward's last layer added back to its input. The GPU adds it in
    /// the GEMM's epilogue (no pass of its own); by default two ops.
    fn linear_residual(
        &self,
        x: &Self::Tensor,
        w: &Self::Tensor,
        b: Option<&Self::Tensor>,
        residual: &Self::Tensor,
    ) -> Result<Self::Tensor, ModelError> {
        unfused::linear_residual(self, x, w, b, residual)
    }
    /// diffusers' GEGLU: `h * gelu(g)` for `[h | g] = linear(x)`. The GPU
    /// applies it in the GEMM's epilogue; by default two ops.
    fn linear_geglu(
        &self,
        x: &Self::Tensor,
        w: &Self::Tensor,
        b: Option<&Self::Tensor>,
    ) -> Result<Self::Tensor, ModelError> {
        unfused::linear_geglu(self, x, w, b)
    }
    /// `conv2d(x) (+ channel_bias[:, :, None, None]) (+ residual)`: a ResNet
    /// block's first conv with its time embedding, its second with the
    /// shortcut. Fused on the GPU; by default one op each.
    #[allow(clippy::too_many_arguments)]
    fn conv2d_fused(
        &self,
        x: &Self::Tensor,
        w: &Self::Tensor,
        b: Option<&Self::Tensor>,
        stride: usize,
        pad: Padding,
        channel_bias: Option<&Self::Tensor>,
        residual: Option<&Self::Tensor>,
    ) -> Result<Self::Tensor, ModelError> {
        unfused::conv2d(self, x, w, b, stride, pad, channel_bias, residual)
    }
    #[allow(clippy::too_many_arguments)]
    fn group_norm(
        &self,
        x: &Self::Tensor,
        gamma: &Self::Tensor,
        beta: &Self::Tensor,
        groups: usize,
        eps: f32,
        silu: bool,
    ) -> Result<Self::Tensor, ModelError>;
    fn layer_norm(
        &self,
        x: &Self::Tensor,
        gamma: &Self::Tensor,
        beta: &Self::Tensor,
        eps: f32,
    ) -> Result<Self::Tensor, ModelError>;
    #[allow(clippy::too_many_arguments)]
    fn attention(
        &self,
        q: &Self::Tensor,
        k: &Self::Tensor,
        v: &Self::Tensor,
        heads: usize,
        scale: f32,
        causal: bool,
    ) -> Result<Self::Tensor, ModelError>;
    /// Cross-attention maps for the teaching view: for `q` [B, N, H*d] and
    /// `k` [B, M, H*d], [M, N] with row j the head-mean softmax probability of
    /// key j at each query of batch item `item` (the scores `attention`
    /// computes, kept instead of applied to V).
    fn attention_maps(
        &self,
        q: &Self::Tensor,
        k: &Self::Tensor,
        heads: usize,
        scale: f32,
        item: usize,
    ) -> Result<Self::Tensor, ModelError>;
    fn unary(&self, op: Unary, x: &Self::Tensor) -> Result<Self::Tensor, ModelError>;
    fn binary(
        &self,
        op: Binary,
        a: &Self::Tensor,
        b: &Self::Tensor,
    ) -> Result<Self::Tensor, ModelError>;
    fn geglu(&self, x: &Self::Tensor) -> Result<Self::Tensor, ModelError>;
    /// `x [N, C, ...] + bias [N, C]`.
    fn add_channel_bias(
        &self,
        x: &Self::Tensor,
        bias: &Self::Tensor,
    ) -> Result<Self::Tensor, ModelError>;
    fn upsample_nearest2x(&self, x: &Self::Tensor) -> Result<Self::Tensor, ModelError>;
    fn concat_channels(
        &self,
        a: &Self::Tensor,
        b: &Self::Tensor,
    ) -> Result<Self::Tensor, ModelError>;
    /// `[B, R, C] -> [B, C, R]`.
    fn transpose(&self, x: &Self::Tensor) -> Result<Self::Tensor, ModelError>;
    fn timestep_embedding(
        &self,
        t: f32,
        rows: usize,
        cfg: TimestepConfig,
    ) -> Result<Self::Tensor, ModelError>;
    /// Guides `eps` ([uncond; cond] when `guidance` is set) and updates `x`.
    /// Returns the new latents and the scheduler's kept value (see [`Update`]).
    fn step(
        &self,
        eps: &Self::Tensor,
        x: &Self::Tensor,
        guidance: Option<f32>,
        update: Update<'_, Self::Tensor>,
    ) -> Result<(Self::Tensor, Self::Tensor), ModelError>;
}

/// The fused ops as separate ops: the trait's defaults, and the GPU's path
/// when fusion is turned off to measure it.
pub mod unfused {
    use super::{Backend, Binary, Padding};
    use crate::ModelError;

    pub fn linear_residual<B: Backend + ?Sized>(
        be: &B,
        x: &B::Tensor,
        w: &B::Tensor,
        b: Option<&B::Tensor>,
        residual: &B::Tensor,
    ) -> Result<B::Tensor, ModelError> {
        let y = be.linear(x, w, b)?;
        be.binary(Binary::Add, residual, &y)
    }

    pub fn linear_geglu<B: Backend + ?Sized>(
        be: &B,
        x: &B::Tensor,
        w: &B::Tensor,
        b: Option<&B::Tensor>,
    ) -> Result<B::Tensor, ModelError> {
        let y = be.linear(x, w, b)?;
        be.geglu(&y)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn conv2d<B: Backend + ?Sized>(
        be: &B,
        x: &B::Tensor,
        w: &B::Tensor,
        b: Option<&B::Tensor>,
        stride: usize,
        pad: Padding,
        channel_bias: Option<&B::Tensor>,
        residual: Option<&B::Tensor>,
    ) -> Result<B::Tensor, ModelError> {
        let mut y = be.conv2d(x, w, b, stride, pad)?;
        if let Some(c) = channel_bias {
            y = be.add_channel_bias(&y, c)?;
        }
        match residual {
            Some(r) => be.binary(Binary::Add, r, &y),
            None => Ok(y),
        }
    }
}
