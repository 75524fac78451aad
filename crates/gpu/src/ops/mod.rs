//! One module per kernel family; each op checks shapes, allocates its output
//! and dispatches the matching WGSL entry point.

pub mod attention;
pub mod attention_maps;
pub mod concat;
pub mod conv2d;
pub mod elementwise;
pub mod group_norm;
pub mod image;
pub mod layer_norm;
pub mod matmul;
pub mod scheduler;
pub mod timestep;
pub mod transpose;
pub mod upsample;

use std::ops::Range;

use crate::kernel::Binding;
use crate::{GpuError, Tensor};

pub(crate) fn mismatch(
    op: &'static str,
    expected: impl Into<String>,
    got: impl Into<String>,
) -> GpuError {
    GpuError::ShapeMismatch {
        op,
        expected: expected.into(),
        got: got.into(),
    }
}

/// Every tensor must share `first`'s storage type: kernels bind one prelude.
/// Refuses a q8 weight where an op reads plain storage (only matmul's B and
/// conv2d's weight dequantize int8).
pub(crate) fn plain(op: &'static str, tensors: &[&Tensor]) -> Result<(), GpuError> {
    match tensors.iter().find(|t| t.q8_scales.is_some()) {
        None => Ok(()),
        Some(t) => Err(mismatch(
            op,
            "plain f32/f16 storage (q8 only as a matmul or conv2d weight)".to_string(),
            format!("q8 {}", t.name),
        )),
    }
}

pub(crate) fn same_dtype(
    op: &'static str,
    first: &Tensor,
    others: &[&Tensor],
) -> Result<(), GpuError> {
    plain(op, &[first])?;
    plain(op, others)?;
    for t in others {
        if t.dtype != first.dtype {
            return Err(mismatch(
                op,
                format!("{:?} like {}", first.dtype, first.name),
                format!("{:?} {}", t.dtype, t.name),
            ));
        }
    }
    Ok(())
}

/// `v` must divide into the groups of `n` elements a kernel reads and
/// writes (pairs, or quads).
pub(crate) fn divisible(op: &'static str, what: &str, v: usize, n: usize) -> Result<(), GpuError> {
    if !v.is_multiple_of(n) {
        return Err(mismatch(
            op,
            format!("a {what} divisible by {n} (read and written {n} at a time)"),
            v.to_string(),
        ));
    }
    Ok(())
}

pub(crate) fn even(op: &'static str, what: &str, v: usize) -> Result<(), GpuError> {
    divisible(op, what, v, 2)
}

/// Splits `count` units (GEMM columns, query rows) of `flops_per_unit` each
/// into runs of whole `tile`s, each within the context's submission budget
/// (at least one tile a run): what keeps one large op from holding the GPU.
pub(crate) fn work_runs(
    ctx: &crate::GpuContext,
    count: usize,
    tile: usize,
    flops_per_unit: u64,
) -> Vec<Range<usize>> {
    let per_tile = flops_per_unit.saturating_mul(tile as u64).max(1);
    let step = ((ctx.submit_budget_flops / per_tile).max(1) as usize).saturating_mul(tile);
    (0..count.max(1))
        .step_by(step)
        .map(|s| s..(s + step).min(count))
        .collect()
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Splits `count` units (image planes, norm groups) into runs small enough
/// that binding i, which holds `unit_bytes[i]` per unit, stays within `max`
/// bytes, every run starting on a binding-offset boundary. `None` when even
/// the smallest such run is too large. One run when everything fits; else
/// run lengths are multiples of `multiple` too.
pub(crate) fn runs(
    count: usize,
    unit_bytes: &[u64],
    max: u64,
    multiple: u64,
) -> Option<Vec<Range<usize>>> {
    let align = crate::kernel::BINDING_OFFSET_ALIGNMENT;
    let quantum = unit_bytes
        .iter()
        .map(|&b| align / gcd(b, align))
        .fold(multiple.max(1), |q, u| q / gcd(q, u) * u);
    let fit = unit_bytes.iter().map(|&b| max / b.max(1)).min()?;
    let step = if fit >= count as u64 {
        count.max(1)
    } else {
        (fit / quantum * quantum) as usize
    };
    if step == 0 {
        return None;
    }
    Some(
        (0..count)
            .step_by(step)
            .map(|s| s..(s + step).min(count))
            .collect(),
    )
}

/// Units `r` of a tensor laid out as equal units of `unit_bytes`. The last
/// run takes the buffer's padding too (buffers hold whole quads), so a run
/// never ends inside the pair or quad a kernel reads.
pub(crate) fn slice<'a>(t: &'a Tensor, r: &Range<usize>, unit_bytes: u64) -> Binding<'a> {
    let offset = r.start as u64 * unit_bytes;
    let end = r.end as u64 * unit_bytes;
    let size = if t.buffer.size() - end < 16 {
        t.buffer.size() - offset
    } else {
        end - offset
    };
    Binding {
        buffer: &t.buffer,
        offset,
        size,
    }
}

/// The error for a tensor whose slices of `unit` bytes cannot be bound.
pub(crate) fn too_large(op: &str, t: &Tensor, unit: u64, max: u64) -> GpuError {
    GpuError::SliceTooLarge {
        op: op.to_string(),
        tensor: t.name.clone(),
        unit,
        max,
    }
}

/// The storage bindings of a GEMM kernel (matmul.wgsl and conv2d.wgsl share
/// one layout, `kernel::GEMM_BINDINGS`): input, weight, bias, output,
/// residual, per-(image, channel) bias, then a q8 weight's scales. A layout
/// wants every binding filled: what is absent holds the weight (read-only,
/// bound whole anyway, and never read: the Params flags say so).
pub(crate) fn gemm_bindings<'a>(
    input: Binding<'a>,
    weight: &'a Tensor,
    bias: Option<&'a Tensor>,
    output: Binding<'a>,
    residual: Option<Binding<'a>>,
    channel_bias: Option<&'a Tensor>,
) -> Vec<Binding<'a>> {
    let absent = Binding::from(&weight.buffer);
    let mut bindings = vec![
        input,
        absent,
        bias.map_or(absent, |t| (&t.buffer).into()),
        output,
        residual.unwrap_or(absent),
        channel_bias.map_or(absent, |t| (&t.buffer).into()),
    ];
    bindings.extend(weight.q8_scales.iter().map(Binding::from));
    bindings
}
