//! Times one case through burn-wgpu (the families burn has: matmul, conv2d,
//! group norm from tensor ops, attention).

use anyhow::Result;
use burn::tensor::Tensor;
use burn::tensor::activation::silu;
use roentgen_burn_peer::BurnPeer;
use roentgen_gpu::DType;

use super::ours::values;
use super::{Op, time_ms};

/// Times `run` like our kernels, then reads one more result back: burn runs
/// lazily, so a failure (its attention holds the whole score matrix, 1 GiB
/// at 4096 tokens, more than lavapipe will allocate) shows only there, and a
/// time without that check could be the time of doing nothing.
fn timed<const D: usize>(
    peer: &BurnPeer,
    iters: usize,
    mut run: impl FnMut() -> Tensor<D>,
) -> Result<Option<f64>> {
    let ms = time_ms(iters, || Ok::<_, anyhow::Error>(run()), || peer.sync())?;
    match BurnPeer::try_read(run()) {
        Ok(_) => Ok(Some(ms)),
        Err(e) => {
            let first = e.lines().next().unwrap_or_default().to_string();
            eprintln!("# burn-wgpu failed on this case, so no burn time: {first}");
            Ok(None)
        }
    }
}

pub fn time(op: &Op, dtype: DType, iters: usize) -> Result<Option<f64>> {
    let peer = BurnPeer::new(match dtype {
        DType::F32 => burn::tensor::DType::F32,
        DType::F16 => burn::tensor::DType::F16,
    });
    macro_rules! t {
        ($($d:expr),+) => {{
            let shape = [$($d),+];
            peer.tensor(&values(shape.iter().product(), 1.0), shape)
        }};
    }
    match *op {
        Op::Linear { m, k, n } => {
            let (x, w, b) = (t!(m, k), t!(n, k), t!(n));
            timed(&peer, iters, || {
                BurnPeer::linear(x.clone(), w.clone(), b.clone())
            })
        }
        Op::Conv { s } => {
            let (x, w, b) = (
                t!(s.batch, s.cin, s.h, s.w),
                t!(s.cout, s.cin, s.kh, s.kw),
                t!(s.cout),
            );
            timed(&peer, iters, || {
                BurnPeer::conv2d(x.clone(), w.clone(), b.clone(), s.stride, s.pad.begin)
            })
        }
        Op::GroupNorm {
            n,
            c,
            hw,
            eps,
            silu: with_silu,
        } => {
            let (x, g, b) = (t!(n, c, hw), t!(c), t!(c));
            timed(&peer, iters, || {
                let y = BurnPeer::group_norm(x.clone(), g.clone(), b.clone(), 32, eps as f64);
                if with_silu { silu(y) } else { y }
            })
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
            timed(&peer, iters, || {
                BurnPeer::attention(q.clone(), k.clone(), v.clone(), causal)
            })
        }
        Op::Silu { .. } | Op::Geglu { .. } | Op::SchedulerStep { .. } => Ok(None),
    }
}
