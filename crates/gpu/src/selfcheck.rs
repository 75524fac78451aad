//! A quick proof that kernels run and are right on this adapter: the page
//! shows it on load, `roentgen adapter` prints it.

use crate::ops::elementwise::{self, Binary, Unary};
use crate::{ComputePath, DType, GpuContext, GpuError, Tensor, reference};

/// One kernel run against its CPU reference.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelCheck {
    pub kernel: &'static str,
    pub path: ComputePath,
    pub elements: usize,
    pub max_abs_err: f32,
    pub tolerance: f32,
}

impl KernelCheck {
    pub fn ok(&self) -> bool {
        self.max_abs_err <= self.tolerance
    }
}

/// Deterministic inputs in [-4, 4) without a random-number crate.
fn inputs(n: usize, salt: u32) -> Vec<f32> {
    (0..n as u32)
        .map(|i| {
            let h = (i ^ salt).wrapping_mul(2_654_435_761).rotate_left(13);
            (h % 8000) as f32 / 1000.0 - 4.0
        })
        .collect()
}

fn round_f16(v: &[f32]) -> Vec<f32> {
    v.iter().map(|&x| half::f16::from_f32(x).to_f32()).collect()
}

fn max_err(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            if x.is_nan() {
                f32::INFINITY
            } else {
                (x - y).abs()
            }
        })
        .fold(0.0, f32::max)
}

/// Runs `silu(a + b)` through the elementwise kernels for f32 storage and for
/// f16 storage (on whichever f16 path this device uses).
pub async fn run(ctx: &GpuContext) -> Result<Vec<KernelCheck>, GpuError> {
    const N: usize = 4099;
    let (a, b) = (inputs(N, 0x51), inputs(N, 0xA7));
    let mut out = Vec::new();
    for dtype in [DType::F32, DType::F16] {
        let ta = Tensor::from_f32(ctx, "selfcheck.a", &[N], &a, dtype)?;
        let tb = Tensor::from_f32(ctx, "selfcheck.b", &[N], &b, dtype)?;
        let sum = elementwise::binary(ctx, Binary::Add, &ta, &tb)?;
        let got = elementwise::unary(ctx, Unary::Silu, &sum)?
            .to_f32(ctx)
            .await?;
        let (want, tolerance) = match dtype {
            DType::F32 => {
                let s = reference::elementwise::binary(Binary::Add, &a, &b);
                (reference::elementwise::unary(Unary::Silu, &s), 1e-4)
            }
            DType::F16 => {
                let s = round_f16(&reference::elementwise::binary(
                    Binary::Add,
                    &round_f16(&a),
                    &round_f16(&b),
                ));
                (reference::elementwise::unary(Unary::Silu, &s), 1e-2)
            }
        };
        out.push(KernelCheck {
            kernel: "elementwise: silu(a + b)",
            path: ctx.path_for(dtype),
            elements: N,
            max_abs_err: max_err(&got, &want),
            tolerance,
        });
    }
    Ok(out)
}
