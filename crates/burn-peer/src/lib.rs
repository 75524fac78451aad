//! burn-wgpu running the same operations as our kernels, on the same kind of
//! adapter: an implementation we did not write, to cross-check results and to
//! benchmark against. Native only, never in the page (it would add ~7 MB).

use burn::tensor::{Device, Tensor, TensorData, activation};

/// burn's default wgpu device (the best adapter, as ours picks).
pub struct BurnPeer {
    pub device: Device,
}

impl Default for BurnPeer {
    fn default() -> Self {
        Self {
            device: Device::default(),
        }
    }
}

impl BurnPeer {
    pub fn tensor<const D: usize>(&self, data: &[f32], shape: [usize; D]) -> Tensor<D> {
        Tensor::from_data(TensorData::new(data.to_vec(), shape), &self.device)
    }

    pub fn read<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().to_vec::<f32>().expect("f32 tensor")
    }

    /// `torch.nn.functional.gelu(x)` (erf form) through burn.
    pub fn gelu(&self, x: &[f32]) -> Vec<f32> {
        Self::read(activation::gelu(self.tensor(x, [x.len()])))
    }

    /// `a @ b` for row-major `a` [m, k] and `b` [k, n] through burn.
    pub fn matmul(&self, a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        Self::read(self.tensor(a, [m, k]).matmul(self.tensor(b, [k, n])))
    }
}
