//! Cross-attention maps (`shaders/attention_maps.wgsl`): the softmax over the
//! prompt's tokens for every latent pixel, head-averaged, for the teaching
//! view's per-word overlays. A pass of its own beside the fused attention
//! (which never forms the probabilities): 77 keys, so about the cost of the
//! attention's score product and no more memory than the map itself.

use bytemuck::{Pod, Zeroable};

use super::{even, mismatch};
use crate::kernel::{Access, KernelSpec};
use crate::shaders::ATTENTION_MAPS;
use crate::{GpuContext, GpuError, Tensor};

/// Mirrors `Params` in `shaders/attention_maps.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct AttentionMapsParams {
    pub pairs: u32,
    pub n: u32,
    pub m: u32,
    pub heads: u32,
    pub d: u32,
    pub item: u32,
    pub scale: f32,
    pub _pad0: u32,
}

pub const PARAMS_LAYOUT: crate::kernel::ParamsLayout = crate::params_layout!(
    AttentionMapsParams; pairs, n, m, heads, d, item, scale, _pad0
);

/// Keys one invocation holds scores for (CLIP's 77 fit).
pub const MAX_KEYS: usize = 80;

const SPEC: KernelSpec = KernelSpec {
    file: ATTENTION_MAPS,
    entry: "attention_maps",
    storage: &[Access::Read, Access::Read, Access::ReadWrite],
};

/// For `q` [B, N, H*D] and `k` [B, M, H*D]: [M, N], row j the head-mean
/// probability of key j at every query of batch item `item`.
pub fn attention_maps(
    ctx: &GpuContext,
    q: &Tensor,
    k: &Tensor,
    heads: usize,
    scale: f32,
    item: usize,
) -> Result<Tensor, GpuError> {
    super::plain("attention_maps", &[q, k])?;
    let [b, n, inner] = <[usize; 3]>::try_from(q.shape.as_slice())
        .map_err(|_| mismatch("attention_maps", "q [B, N, H*D]", format!("{:?}", q.shape)))?;
    let [kb, m, kinner] = <[usize; 3]>::try_from(k.shape.as_slice())
        .map_err(|_| mismatch("attention_maps", "k [B, M, H*D]", format!("{:?}", k.shape)))?;
    if kb != b || kinner != inner || heads == 0 || !inner.is_multiple_of(heads) || item >= b {
        return Err(mismatch(
            "attention_maps",
            format!("k [{b}, M, {inner}], {inner} divisible by heads, item < {b}"),
            format!("k {:?}, {heads} heads, item {item}", k.shape),
        ));
    }
    if m == 0 || m > MAX_KEYS {
        return Err(mismatch(
            "attention_maps",
            format!("1..={MAX_KEYS} keys"),
            format!("{m}"),
        ));
    }
    even("attention_maps", "N (queries)", n)?;
    let out = Tensor::output(
        ctx,
        &format!("attention_maps({})", q.name),
        &[m, n],
        q.dtype,
    )?;
    let pairs = (n / 2) as u32;
    let params = AttentionMapsParams {
        pairs,
        n: n as u32,
        m: m as u32,
        heads: heads as u32,
        d: (inner / heads) as u32,
        item: item as u32,
        scale,
        _pad0: 0,
    };
    ctx.dispatch(
        &SPEC,
        ctx.path_for(q.dtype),
        &params,
        &[&q.buffer, &k.buffer, &out.buffer],
        pairs.div_ceil(256),
    )?;
    Ok(out)
}
