//! Flash-style multi-head attention (`shaders/attention.wgsl`).

use bytemuck::{Pod, Zeroable};

use super::{divisible, mismatch, same_dtype};
use crate::kernel::{Access, KernelSpec};
use crate::shaders::ATTENTION;
use crate::{GpuContext, GpuError, Tensor};

/// Mirrors `Params` in `shaders/attention.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct AttentionParams {
    pub lq: u32,
    pub lk: u32,
    pub d: u32,
    pub causal: u32,
    pub q_stride: u32,
    pub k_stride: u32,
    pub v_stride: u32,
    pub o_stride: u32,
    pub tpr: u32,
    pub scale: f32,
    pub rows: u32,
    pub keys: u32,
    pub row0: u32,
}

pub const PARAMS_LAYOUT: crate::kernel::ParamsLayout = crate::params_layout!(
    AttentionParams; lq, lk, d, causal, q_stride, k_stride, v_stride, o_stride, tpr, scale, rows, keys, row0
);

const SPEC: KernelSpec = KernelSpec {
    file: ATTENTION,
    entry: "attention",
    storage: &[Access::Read, Access::Read, Access::Read, Access::ReadWrite],
};

/// Invocations per workgroup, query rows one workgroup may own (the size of
/// the shader's per-row arrays), and output rows and columns one invocation
/// holds (THREADS and 8 x 16 in the shader).
const THREADS: usize = 256;
const MAX_ROWS: usize = 128;
const ROWS: usize = 8;
pub const COLS: usize = 16;
/// Scores one key block holds (SCORES in the shader: 12 KiB), and the most
/// keys per block. More scores per block means fewer barriers per score
/// (3,072 ran d 40 about 9% faster than 2,048 on lavapipe); the key cap
/// bounds blocks of few rows, whose softmax pass (one invocation per four
/// rows) walks the keys one by one.
const SCORES: usize = 3072;
const MAX_KEYS: usize = 64;

/// Invocations sharing one query row: one per 16 columns of the head.
pub fn threads_per_row(d: usize) -> Option<usize> {
    Some(d.div_ceil(COLS)).filter(|&t| t <= 64)
}

/// Query rows per workgroup for a head size.
pub fn rows_per_workgroup(tpr: usize) -> usize {
    MAX_ROWS.min(ROWS * (THREADS / tpr))
}

/// Query rows and keys per block for `lq` queries over `lk` keys: no more
/// rows than there are queries (64 tokens at 128 rows computed half the
/// block for nothing), and of the key counts the score block then holds
/// (multiples of 8) the largest that pads the keys by at most an eighth:
/// 77 text tokens take 2 blocks of 40, not 2 of 64.
pub fn block(tpr: usize, lq: usize, lk: usize) -> (usize, usize) {
    let rows = rows_per_workgroup(tpr).min(lq.max(1).next_multiple_of(ROWS));
    let most = (SCORES / rows).min(MAX_KEYS) / ROWS;
    let keys = (1..=most)
        .rev()
        .map(|k| k * ROWS)
        .find(|&k| lk.next_multiple_of(k) - lk <= lk / 8)
        .unwrap_or(ROWS);
    (rows, keys)
}

/// `softmax(scale * q k^T [causal]) v` per head, for `q` [B, Lq, H*d] and `k`,
/// `v` [B, Lk, H*d] with `heads` heads interleaved as diffusers' projections
/// lay them out. Output [B, Lq, H*d]. `scale` is usually 1/sqrt(d).
pub fn attention(
    ctx: &GpuContext,
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    heads: usize,
    scale: f32,
    causal: bool,
) -> Result<Tensor, GpuError> {
    const OP: &str = "attention";
    let dims = |t: &Tensor| -> Result<[usize; 3], GpuError> {
        <[usize; 3]>::try_from(t.shape.as_slice())
            .map_err(|_| mismatch(OP, "[B, L, H*d]", format!("{} {:?}", t.name, t.shape)))
    };
    let ([b, lq, inner], [kb, lk, k_inner], [vb, vl, v_inner]) = (dims(q)?, dims(k)?, dims(v)?);
    if heads == 0 || inner % heads != 0 {
        return Err(mismatch(
            OP,
            format!("H*d divisible by {heads} heads"),
            inner.to_string(),
        ));
    }
    if (kb, k_inner) != (b, inner) || (vb, vl, v_inner) != (b, lk, inner) {
        return Err(mismatch(
            OP,
            format!("k, v [{b}, Lk, {inner}]"),
            format!("{:?} {:?}", k.shape, v.shape),
        ));
    }
    if lk == 0 {
        return Err(mismatch(OP, "at least one key", "0"));
    }
    let d = inner / heads;
    divisible(OP, "head size", d, 4)?;
    same_dtype(OP, q, &[k, v])?;
    let tpr = threads_per_row(d).ok_or(GpuError::DeviceLimit {
        what: "attention head size",
        requested: d as u64,
        max: (64 * COLS) as u64,
    })?;
    let out = Tensor::output(ctx, &format!("attention({})", q.name), &q.shape, q.dtype)?;
    let (bq, bk) = block(tpr, lq, lk);
    let params = AttentionParams {
        lq: lq as u32,
        lk: lk as u32,
        d: d as u32,
        causal: causal as u32,
        q_stride: inner as u32,
        k_stride: inner as u32,
        v_stride: inner as u32,
        o_stride: inner as u32,
        tpr: tpr as u32,
        scale,
        rows: bq as u32,
        keys: bk as u32,
        row0: 0,
    };
    // Scores and their weighted sum: two multiply-adds per key and channel
    // for each query row, of every head and batch item. Long attention (a
    // 512x512 image's first level, the VAE's middle) runs as several
    // dispatches of whole row blocks.
    let per_row = 4 * (lk * inner * b) as u64;
    for rows in super::work_runs(ctx, lq, bq, per_row) {
        ctx.dispatch_work(
            &SPEC,
            ctx.path_for(q.dtype),
            &AttentionParams {
                row0: rows.start as u32,
                ..params
            },
            &[&q.buffer, &k.buffer, &v.buffer, &out.buffer],
            [rows.len().div_ceil(bq) as u32, heads as u32, b as u32],
            per_row * rows.len() as u64,
        )?;
    }
    Ok(out)
}
