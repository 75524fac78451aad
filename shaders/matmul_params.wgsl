// Uniform Params of the linear-algebra kernels (matmul.wgsl, matmul_coop.wgsl);
// mirrored by roentgen_gpu::ops::matmul::MatmulParams.

struct Params {
    m: u32,
    n: u32,
    k: u32,
    batch: u32,
    a_batch_stride: u32,
    b_batch_stride: u32,
    c_batch_stride: u32,
    trans_b: u32,
    has_bias: u32,
    has_residual: u32,
    // First output row of this dispatch (a multiple of the tile): a large
    // product runs as several dispatches of whole row tiles (matmul.wgsl;
    // the cooperative kernel runs whole and ignores it).
    m0: u32,
    _pad2: u32,
}
