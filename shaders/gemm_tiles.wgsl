// Shared GEMM tile engine, included (textually) by matmul.wgsl and conv2d.wgsl.
//
// C[BM x BN tile] = sum over K of A[row, k] * B[k, col]. The including file
// supplies the tile fills: `load_a_4x2(batch, row, k, m, K)` (rows row..row+3
// at k and k+1) and `load_b_2x4(batch, k, col, n, K)` (columns col..col+3 at
// k and k+1), zero outside the matrices: plain matrices, or implicit im2col.
//
// The classic SGEMM shape: 256 invocations (16 x 16), each owning an 8 x 8
// block of a 128 x 128 tile in sixteen vec4 registers. Per step of k an
// invocation reads four vec4 (8 rows of A, 8 columns of B) and does 64
// multiply-adds. Tiles are staged in workgroup memory as vec4 of four rows
// (A, transposed) or four columns (B), so every read is a whole vec4: GPUs
// issue one 128-bit load, and lavapipe (Mesa 22), which turns every
// storage or workgroup load into a loop over the SIMD lanes, pays its
// per-lane loop once per vec4 rather than once per scalar. The large tile
// halves the fill loads per multiply-add of a 64 x 64 tile. On lavapipe,
// 64 x 64 tiles with scalar reads ran at about half of burn-wgpu's speed;
// this shape is at or above it (`roentgen bench kernels --quick`).
// Workgroup memory: 2 * 16 * 128 * sizeof(CT) = 16 KiB (f32) or 8 KiB (f16),
// WebGPU's default limit. Everything per invocation is a named vector, never
// a dynamically indexed array (GPUs would spill it to slow memory).

const BM: u32 = 128u;
const BN: u32 = 128u;
const BK: u32 = 16u;
const GEMM_THREADS: u32 = 256u;
const BM4: u32 = 32u; // BM / 4
const BN4: u32 = 32u; // BN / 4

var<workgroup> a_tile: array<vec4<CT>, 512>; // [BK][BM / 4]: four rows at one k
var<workgroup> b_tile: array<vec4<CT>, 512>; // [BK][BN / 4]: four columns at one k

/// Two values of k (`k0`, `k1`) for four rows or four columns.
struct Quad2 {
    k0: vec4<f32>,
    k1: vec4<f32>,
}

/// Rows row0 + ty*8 + i (i = 0..7) of the invocation's 8 x 8 block; `a` holds
/// columns col0 + tx*8 + (0..3), `b` columns + (4..7); see block_tx/block_ty.
struct Block {
    r0a: vec4<f32>,
    r0b: vec4<f32>,
    r1a: vec4<f32>,
    r1b: vec4<f32>,
    r2a: vec4<f32>,
    r2b: vec4<f32>,
    r3a: vec4<f32>,
    r3b: vec4<f32>,
    r4a: vec4<f32>,
    r4b: vec4<f32>,
    r5a: vec4<f32>,
    r5b: vec4<f32>,
    r6a: vec4<f32>,
    r6b: vec4<f32>,
    r7a: vec4<f32>,
    r7b: vec4<f32>,
}

/// One row of a block: columns 0..3 and 4..7.
struct Row {
    lo: vec4<f32>,
    hi: vec4<f32>,
}

/// Consecutive invocations (two SIMD groups on lavapipe, half a warp on
/// GPUs) share a column block and take successive row blocks, so when a
/// tile sticks out past N (the UNet's smallest level) whole groups find
/// nothing to do and skip the multiply-adds.
fn block_tx(lid: u32) -> u32 { return lid / 16u; }
fn block_ty(lid: u32) -> u32 { return lid % 16u; }

fn gemm_accumulate(batch: u32, row0: u32, col0: u32, lid: u32, m: u32, n: u32, k: u32) -> Block {
    var acc: Block;
    let tx = block_tx(lid);
    let ty = block_ty(lid);
    let busy = row0 + ty * 8u < m && col0 + tx * 8u < n;
    for (var k0 = 0u; k0 < k; k0 += BK) {
        // A: one unit of 4 rows x 2 k per invocation; consecutive
        // invocations take consecutive k (contiguous in a row-major A).
        {
            let ak = (lid % 8u) * 2u;
            let r4 = lid / 8u;
            let q = load_a_4x2(batch, row0 + r4 * 4u, k0 + ak, m, k);
            a_tile[ak * BM4 + r4] = vec4<CT>(q.k0);
            a_tile[(ak + 1u) * BM4 + r4] = vec4<CT>(q.k1);
        }
        // B: one unit of 2 k x 4 columns per invocation; consecutive
        // invocations take consecutive columns.
        {
            let c4 = lid % BN4;
            let bk = (lid / BN4) * 2u;
            let q = load_b_2x4(batch, k0 + bk, col0 + c4 * 4u, n, k);
            b_tile[bk * BN4 + c4] = vec4<CT>(q.k0);
            b_tile[(bk + 1u) * BN4 + c4] = vec4<CT>(q.k1);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < select(0u, BK, busy); kk++) {
            let alo = vec4<f32>(a_tile[kk * BM4 + ty * 2u]);
            let ahi = vec4<f32>(a_tile[kk * BM4 + ty * 2u + 1u]);
            let blo = vec4<f32>(b_tile[kk * BN4 + tx * 2u]);
            let bhi = vec4<f32>(b_tile[kk * BN4 + tx * 2u + 1u]);
            acc.r0a = fma(vec4<f32>(alo.x), blo, acc.r0a);
            acc.r0b = fma(vec4<f32>(alo.x), bhi, acc.r0b);
            acc.r1a = fma(vec4<f32>(alo.y), blo, acc.r1a);
            acc.r1b = fma(vec4<f32>(alo.y), bhi, acc.r1b);
            acc.r2a = fma(vec4<f32>(alo.z), blo, acc.r2a);
            acc.r2b = fma(vec4<f32>(alo.z), bhi, acc.r2b);
            acc.r3a = fma(vec4<f32>(alo.w), blo, acc.r3a);
            acc.r3b = fma(vec4<f32>(alo.w), bhi, acc.r3b);
            acc.r4a = fma(vec4<f32>(ahi.x), blo, acc.r4a);
            acc.r4b = fma(vec4<f32>(ahi.x), bhi, acc.r4b);
            acc.r5a = fma(vec4<f32>(ahi.y), blo, acc.r5a);
            acc.r5b = fma(vec4<f32>(ahi.y), bhi, acc.r5b);
            acc.r6a = fma(vec4<f32>(ahi.z), blo, acc.r6a);
            acc.r6b = fma(vec4<f32>(ahi.z), bhi, acc.r6b);
            acc.r7a = fma(vec4<f32>(ahi.w), blo, acc.r7a);
            acc.r7b = fma(vec4<f32>(ahi.w), bhi, acc.r7b);
        }
        workgroupBarrier();
    }
    return acc;
}

/// Row i (0..7) of a block, for the epilogue.
fn block_row(b: Block, i: u32) -> Row {
    switch (i) {
        case 0u: { return Row(b.r0a, b.r0b); }
        case 1u: { return Row(b.r1a, b.r1b); }
        case 2u: { return Row(b.r2a, b.r2b); }
        case 3u: { return Row(b.r3a, b.r3b); }
        case 4u: { return Row(b.r4a, b.r4b); }
        case 5u: { return Row(b.r5a, b.r5b); }
        case 6u: { return Row(b.r6a, b.r6b); }
        default: { return Row(b.r7a, b.r7b); }
    }
}

/// Columns j, j + 1 (j even, 0..6) of a block row.
fn row_pair(r: Row, j: u32) -> vec2<f32> {
    switch (j) {
        case 0u: { return r.lo.xy; }
        case 2u: { return r.lo.zw; }
        case 4u: { return r.hi.xy; }
        default: { return r.hi.zw; }
    }
}
