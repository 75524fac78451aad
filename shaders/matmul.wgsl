// Batched matrix product with optional bias and residual:
// C[b] = A[b] . op(B[b]) + bias + residual[b]
//
//   A [batch, M, K] row-major; B [batch, K, N] (trans_b = 0) or [batch, N, K]
//   (trans_b = 1, i.e. torch.nn.functional.linear's weight); bias [N] or none;
//   C [batch, M, N]. A batch stride of 0 broadcasts (one weight for all rows).
//   Matches torch.matmul(A, B) + bias, and F.linear(A, W, bias) with trans_b = 1;
//   with has_residual, `+ R` for R shaped like C (SD's attention output
//   projection and feed-forward out, each added to the tokens it came from:
//   fused here, the sum costs no extra pass over the tokens).
//   Sums accumulate in f32 on every path. N must be even (C is written in pairs).
//
// Bindings: 0 uniform Params, 1 A (read), 2 B (read; declared by the weights
//           include: plain, or q8 with 5 its scales, for trans_b = 1 only),
//           3 bias (read; ignored when has_bias = 0), 4 C (read_write),
//           5 residual (read; ignored when has_residual = 0), 6 unused (the
//           layout is conv2d's: its per-channel bias), 7 q8 scales.
// Dispatch: (ceil(N / 128), ceil(M / 128), batch) workgroups of 128; see gemm_tiles.wgsl.
//
// GEGLU variant (const GEGLU, diffusers' feed-forward `h, g = proj(x).chunk(2,
// -1); h * gelu(g)`): B is [2F, K], C is [batch, M, F]. Each 128-column tile
// computes 64 outputs: a thread's 16 columns are 8 rows of the h half and
// the same 8 rows of the g half (remapped in the B fill), so the epilogue
// pairs them in registers and the [M, 2F] projection is never written.
// Needs F % 64 == 0, trans_b, K even; N in Params is 2F.

// Params: matmul_params.wgsl (shared with matmul_coop.wgsl).

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<S2>;
@group(0) @binding(3) var<storage, read> bias: array<S2>;
@group(0) @binding(4) var<storage, read_write> c: array<S2>;
@group(0) @binding(5) var<storage, read> residual: array<S2>;

/// A[row, kk] and A[row, kk + 1]; zero past the matrix. One pair load in
/// the ALIGNED variant (K even), else element by element.
fn load_a_pair(batch: u32, row: u32, kk: u32, m: u32, k: u32) -> vec2<f32> {
    if (row >= m || kk >= k) { return vec2<f32>(0.0); }
    let i = batch * params.a_batch_stride + row * k + kk;
    if (ALIGNED) { return ld2(a[i >> 1u]); }
    var v = vec2<f32>(ld1(a[i >> 1u], i), 0.0);
    if (kk + 1u < k) { v.y = ld1(a[(i + 1u) >> 1u], i + 1u); }
    return v;
}

fn load_a_4x2(batch: u32, row: u32, kk: u32, m: u32, k: u32) -> Quad2 {
    let p0 = load_a_pair(batch, row, kk, m, k);
    let p1 = load_a_pair(batch, row + 1u, kk, m, k);
    let p2 = load_a_pair(batch, row + 2u, kk, m, k);
    let p3 = load_a_pair(batch, row + 3u, kk, m, k);
    return Quad2(vec4<f32>(p0.x, p1.x, p2.x, p3.x), vec4<f32>(p0.y, p1.y, p2.y, p3.y));
}

/// The row of B (a linear weight) behind GEMM column `col`: itself, or in
/// the GEGLU variant the h or g row of the output column it serves.
fn b_row(col: u32) -> u32 {
    if (!GEGLU) { return col; }
    let t = col % BN;
    let o = (col / BN) * (BN / 2u) + (t / 16u) * 8u + t % 8u;
    return select(o, o + params.n / 2u, t % 16u >= 8u);
}

/// B[kk.., col..]: with trans_b, B[col, kk] and B[col, kk + 1] (a pair in
/// memory when K is even: the ALIGNED variant); else B[kk, col] and
/// B[kk, col + 1] (N is even).
fn load_b_pair(batch: u32, kk: u32, col: u32, n: u32, k: u32) -> vec2<f32> {
    if (col >= n || kk >= k) { return vec2<f32>(0.0); }
    let base = batch * params.b_batch_stride;
    let row = b_row(col);
    if (ALIGNED || params.trans_b == 0u) {
        let i = select(base + kk * n + col, base + row * k + kk, params.trans_b != 0u);
        return weight_pair(row, i);
    }
    let i = base + row * k + kk;
    var v = vec2<f32>(weight_one(row, i), 0.0);
    if (kk + 1u < k) { v.y = weight_one(row, i + 1u); }
    return v;
}

fn load_b_2x4(batch: u32, kk: u32, col: u32, n: u32, k: u32) -> Quad2 {
    if (params.trans_b != 0u) {
        let p0 = load_b_pair(batch, kk, col, n, k);
        let p1 = load_b_pair(batch, kk, col + 1u, n, k);
        let p2 = load_b_pair(batch, kk, col + 2u, n, k);
        let p3 = load_b_pair(batch, kk, col + 3u, n, k);
        return Quad2(vec4<f32>(p0.x, p1.x, p2.x, p3.x), vec4<f32>(p0.y, p1.y, p2.y, p3.y));
    }
    let r0 = vec4<f32>(load_b_pair(batch, kk, col, n, k), load_b_pair(batch, kk, col + 2u, n, k));
    let r1 = vec4<f32>(load_b_pair(batch, kk + 1u, col, n, k), load_b_pair(batch, kk + 1u, col + 2u, n, k));
    return Quad2(r0, r1);
}

/// h * gelu(g) for the 8 outputs from `out0` of the thread's 8 rows.
fn geglu_epilogue(acc: Block, batch: u32, row0: u32, out0: u32, ty: u32) {
    let f = params.n / 2u;
    var bh = vec4<f32>(0.0);
    var bh2 = vec4<f32>(0.0);
    var bg = vec4<f32>(0.0);
    var bg2 = vec4<f32>(0.0);
    if (params.has_bias != 0u) {
        bh = vec4<f32>(ld2(bias[out0 >> 1u]), ld2(bias[(out0 + 2u) >> 1u]));
        bh2 = vec4<f32>(ld2(bias[(out0 + 4u) >> 1u]), ld2(bias[(out0 + 6u) >> 1u]));
        bg = vec4<f32>(ld2(bias[(f + out0) >> 1u]), ld2(bias[(f + out0 + 2u) >> 1u]));
        bg2 = vec4<f32>(ld2(bias[(f + out0 + 4u) >> 1u]), ld2(bias[(f + out0 + 6u) >> 1u]));
    }
    for (var i = 0u; i < BLOCK_ROWS; i++) {
        let row = row0 + ty * BLOCK_ROWS + i;
        if (row >= params.m) { break; }
        let r = block_row(acc, i);
        // Columns 0..7 are h, 8..15 the matching g.
        let lo = (r.c0 + bh) * gelu4(r.c2 + bg);
        let hi = (r.c1 + bh2) * gelu4(r.c3 + bg2);
        let o = batch * params.c_batch_stride + row * f + out0;
        c[o >> 1u] = st2(lo.xy);
        c[(o >> 1u) + 1u] = st2(lo.zw);
        c[(o >> 1u) + 2u] = st2(hi.xy);
        c[(o >> 1u) + 3u] = st2(hi.zw);
    }
}

@compute @workgroup_size(128)
fn matmul(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let row0 = params.m0 + wg.y * BM;
    let col0 = wg.x * BN;
    let acc = gemm_accumulate(wg.z, row0, col0, lid, params.m, params.n, params.k);
    let tx = block_tx(lid);
    let ty = block_ty(lid);
    if (GEGLU) {
        geglu_epilogue(acc, wg.z, row0, wg.x * (BN / 2u) + tx * 8u, ty);
        return;
    }
    for (var i = 0u; i < BLOCK_ROWS; i++) {
        let row = row0 + ty * BLOCK_ROWS + i;
        if (row >= params.m) { break; }
        let r = block_row(acc, i);
        for (var j = 0u; j < BLOCK_COLS; j += 2u) {
            let col = col0 + tx * BLOCK_COLS + j;
            if (col >= params.n) { break; }
            var v = row_pair(r, j);
            if (params.has_bias != 0u) { v += ld2(bias[col >> 1u]); }
            let o = wg.z * params.c_batch_stride + row * params.n + col;
            if (params.has_residual != 0u) { v += ld2(residual[o >> 1u]); }
            c[o >> 1u] = st2(v);
        }
    }
}
