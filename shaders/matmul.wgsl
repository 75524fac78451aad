// Batched matrix product with optional bias: C[b] = A[b] . op(B[b]) + bias
//
//   A [batch, M, K] row-major; B [batch, K, N] (trans_b = 0) or [batch, N, K]
//   (trans_b = 1, i.e. torch.nn.functional.linear's weight); bias [N] or none;
//   C [batch, M, N]. A batch stride of 0 broadcasts (one weight for all rows).
//   Matches torch.matmul(A, B) + bias, and F.linear(A, W, bias) with trans_b = 1.
//   Sums accumulate in f32 on every path. N must be even (C is written in pairs).
//
// Bindings: 0 uniform Params, 1 A (read), 2 B (read), 3 bias (read; ignored when
//           has_bias = 0), 4 C (read_write).
// Dispatch: (ceil(N / 64), ceil(M / 64), batch) workgroups of 64; see gemm_tiles.wgsl.

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
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<S2>;
@group(0) @binding(2) var<storage, read> b: array<S2>;
@group(0) @binding(3) var<storage, read> bias: array<S2>;
@group(0) @binding(4) var<storage, read_write> c: array<S2>;

fn load_a(batch: u32, row: u32, kk: u32) -> f32 {
    let i = batch * params.a_batch_stride + row * params.k + kk;
    return ld1(a[i >> 1u], i);
}

fn load_b(batch: u32, kk: u32, col: u32) -> f32 {
    var i: u32;
    if (params.trans_b != 0u) {
        i = batch * params.b_batch_stride + col * params.k + kk;
    } else {
        i = batch * params.b_batch_stride + kk * params.n + col;
    }
    return ld1(b[i >> 1u], i);
}

@compute @workgroup_size(64)
fn matmul(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let row0 = wg.y * BM;
    let col0 = wg.x * BN;
    let acc = gemm_accumulate(wg.z, row0, col0, lid, params.m, params.n, params.k);
    let tx = block_tx(lid);
    let ty = block_ty(lid);
    for (var i = 0u; i < 8u; i++) {
        let row = row0 + ty * 8u + i;
        if (row >= params.m) { break; }
        let r = block_row(acc, i);
        for (var j = 0u; j < 8u; j += 2u) {
            let col = col0 + tx * 8u + j;
            if (col >= params.n) { break; }
            var v = row_pair(r, j);
            if (params.has_bias != 0u) { v += ld2(bias[col >> 1u]); }
            let o = wg.z * params.c_batch_stride + row * params.n + col;
            c[o >> 1u] = st2(v);
        }
    }
}
