// Shared GEMM tile engine, included (textually) by matmul.wgsl and conv2d.wgsl.
//
// C[BM x BN tile] = sum over K of A[row, k] * B[k, col]. The including file
// supplies the tile fills: `load_a_4x2(batch, row, k, m, K)` (rows row..row+3
// at k and k+1) and `load_b_2x4(batch, k, col, n, K)` (columns col..col+3 at
// k and k+1), zero outside the matrices: plain matrices, or implicit im2col.
//
// 128 invocations (16 x 8), each owning an 8 x 16 block of a 128 x 128 tile
// in 32 vec4 registers (128 accumulators, as large SGEMM kernels keep). Per
// step of k an invocation reads six vec4 (8 rows of A, 16 columns of B) and
// does 128 multiply-adds. Tiles are staged in workgroup memory as vec4 of
// four rows (A, transposed) or four columns (B), so every read is a whole
// vec4: GPUs issue one 128-bit load, and lavapipe (Mesa 22), which turns
// every storage or workgroup load into a loop over the SIMD lanes, pays its
// per-lane loop once per vec4 rather than once per scalar. Loads per
// multiply-add are what lavapipe's speed follows: 64 x 64 tiles with scalar
// reads ran at half of burn-wgpu's speed, 8 x 8 blocks (4 loads per 64) at
// its speed, 8 x 16 blocks (6 per 128) 1.2-1.7x faster
// (`roentgen bench kernels --quick`).
// Workgroup memory: 2 * 16 * 128 * sizeof(CT) = 16 KiB (f32) or 8 KiB (f16),
// WebGPU's default limit. Everything per invocation is a named vector, never
// a dynamically indexed array (GPUs would spill it to slow memory).

const BM: u32 = 128u;
const BN: u32 = 128u;
const BK: u32 = 16u;
const GEMM_THREADS: u32 = 128u;
const BM4: u32 = 32u; // BM / 4
const BN4: u32 = 32u; // BN / 4
/// Rows and columns of one invocation's block.
const BLOCK_ROWS: u32 = 8u;
const BLOCK_COLS: u32 = 16u;

var<workgroup> a_tile: array<vec4<CT>, 512>; // [BK][BM / 4]: four rows at one k
var<workgroup> b_tile: array<vec4<CT>, 512>; // [BK][BN / 4]: four columns at one k

/// Two values of k (`k0`, `k1`) for four rows or four columns.
struct Quad2 {
    k0: vec4<f32>,
    k1: vec4<f32>,
}

/// One row of a block: columns 0..3, 4..7, 8..11, 12..15.
struct Row {
    c0: vec4<f32>,
    c1: vec4<f32>,
    c2: vec4<f32>,
    c3: vec4<f32>,
}

/// Rows row0 + ty*8 + i (i = 0..7) of the invocation's 8 x 16 block, columns
/// col0 + tx*16 + (0..15); see block_tx/block_ty.
struct Block {
    r0: Row,
    r1: Row,
    r2: Row,
    r3: Row,
    r4: Row,
    r5: Row,
    r6: Row,
    r7: Row,
}

/// r + a * b, for one row's 16 columns.
fn fma_row(r: Row, a: f32, b0: vec4<f32>, b1: vec4<f32>, b2: vec4<f32>, b3: vec4<f32>) -> Row {
    let s = vec4<f32>(a);
    return Row(fma(s, b0, r.c0), fma(s, b1, r.c1), fma(s, b2, r.c2), fma(s, b3, r.c3));
}

/// Consecutive invocations (a SIMD group on lavapipe, a quarter warp on
/// GPUs) share a column block and take successive row blocks, so when a
/// tile sticks out past N (the UNet's smallest level) whole groups find
/// nothing to do and skip the multiply-adds.
fn block_tx(lid: u32) -> u32 { return lid / 16u; }
fn block_ty(lid: u32) -> u32 { return lid % 16u; }

fn gemm_accumulate(batch: u32, row0: u32, col0: u32, lid: u32, m: u32, n: u32, k: u32) -> Block {
    var acc: Block;
    let tx = block_tx(lid);
    let ty = block_ty(lid);
    let busy = row0 + ty * BLOCK_ROWS < m && col0 + tx * BLOCK_COLS < n;
    for (var k0 = 0u; k0 < k; k0 += BK) {
        // A: two units of 4 rows x 2 k per invocation; consecutive
        // invocations take consecutive k (contiguous in a row-major A).
        for (var h = 0u; h < 2u; h++) {
            let unit = lid + h * GEMM_THREADS;
            let ak = (unit % 8u) * 2u;
            let r4 = unit / 8u;
            let q = load_a_4x2(batch, row0 + r4 * 4u, k0 + ak, m, k);
            a_tile[ak * BM4 + r4] = vec4<CT>(q.k0);
            a_tile[(ak + 1u) * BM4 + r4] = vec4<CT>(q.k1);
        }
        // B: two units of 2 k x 4 columns per invocation; consecutive
        // invocations take consecutive columns.
        for (var h = 0u; h < 2u; h++) {
            let unit = lid + h * GEMM_THREADS;
            let c4 = unit % BN4;
            let bk = (unit / BN4) * 2u;
            let q = load_b_2x4(batch, k0 + bk, col0 + c4 * 4u, n, k);
            b_tile[bk * BN4 + c4] = vec4<CT>(q.k0);
            b_tile[(bk + 1u) * BN4 + c4] = vec4<CT>(q.k1);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < select(0u, BK, busy); kk++) {
            let alo = vec4<f32>(a_tile[kk * BM4 + ty * 2u]);
            let ahi = vec4<f32>(a_tile[kk * BM4 + ty * 2u + 1u]);
            let b0 = vec4<f32>(b_tile[kk * BN4 + tx * 4u]);
            let b1 = vec4<f32>(b_tile[kk * BN4 + tx * 4u + 1u]);
            let b2 = vec4<f32>(b_tile[kk * BN4 + tx * 4u + 2u]);
            let b3 = vec4<f32>(b_tile[kk * BN4 + tx * 4u + 3u]);
            acc.r0 = fma_row(acc.r0, alo.x, b0, b1, b2, b3);
            acc.r1 = fma_row(acc.r1, alo.y, b0, b1, b2, b3);
            acc.r2 = fma_row(acc.r2, alo.z, b0, b1, b2, b3);
            acc.r3 = fma_row(acc.r3, alo.w, b0, b1, b2, b3);
            acc.r4 = fma_row(acc.r4, ahi.x, b0, b1, b2, b3);
            acc.r5 = fma_row(acc.r5, ahi.y, b0, b1, b2, b3);
            acc.r6 = fma_row(acc.r6, ahi.z, b0, b1, b2, b3);
            acc.r7 = fma_row(acc.r7, ahi.w, b0, b1, b2, b3);
        }
        workgroupBarrier();
    }
    return acc;
}

/// Row i (0..7) of a block, for the epilogue.
fn block_row(b: Block, i: u32) -> Row {
    switch (i) {
        case 0u: { return b.r0; }
        case 1u: { return b.r1; }
        case 2u: { return b.r2; }
        case 3u: { return b.r3; }
        case 4u: { return b.r4; }
        case 5u: { return b.r5; }
        case 6u: { return b.r6; }
        default: { return b.r7; }
    }
}

/// Columns j, j + 1 (j even, 0..14) of a block row.
fn row_pair(r: Row, j: u32) -> vec2<f32> {
    var q = r.c3;
    switch (j / 4u) {
        case 0u: { q = r.c0; }
        case 1u: { q = r.c1; }
        case 2u: { q = r.c2; }
        default: {}
    }
    return select(q.zw, q.xy, j % 4u == 0u);
}
