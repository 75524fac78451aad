//! A quick proof that the kernel library runs and is right on this adapter:
//! one small case per kernel family against its CPU reference, for f32
//! storage and for f16 storage (on whichever f16 path the device uses). The
//! page runs it on load, `roentgen adapter` prints it, and a native test holds
//! it on both f16 paths. In the browser this is what tests the kernels on
//! WebGPU's own shader compiler.

use crate::ops::conv2d::Conv2dShape;
use crate::ops::elementwise::{Binary, Unary};
use crate::ops::{attention, conv2d, elementwise, group_norm, matmul, scheduler};
use crate::{ComputePath, DType, GpuContext, GpuError, Tensor, reference};

/// One kernel run against its CPU reference.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KernelCheck {
    pub kernel: String,
    pub path: ComputePath,
    pub elements: usize,
    pub max_abs_err: f32,
    pub tolerance: f32,
    /// From the inputs' upload to the result's read-back, including the
    /// pipeline's compilation: on a software adapter that is most of it.
    pub seconds: f64,
}

impl KernelCheck {
    pub fn ok(&self) -> bool {
        self.max_abs_err <= self.tolerance
    }
}

/// Deterministic inputs in [-scale, scale) without a random-number crate.
fn inputs(n: usize, salt: u32, scale: f32) -> Vec<f32> {
    (0..n as u32)
        .map(|i| {
            let h = (i ^ salt.wrapping_mul(0x9E37_79B9))
                .wrapping_mul(2_654_435_761)
                .rotate_left(13);
            ((h % 8000) as f32 / 4000.0 - 1.0) * scale
        })
        .collect()
}

fn max_err(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return f32::INFINITY;
    }
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            if x.is_finite() {
                (x - y).abs()
            } else {
                f32::INFINITY
            }
        })
        .fold(0.0, f32::max)
}

struct Checker<'a> {
    ctx: &'a GpuContext,
    dtype: DType,
    salt: u32,
    clock: &'a dyn Fn() -> f64,
    started: f64,
}

impl Checker<'_> {
    /// Starts the clock of the next check.
    fn begin(&mut self) {
        self.started = (self.clock)();
    }

    /// Uploads fresh inputs and returns the tensor with the values it holds.
    fn input(
        &mut self,
        name: &str,
        shape: &[usize],
        scale: f32,
    ) -> Result<(Tensor, Vec<f32>), GpuError> {
        self.salt += 1;
        let v = self
            .dtype
            .round_trip(&inputs(shape.iter().product(), self.salt, scale));
        Ok((Tensor::from_f32(self.ctx, name, shape, &v, self.dtype)?, v))
    }

    async fn check(
        &self,
        kernel: &'static str,
        out: Tensor,
        want: Vec<f32>,
    ) -> Result<KernelCheck, GpuError> {
        let got = out.to_f32(self.ctx).await?;
        Ok(KernelCheck {
            kernel: kernel.into(),
            path: self.ctx.path_for(self.dtype),
            elements: want.len(),
            max_abs_err: max_err(&got, &want),
            // Outputs are O(1): f32 rounding, or one f16 rounding plus f16 inputs.
            tolerance: match self.dtype {
                DType::F32 => 1e-4,
                DType::F16 => 1e-2,
            },
            seconds: (self.clock)() - self.started,
        })
    }
}

impl Checker<'_> {
    /// silu(a + b): two elementwise kernels in a row.
    async fn elementwise(&mut self) -> Result<KernelCheck, GpuError> {
        self.begin();
        let ((a, av), (b, bv)) = (
            self.input("a", &[4099], 4.0)?,
            self.input("b", &[4099], 4.0)?,
        );
        let sum = elementwise::binary(self.ctx, Binary::Add, &a, &b)?;
        let want_sum =
            self.dtype
                .round_trip(&reference::elementwise::binary(Binary::Add, &av, &bv));
        let want = reference::elementwise::unary(Unary::Silu, &want_sum);
        self.check(
            "elementwise silu(a + b)",
            elementwise::unary(self.ctx, Unary::Silu, &sum)?,
            want,
        )
        .await
    }

    /// A linear layer: x . w^T + bias.
    async fn matmul(&mut self) -> Result<KernelCheck, GpuError> {
        self.begin();
        let ((x, xv), (w, wv), (bias, biasv)) = (
            self.input("x", &[33, 48], 1.0)?,
            self.input("w", &[30, 48], 0.3)?,
            self.input("bias", &[30], 1.0)?,
        );
        let want = reference::matmul::matmul(&xv, &wv, Some(&biasv), 1, 33, 48, 30, true, false);
        self.check(
            "matmul (linear)",
            matmul::matmul(self.ctx, &x, &w, Some(&bias), true)?,
            want,
        )
        .await
    }

    /// A padded 3x3 convolution with bias.
    async fn conv2d(&mut self) -> Result<KernelCheck, GpuError> {
        self.begin();
        let s = Conv2dShape {
            batch: 1,
            cin: 4,
            h: 6,
            w: 6,
            cout: 6,
            kh: 3,
            kw: 3,
            stride: 1,
            pad: 1.into(),
        };
        let ((x, xv), (w, wv), (bias, biasv)) = (
            self.input("x", &[1, 4, 6, 6], 1.0)?,
            self.input("w", &[6, 4, 3, 3], 0.3)?,
            self.input("bias", &[6], 1.0)?,
        );
        let want = reference::conv2d::conv2d(&xv, &wv, Some(&biasv), s);
        self.check(
            "conv2d 3x3",
            conv2d::conv2d(self.ctx, &x, &w, Some(&bias), 1, 1)?,
            want,
        )
        .await
    }

    /// Group norm with the SiLU after it.
    async fn group_norm(&mut self) -> Result<KernelCheck, GpuError> {
        self.begin();
        let ((x, xv), (g, gv), (b, bv)) = (
            self.input("x", &[1, 32, 4, 4], 2.0)?,
            self.input("gamma", &[32], 1.0)?,
            self.input("beta", &[32], 1.0)?,
        );
        let want = reference::norms::group_norm(&xv, &gv, &bv, 32, 16, 8, 1e-5, true);
        self.check(
            "group_norm + SiLU",
            group_norm::group_norm(self.ctx, &x, &g, &b, 8, 1e-5, true)?,
            want,
        )
        .await
    }

    /// Causal attention over two heads.
    async fn attention(&mut self) -> Result<KernelCheck, GpuError> {
        self.begin();
        let ((q, qv), (k, kv), (v, vv)) = (
            self.input("q", &[1, 40, 32], 1.0)?,
            self.input("k", &[1, 40, 32], 1.0)?,
            self.input("v", &[1, 40, 32], 1.0)?,
        );
        let want = reference::attention::attention(&qv, &kv, &vv, 1, 40, 40, 2, 16, 0.25, true);
        self.check(
            "attention (causal)",
            attention::attention(self.ctx, &q, &k, &v, 2, 0.25, true)?,
            want,
        )
        .await
    }

    /// One DDIM step with classifier-free guidance.
    async fn scheduler(&mut self) -> Result<KernelCheck, GpuError> {
        self.begin();
        let ((eps, ev), (x, xv)) = (
            self.input("eps", &[2, 4, 4, 4], 1.0)?,
            self.input("x", &[1, 4, 4, 4], 1.0)?,
        );
        let guided = reference::scheduler::guided(&ev, Some(4.0));
        let want = reference::scheduler::combine(&[(&xv, 0.98), (&guided, -0.1)]);
        let step = scheduler::step(
            self.ctx,
            &eps,
            &x,
            Some(4.0),
            scheduler::Update::Ddim { c0: 0.98, c1: -0.1 },
        )?;
        self.check("scheduler (CFG + DDIM)", step.x, want).await
    }
}

/// Runs every check on each of `dtypes` in turn; `clock` gives seconds
/// (any origin), for each check's time.
pub async fn run(
    ctx: &GpuContext,
    dtypes: &[DType],
    clock: &dyn Fn() -> f64,
) -> Result<Vec<KernelCheck>, GpuError> {
    let mut out = Vec::new();
    for &dtype in dtypes {
        let mut c = Checker {
            ctx,
            dtype,
            salt: 0,
            clock,
            started: 0.0,
        };
        out.push(c.elementwise().await?);
        out.push(c.matmul().await?);
        out.push(c.conv2d().await?);
        out.push(c.group_norm().await?);
        out.push(c.attention().await?);
        out.push(c.scheduler().await?);
    }
    Ok(out)
}
