// Shared GEMM tile engine, included (textually) by matmul.wgsl and conv2d.wgsl.
//
// C[BM x BN tile] = sum over K of A[row, k] * B[k, col], with A and B read
// through `load_a(batch, row, k)` and `load_b(batch, k, col)`, which the
// including file defines (plain matrices, or implicit im2col for convolution).
// 256 invocations per workgroup (16 x 16), each owning a 4 x 4 block of C held
// in four vec4 registers; K advances BK at a time through tiles staged in
// workgroup memory as CT, both laid out [BK][64] so an invocation reads its 4
// rows and 4 columns as contiguous runs. Everything per-invocation is a named
// vector, never a dynamically indexed array: GPUs spill those to slow memory.
// Workgroup memory: 2 * 16 * 64 * sizeof(CT) = 8 KiB (f32) or 4 KiB (f16).

const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 16u;

var<workgroup> a_tile: array<CT, 1024>; // [BK][BM]: A transposed
var<workgroup> b_tile: array<CT, 1024>; // [BK][BN]

/// Rows row0 + ty*4 + (0..3) of the invocation's 4 x 4 block; each vec4 spans
/// columns col0 + tx*4 + (0..3), with tx = lid % 16 and ty = lid / 16.
struct Block {
    r0: vec4<f32>,
    r1: vec4<f32>,
    r2: vec4<f32>,
    r3: vec4<f32>,
}

fn tile_vec4(base: u32, is_a: bool) -> vec4<f32> {
    if (is_a) {
        return vec4<f32>(f32(a_tile[base]), f32(a_tile[base + 1u]), f32(a_tile[base + 2u]), f32(a_tile[base + 3u]));
    }
    return vec4<f32>(f32(b_tile[base]), f32(b_tile[base + 1u]), f32(b_tile[base + 2u]), f32(b_tile[base + 3u]));
}

fn gemm_accumulate(batch: u32, row0: u32, col0: u32, lid: u32, m: u32, n: u32, k: u32) -> Block {
    var acc = Block(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    let tx = lid % 16u;
    let ty = lid / 16u;
    for (var k0 = 0u; k0 < k; k0 += BK) {
        for (var e = 0u; e < 4u; e++) {
            let idx = lid + e * 256u;
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
        for (var kk = 0u; kk < BK; kk++) {
            let a = tile_vec4(kk * BM + ty * 4u, true);
            let b = tile_vec4(kk * BN + tx * 4u, false);
            acc.r0 = fma(vec4<f32>(a.x), b, acc.r0);
            acc.r1 = fma(vec4<f32>(a.y), b, acc.r1);
            acc.r2 = fma(vec4<f32>(a.z), b, acc.r2);
            acc.r3 = fma(vec4<f32>(a.w), b, acc.r3);
        }
        workgroupBarrier();
    }
    return acc;
}

/// Row i (0..3) of a block, for the epilogue.
fn block_row(b: Block, i: u32) -> vec4<f32> {
    switch (i) {
        case 0u: { return b.r0; }
        case 1u: { return b.r1; }
        case 2u: { return b.r2; }
        default: { return b.r3; }
    }
}
