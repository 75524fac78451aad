//! Times one case through burn-wgpu (the families burn has: matmul, conv2d,
//! group norm from tensor ops, attention).

use anyhow::Result;
use burn::tensor::activation::silu;
use roentgen_burn_peer::BurnPeer;
use roentgen_gpu::DType;

use super::ours::values;
use super::{Op, time_ms};

/// burn ops are infallible; `time_ms` wants a Result.
fn ok<T>(t: T) -> Result<T> {
    Ok(t)
}

pub fn time(op: &Op, dtype: DType, iters: usize) -> Result<Option<f64>> {
    let peer = BurnPeer::new(match dtype {
        DType::F32 => burn::tensor::DType::F32,
        DType::F16 => burn::tensor::DType::F16,
    });
    let sync = || peer.sync();
    macro_rules! t {
        ($($d:expr),+) => {{
            let shape = [$($d),+];
            peer.tensor(&values(shape.iter().product(), 1.0), shape)
        }};
    }
    let ms = match *op {
        Op::Linear { m, k, n } => {
            let (x, w, b) = (t!(m, k), t!(n, k), t!(n));
            time_ms(
                iters,
                || ok(BurnPeer::linear(x.clone(), w.clone(), b.clone())),
                sync,
            )?
        }
        Op::Conv { s } => {
            let (x, w, b) = (
                t!(s.batch, s.cin, s.h, s.w),
                t!(s.cout, s.cin, s.kh, s.kw),
                t!(s.cout),
            );
            time_ms(
                iters,
                || {
                    ok(BurnPeer::conv2d(
                        x.clone(),
                        w.clone(),
                        b.clone(),
                        s.stride,
                        s.pad,
                    ))
                },
                sync,
            )?
        }
        Op::GroupNorm {
            n,
            c,
            hw,
            eps,
            silu: with_silu,
        } => {
            let (x, g, b) = (t!(n, c, hw), t!(c), t!(c));
            let run = || {
                let y = BurnPeer::group_norm(x.clone(), g.clone(), b.clone(), 32, eps as f64);
                ok(if with_silu { silu(y) } else { y })
            };
            time_ms(iters, run, sync)?
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
                t!(b, heads, lq, d),
                t!(b, heads, lk, d),
                t!(b, heads, lk, d),
            );
            time_ms(
                iters,
                || ok(BurnPeer::attention(q.clone(), k.clone(), v.clone(), causal)),
                sync,
            )?
        }
        Op::Silu { .. } | Op::Geglu { .. } | Op::SchedulerStep { .. } => return Ok(None),
    };
    Ok(Some(ms))
}
