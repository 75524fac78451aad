//! The model on our WGSL kernels.

use roentgen_gpu::ops::{
    attention, concat, conv2d, elementwise, group_norm, layer_norm, matmul, scheduler, timestep,
    transpose, upsample,
};
use roentgen_gpu::{DType, GpuContext, Tensor};
use roentgen_weights::TensorDType;

use super::{Backend, Binary, Padding, TimestepConfig, Unary, Update};
use crate::ModelError;

/// Runs every op on `ctx`, with activations and weights stored as `dtype`.
pub struct GpuBackend<'c> {
    pub ctx: &'c GpuContext,
    pub dtype: DType,
    /// Fused GEMM epilogues (residual, time embedding, GEGLU). Off only to
    /// measure what fusion saves (natively `ROENTGEN_UNFUSED=1`): every
    /// fused op then runs as the Backend trait's unfused default.
    pub fused: bool,
}

impl<'c> GpuBackend<'c> {
    pub fn new(ctx: &'c GpuContext, dtype: DType) -> Self {
        Self {
            ctx,
            dtype,
            fused: !unfused_asked(),
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn unfused_asked() -> bool {
    std::env::var("ROENTGEN_UNFUSED").is_ok_and(|v| v == "1")
}

#[cfg(target_arch = "wasm32")]
fn unfused_asked() -> bool {
    false
}

impl Backend for GpuBackend<'_> {
    type Tensor = Tensor;

    fn describe(&self) -> String {
        format!(
            "gpu {} ({}) on {} ({})",
            match self.dtype {
                DType::F32 => "f32",
                DType::F16 => "f16",
            },
            self.ctx.path_for(self.dtype).name(),
            self.ctx.report.name,
            self.ctx.report.backend
        )
    }

    fn upload(&self, name: &str, shape: &[usize], data: &[f32]) -> Result<Tensor, ModelError> {
        Ok(Tensor::input(self.ctx, name, shape, data, self.dtype)?)
    }

    fn upload_weight(
        &self,
        name: &str,
        shape: &[usize],
        dtype: TensorDType,
        bytes: &[u8],
    ) -> Result<Tensor, ModelError> {
        match (dtype, self.dtype) {
            // f16 bytes go straight into the buffer, padded to whole pairs.
            (TensorDType::F16, DType::F16) => Ok(Tensor::from_bytes(
                self.ctx,
                name,
                shape,
                DType::F16,
                bytes,
            )?),
            _ => {
                let values = crate::weights::decode(dtype, bytes, name)?;
                Ok(Tensor::from_f32(
                    self.ctx, name, shape, &values, self.dtype,
                )?)
            }
        }
    }

    fn upload_q8(
        &self,
        name: &str,
        shape: &[usize],
        values: &[u8],
        scales: &[u8],
    ) -> Result<Tensor, ModelError> {
        let scales: Vec<f32> = scales
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect();
        Ok(Tensor::q8(
            self.ctx, name, shape, self.dtype, values, &scales,
        )?)
    }

    fn shape<'a>(&self, t: &'a Tensor) -> &'a [usize] {
        &t.shape
    }

    fn reshape(&self, mut t: Tensor, shape: &[usize]) -> Result<Tensor, ModelError> {
        crate::error::check_reshape(&t.shape, shape)?;
        t.shape = shape.to_vec();
        Ok(t)
    }

    fn reuse_buffers(&self, on: bool) {
        self.ctx.reuse_buffers(on);
    }

    async fn read(&self, t: &Tensor) -> Result<Vec<f32>, ModelError> {
        Ok(t.to_f32(self.ctx).await?)
    }

    fn linear(&self, x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor, ModelError> {
        Ok(matmul::matmul(self.ctx, x, w, b, true)?)
    }

    fn conv2d(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: Option<&Tensor>,
        stride: usize,
        pad: Padding,
    ) -> Result<Tensor, ModelError> {
        Ok(conv2d::conv2d(self.ctx, x, w, b, stride, pad)?)
    }

    fn linear_residual(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: Option<&Tensor>,
        residual: &Tensor,
    ) -> Result<Tensor, ModelError> {
        if !self.fused {
            return super::unfused::linear_residual(self, x, w, b, residual);
        }
        Ok(matmul::matmul_residual(
            self.ctx,
            x,
            w,
            b,
            true,
            Some(residual),
        )?)
    }

    fn linear_geglu(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: Option<&Tensor>,
    ) -> Result<Tensor, ModelError> {
        if !self.fused || !matmul::geglu_fits(&w.shape) {
            return super::unfused::linear_geglu(self, x, w, b);
        }
        Ok(matmul::matmul_geglu(self.ctx, x, w, b)?)
    }

    fn conv2d_fused(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: Option<&Tensor>,
        stride: usize,
        pad: Padding,
        channel_bias: Option<&Tensor>,
        residual: Option<&Tensor>,
    ) -> Result<Tensor, ModelError> {
        if !self.fused {
            let (c, r) = (channel_bias, residual);
            return super::unfused::conv2d(self, x, w, b, stride, pad, c, r);
        }
        let extra = conv2d::Epilogue {
            channel_bias,
            residual,
        };
        Ok(conv2d::conv2d_fused(self.ctx, x, w, b, stride, pad, extra)?)
    }

    fn group_norm(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        beta: &Tensor,
        groups: usize,
        eps: f32,
        silu: bool,
    ) -> Result<Tensor, ModelError> {
        Ok(group_norm::group_norm(
            self.ctx, x, gamma, beta, groups, eps, silu,
        )?)
    }

    fn layer_norm(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        beta: &Tensor,
        eps: f32,
    ) -> Result<Tensor, ModelError> {
        Ok(layer_norm::layer_norm(self.ctx, x, gamma, beta, eps)?)
    }

    fn attention(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        heads: usize,
        scale: f32,
        causal: bool,
    ) -> Result<Tensor, ModelError> {
        Ok(attention::attention(
            self.ctx, q, k, v, heads, scale, causal,
        )?)
    }

    fn attention_maps(
        &self,
        q: &Tensor,
        k: &Tensor,
        heads: usize,
        scale: f32,
        item: usize,
    ) -> Result<Tensor, ModelError> {
        Ok(roentgen_gpu::ops::attention_maps::attention_maps(
            self.ctx, q, k, heads, scale, item,
        )?)
    }

    fn unary(&self, op: Unary, x: &Tensor) -> Result<Tensor, ModelError> {
        Ok(elementwise::unary(self.ctx, op, x)?)
    }

    fn binary(&self, op: Binary, a: &Tensor, b: &Tensor) -> Result<Tensor, ModelError> {
        Ok(elementwise::binary(self.ctx, op, a, b)?)
    }

    fn geglu(&self, x: &Tensor) -> Result<Tensor, ModelError> {
        Ok(elementwise::geglu(self.ctx, x)?)
    }

    fn add_channel_bias(&self, x: &Tensor, bias: &Tensor) -> Result<Tensor, ModelError> {
        Ok(elementwise::add_channel_bias(self.ctx, x, bias)?)
    }

    fn upsample_nearest2x(&self, x: &Tensor) -> Result<Tensor, ModelError> {
        Ok(upsample::upsample_nearest2x(self.ctx, x)?)
    }

    fn concat_channels(&self, a: &Tensor, b: &Tensor) -> Result<Tensor, ModelError> {
        Ok(concat::concat_channels(self.ctx, a, b)?)
    }

    fn transpose(&self, x: &Tensor) -> Result<Tensor, ModelError> {
        Ok(transpose::transpose(self.ctx, x)?)
    }

    fn timestep_embedding(
        &self,
        t: f32,
        rows: usize,
        cfg: TimestepConfig,
    ) -> Result<Tensor, ModelError> {
        Ok(timestep::timestep_embedding(
            self.ctx, t, rows, cfg, self.dtype,
        )?)
    }

    fn step(
        &self,
        eps: &Tensor,
        x: &Tensor,
        guidance: Option<f32>,
        update: Update<'_, Tensor>,
    ) -> Result<(Tensor, Tensor), ModelError> {
        let out = scheduler::step(self.ctx, eps, x, guidance, update)?;
        Ok((out.x, out.aux))
    }
}
