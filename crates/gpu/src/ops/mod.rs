//! One module per kernel family; each op checks shapes, allocates its output
//! and dispatches the matching WGSL entry point.

pub mod attention;
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
pub(crate) fn same_dtype(
    op: &'static str,
    first: &Tensor,
    others: &[&Tensor],
) -> Result<(), GpuError> {
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
