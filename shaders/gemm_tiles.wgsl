// Shared GEMM tile engine, included (textually) by matmul.wgsl and conv2d.wgsl.
//
// C[BM x BN tile] = sum over K of A[row, k] * B[k, col], with A and B read
// through `load_a(batch, row, k)` and `load_b(batch, k, col)`, which the
// including file defines (plain matrices, or implicit im2col for convolution).
// 64 invocations per workgroup (8 x 8), each owning an 8 x 8 block of C held in
// sixteen vec4 registers: per step of k an invocation reads 16 tile values and
// does 64 multiply-adds, so workgroup-memory traffic is a quarter of the
// multiply-adds (a 4 x 4 block would be half). That ratio bounds GPUs and CPU
// emulations alike (lavapipe turns every divergent workgroup-memory read into
// a gather). K advances BK at a time through tiles staged in workgroup memory
// as CT, both laid out [BK][64] so an invocation reads its 8 rows and 8
// columns as contiguous runs. Everything per-invocation is a named vector,
// never a dynamically indexed array: GPUs spill those to slow memory.
// Workgroup memory: 2 * 32 * 64 * sizeof(CT) = 16 KiB (f32) or 8 KiB (f16): a
// K step of 32 halves the barriers per multiply-add of a step of 16 and stays
// within WebGPU's default 16 KiB. (On lavapipe: 10-15% faster in
// `bench kernels --no-burn` runs, no difference in runs alongside burn.)

const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 32u;
const GEMM_THREADS: u32 = 64u;

var<workgroup> a_tile: array<CT, 2048>; // [BK][BM]: A transposed
var<workgroup> b_tile: array<CT, 2048>; // [BK][BN]

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

fn tile_vec4(base: u32, is_a: bool) -> vec4<f32> {
    if (is_a) {
        return vec4<f32>(f32(a_tile[base]), f32(a_tile[base + 1u]), f32(a_tile[base + 2u]), f32(a_tile[base + 3u]));
    }
    return vec4<f32>(f32(b_tile[base]), f32(b_tile[base + 1u]), f32(b_tile[base + 2u]), f32(b_tile[base + 3u]));
}

/// Consecutive invocations (one SIMD group on CPU adapters, a quarter warp
/// on GPUs) share a column block and take successive row blocks, so when a
/// tile sticks out past N (small images: 4x4 latents have 16 columns) whole
/// groups find nothing to do and skip the multiply-adds.
fn block_tx(lid: u32) -> u32 { return lid / 8u; }
fn block_ty(lid: u32) -> u32 { return lid % 8u; }

fn gemm_accumulate(batch: u32, row0: u32, col0: u32, lid: u32, m: u32, n: u32, k: u32) -> Block {
    var acc: Block;
    let tx = block_tx(lid);
    let ty = block_ty(lid);
    let busy = row0 + ty * 8u < m && col0 + tx * 8u < n;
    for (var k0 = 0u; k0 < k; k0 += BK) {
        for (var e = 0u; e < 32u; e++) {
            let idx = lid + e * GEMM_THREADS;
            // A: consecutive invocations read consecutive k of one row.
            let am = idx / BK;
            let ak = idx % BK;
            var av = 0.0;
            if (row0 + am < m && k0 + ak < k) { av = load_a(batch, row0 + am, k0 + ak); }
            a_tile[ak * BM + am] = CT(av);
            // B: consecutive invocations read consecutive columns of one k.
            let bk = idx / BN;
            let bn = idx % BN;
            var bv = 0.0;
            if (k0 + bk < k && col0 + bn < n) { bv = load_b(batch, k0 + bk, col0 + bn); }
            b_tile[bk * BN + bn] = CT(bv);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < select(0u, BK, busy); kk++) {
            let alo = tile_vec4(kk * BM + ty * 8u, true);
            let ahi = tile_vec4(kk * BM + ty * 8u + 4u, true);
            let blo = tile_vec4(kk * BN + tx * 8u, false);
            let bhi = tile_vec4(kk * BN + tx * 8u + 4u, false);
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
