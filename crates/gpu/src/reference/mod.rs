//! Naive f32 CPU twins of every GPU op: the tests' ground truth, written for
//! obviousness, never for speed.

pub mod conv2d;
pub mod elementwise;
pub mod matmul;
