//! burn-wgpu running the same operations as our kernels, on the same kind of
//! adapter: an implementation we did not write, to cross-check results and to
//! benchmark against. Native only, never in the page (it would add ~7 MB).

use burn::tensor::ops::{AttentionModuleOptions, ConvOptions};
use burn::tensor::{DType, Device, Tensor, TensorData, activation, module};

/// burn's default wgpu device (the best adapter, as ours picks) and the float
/// type its tensors are created in.
pub struct BurnPeer {
    pub device: Device,
    pub dtype: DType,
}

impl Default for BurnPeer {
    fn default() -> Self {
        Self::new(DType::F32)
    }
}

impl BurnPeer {
    pub fn new(dtype: DType) -> Self {
        Self {
            device: Device::default(),
            dtype,
        }
    }

    pub fn tensor<const D: usize>(&self, data: &[f32], shape: [usize; D]) -> Tensor<D> {
        Tensor::from_data(
            TensorData::new(data.to_vec(), shape),
            (&self.device, self.dtype),
        )
    }

    pub fn read<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        Self::try_read(t).expect("burn result")
    }

    /// `read`, or burn's error: burn runs lazily, so work that failed (an
    /// allocation over the adapter's limits) shows only when its result is read.
    pub fn try_read<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, String> {
        t.try_into_data()
            .map_err(|e| format!("{e:?}"))?
            .convert::<f32>()
            .try_to_vec::<f32>()
            .map_err(|e| format!("{e:?}"))
    }

    /// Waits for every queued operation: what a benchmark times.
    pub fn sync(&self) {
        self.device.sync().expect("burn device sync");
    }

    /// `torch.nn.functional.gelu(x)` (erf form).
    pub fn gelu(&self, x: &[f32]) -> Vec<f32> {
        Self::read(activation::gelu(self.tensor(x, [x.len()])))
    }

    /// `F.linear(x, w, b)`: x [m, k], w [n, k], b [n].
    pub fn linear(x: Tensor<2>, w: Tensor<2>, b: Tensor<1>) -> Tensor<2> {
        x.matmul(w.transpose()) + b.unsqueeze::<2>()
    }

    /// `F.conv2d(x, w, b, stride, padding)` for NCHW tensors.
    pub fn conv2d(
        x: Tensor<4>,
        w: Tensor<4>,
        b: Tensor<1>,
        stride: usize,
        pad: usize,
    ) -> Tensor<4> {
        module::conv2d(
            x,
            w,
            Some(b),
            ConvOptions::new([stride, stride], [pad, pad], [1, 1], 1),
        )
    }

    /// `GroupNorm(groups, C, eps)` from burn's tensor ops, for x [N, C, HW].
    pub fn group_norm(
        x: Tensor<3>,
        gamma: Tensor<1>,
        beta: Tensor<1>,
        groups: usize,
        eps: f64,
    ) -> Tensor<3> {
        let [n, c, hw] = x.dims();
        let g = x.reshape([n, groups, (c / groups) * hw]);
        let mean = g.clone().mean_dim(2);
        let centered = g - mean;
        let var = centered.clone().square().mean_dim(2);
        let normed = (centered / (var + eps).sqrt()).reshape([n, c, hw]);
        normed * gamma.reshape([1, c, 1]) + beta.reshape([1, c, 1])
    }

    /// Scaled dot-product attention on [B, H, L, d] tensors.
    pub fn attention(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, causal: bool) -> Tensor<4> {
        let options = AttentionModuleOptions {
            is_causal: causal,
            ..Default::default()
        };
        module::attention(q, k, v, None, None, options)
    }
}
