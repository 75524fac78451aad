//! One module per kernel family; each op checks shapes, allocates its output
//! and dispatches the matching WGSL entry point.

pub mod conv2d;
pub mod elementwise;
pub mod matmul;
