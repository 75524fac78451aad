// Shared GEMM tile engine, included (textually) by matmul.wgsl and conv2d.wgsl.
//
// C[BM x BN tile] = sum over K of A[row, k] * B[k, col], with A and B read
// through `load_a(batch, row, k)` and `load_b(batch, k, col)`, which the
// including file defines (plain matrices, or implicit im2col for convolution).
// 256 invocations per workgroup (16 x 16), each owning a 4 x 4 block of C;
// K advances BK at a time through tiles staged in workgroup memory as CT.
// Workgroup memory: 2 * 16 * 64 * sizeof(CT) = 8 KiB (f32) or 4 KiB (f16).

const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 16u;

var<workgroup> a_tile: array<CT, 1024>; // [BM][BK]: row-major by output row
var<workgroup> b_tile: array<CT, 1024>; // [BK][BN]

// Returns this invocation's 4 x 4 accumulators, row-major, for rows
// row0 + ty*4 + i and columns col0 + tx*4 + j (tx = lid % 16, ty = lid / 16).
fn gemm_accumulate(batch: u32, row0: u32, col0: u32, lid: u32, m: u32, n: u32, k: u32) -> array<f32, 16> {
    var acc: array<f32, 16>;
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
            a_tile[am * BK + ak] = CT(av);
            // B: consecutive invocations read consecutive columns of one k.
            let bk = idx / BN;
            let bn = idx % BN;
            var bv = 0.0;
            if (k0 + bk < k && col0 + bn < n) { bv = load_b(batch, k0 + bk, col0 + bn); }
            b_tile[bk * BN + bn] = CT(bv);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk++) {
            var a: array<f32, 4>;
            var b: array<f32, 4>;
            for (var i = 0u; i < 4u; i++) { a[i] = f32(a_tile[(ty * 4u + i) * BK + kk]); }
            for (var j = 0u; j < 4u; j++) { b[j] = f32(b_tile[kk * BN + tx * 4u + j]); }
            for (var i = 0u; i < 4u; i++) {
                for (var j = 0u; j < 4u; j++) {
                    acc[i * 4u + j] = fma(a[i], b[j], acc[i * 4u + j]);
                }
            }
        }
        workgroupBarrier();
    }
    return acc;
}
