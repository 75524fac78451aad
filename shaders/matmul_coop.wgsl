enable wgpu_cooperative_matrix;

// Linear layer on cooperative matrices (tensor cores, simdgroup matrices):
// C[b] = A[b] . W^T + bias + residual[b], f32 storage, for adapters that
// offer wgpu's EXPERIMENTAL_COOPERATIVE_MATRIX (8x8x8 f32 in wgpu 30).
// Same Params and bindings as matmul.wgsl; chosen at run time (gpu/src/
// ops/matmul.rs) only when the device has the feature, the caller asked for
// it, and M and N are multiples of 16 and K of 8 (no edge handling: the 8x8
// loads read whole blocks); everything else takes the tiled kernel.
//
// NOT VERIFIED ON HARDWARE YET: lavapipe and SwiftShader lack the feature,
// so here it is only validated by naga; the op test runs it where a device
// has it (scripts/device-bench.sh sets ROENTGEN_COOPERATIVE_MATRIX=1).
//
// A workgroup of 64 computes a 16 x 16 block of C as four 8 x 8
// accumulators. The cooperative scope is the subgroup: with 32-wide
// subgroups both compute the same block and store the same values.
// Bindings: 0 Params, 1 A [batch, M, K], 2 W [N, K], 3 bias [N], 4 C
// (read_write), 5 residual (like C).
// Dispatch: (N / 16, M / 16, batch).

// Params: matmul_params.wgsl.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;
@group(0) @binding(5) var<storage, read> residual: array<f32>;

/// The 16 x 16 block of C, row-major, for the epilogue.
var<workgroup> block: array<f32, 256>;

@compute @workgroup_size(64)
fn matmul_coop(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let k = params.k;
    let row0 = wg.y * 16u;
    let col0 = wg.x * 16u;
    let a0 = wg.z * params.a_batch_stride + row0 * k;
    let a1 = a0 + 8u * k;
    // W^T's 8 x 8 block (k.., col..) is column-major in W [N, K]: stride K.
    let w0 = col0 * k;
    let w1 = w0 + 8u * k;
    var c00 = coop_mat8x8<f32, C>();
    var c01 = coop_mat8x8<f32, C>();
    var c10 = coop_mat8x8<f32, C>();
    var c11 = coop_mat8x8<f32, C>();
    for (var kk = 0u; kk < k; kk += 8u) {
        let x0 = coopLoadT<coop_mat8x8<f32, A>>(&a[a0 + kk], k);
        let x1 = coopLoadT<coop_mat8x8<f32, A>>(&a[a1 + kk], k);
        let y0 = coopLoad<coop_mat8x8<f32, B>>(&weights[w0 + kk], k);
        let y1 = coopLoad<coop_mat8x8<f32, B>>(&weights[w1 + kk], k);
        c00 = coopMultiplyAdd(x0, y0, c00);
        c01 = coopMultiplyAdd(x0, y1, c01);
        c10 = coopMultiplyAdd(x1, y0, c10);
        c11 = coopMultiplyAdd(x1, y1, c11);
    }
    coopStoreT(c00, &block[0], 16u);
    coopStoreT(c01, &block[8], 16u);
    coopStoreT(c10, &block[128], 16u);
    coopStoreT(c11, &block[136], 16u);
    workgroupBarrier();
    for (var e = lid; e < 256u; e += 64u) {
        let col = col0 + e % 16u;
        let o = wg.z * params.c_batch_stride + (row0 + e / 16u) * params.n + col;
        var v = block[e];
        if (params.has_bias != 0u) { v += bias[col]; }
        if (params.has_residual != 0u) { v += residual[o]; }
        c[o] = v;
    }
}
