//! Naive f32 CPU twins of every GPU op: the tests' ground truth, written for
//! obviousness, never for speed (sums in f64).

pub mod attention;
pub mod conv2d;
pub mod elementwise;
pub mod image;
pub mod layout;
pub mod matmul;
pub mod norms;
pub mod scheduler;
pub mod timestep;
