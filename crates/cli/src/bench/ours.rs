//! Times one case on our kernels.

use anyhow::Result;
use roentgen_gpu::ops::{attention, conv2d, elementwise, group_norm, matmul, scheduler};
use roentgen_gpu::{DType, GpuContext, Tensor};

use super::{Op, time_ms};

/// Deterministic values in [-scale, scale): benchmarks need no statistics.
pub fn values(n: usize, scale: f32) -> Vec<f32> {
    (0..n as u64)
        .map(|i| {
            let h = (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as f32 / (1u64 << 24) as f32;
            (2.0 * h - 1.0) * scale
        })
        .collect()
}

pub fn time(ctx: &GpuContext, op: &Op, dtype: DType, iters: usize) -> Result<f64> {
    let sync = || {
        ctx.wait();
    };
    let t = |name: &str, shape: &[usize]| -> Result<Tensor> {
        let n = shape.iter().product();
        Ok(Tensor::from_f32(ctx, name, shape, &values(n, 1.0), dtype)?)
    };
    match *op {
        Op::Linear { m, k, n } => {
            let (x, w, b) = (t("x", &[m, k])?, t("w", &[n, k])?, t("b", &[n])?);
            time_ms(iters, || matmul::matmul(ctx, &x, &w, Some(&b), true), sync)
        }
        Op::Conv { s } => {
            let x = t("x", &[s.batch, s.cin, s.h, s.w])?;
            let w = t("w", &[s.cout, s.cin, s.kh, s.kw])?;
            let b = t("b", &[s.cout])?;
            time_ms(
                iters,
                || conv2d::conv2d(ctx, &x, &w, Some(&b), s.stride, s.pad),
                sync,
            )
        }
        Op::GroupNorm {
            n,
            c,
            hw,
            eps,
            silu,
        } => {
            let (x, g, b) = (t("x", &[n, c, hw])?, t("gamma", &[c])?, t("beta", &[c])?);
            time_ms(
                iters,
                || group_norm::group_norm(ctx, &x, &g, &b, 32, eps, silu),
                sync,
            )
        }
        Op::Attention {
            b,
            lq,
            lk,
            heads,
            d,
            causal,
        } => {
            let (q, k, v) = (
                t("q", &[b, lq, heads * d])?,
                t("k", &[b, lk, heads * d])?,
                t("v", &[b, lk, heads * d])?,
            );
            let scale = 1.0 / (d as f32).sqrt();
            time_ms(
                iters,
                || attention::attention(ctx, &q, &k, &v, heads, scale, causal),
                sync,
            )
        }
        Op::Silu { n } => {
            let x = t("x", &[n])?;
            time_ms(
                iters,
                || elementwise::unary(ctx, elementwise::Unary::Silu, &x),
                sync,
            )
        }
        Op::Geglu { rows, f } => {
            let x = t("x", &[rows, 2 * f])?;
            time_ms(iters, || elementwise::geglu(ctx, &x), sync)
        }
        Op::SchedulerStep { n } => {
            let (eps, x) = (t("eps", &[2 * n])?, t("x", &[n])?);
            let h: Vec<Tensor> = (0..3).map(|_| t("h", &[n])).collect::<Result<_>>()?;
            let update = scheduler::Update::Pndm {
                c0: 0.99,
                c1: -0.05,
                w: [55.0 / 24.0, -59.0 / 24.0, 37.0 / 24.0, -9.0 / 24.0],
                history: [&h[0], &h[1], &h[2]],
            };
            time_ms(
                iters,
                || scheduler::step(ctx, &eps, &x, Some(4.0), update),
                sync,
            )
        }
    }
}
