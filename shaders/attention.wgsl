// Scaled dot-product attention, flash-style: scores are made BK keys at a time
// and folded into a running (online) softmax, so the [Lq, Lk] score matrix
// never exists (at 64x64 latents it would be 537 MB).
//
//   out[b, i, h*d + c] = sum_j softmax_j(scale * q_i . k_j  [j <= i if causal]) v[b, j, h*d + c]
//   with q_i = q[b, i, h*d .. h*d + d] (likewise k, v): heads stay interleaved in
//   the [B, L, H*d] layout the projections produce, so no transpose is needed.
//   Matches torch.nn.functional.scaled_dot_product_attention(q, k, v,
//   is_causal=causal, scale=scale) on [B, H, L, d] views. Softmax and sums in f32.
//   d and the token strides must be even (rows are read and written in pairs).
//
// Work split: TPR = ceil(d / 8) invocations share a query row, each holding 8
// output columns in two vec4 registers (named, never an indexed array: GPUs
// spill those to slow memory); a workgroup of 256 owns BQ = min(64,
// floor(256 / TPR)) query rows of one (b, h), so d up to 512 fits, and each
// sweep over K and V serves up to 64 queries. Per key block:
//   1. all 256 invocations compute the BQ x BK scores into workgroup memory;
//   2. one invocation per row updates that row's max and sum, turns the scores
//      into probabilities and records the rescale factor for the old output;
//   3. every invocation rescales its columns and adds probability-weighted V.
// Workgroup memory: (64 * BK + 3 * 64) f32 = 8.75 KiB.
//
// Bindings: 0 uniform Params, 1 q (read), 2 k (read), 3 v (read), 4 out (read_write).
// Dispatch: (ceil(Lq / BQ), H, B) workgroups of 256.

struct Params {
    lq: u32,
    lk: u32,
    d: u32,
    causal: u32,
    q_stride: u32,
    k_stride: u32,
    v_stride: u32,
    o_stride: u32,
    tpr: u32,
    scale: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<S2>;
@group(0) @binding(2) var<storage, read> k: array<S2>;
@group(0) @binding(3) var<storage, read> v: array<S2>;
@group(0) @binding(4) var<storage, read_write> out: array<S2>;

const THREADS: u32 = 256u;
const MAX_ROWS: u32 = 64u;
const BK: u32 = 32u;
const NEG_INF: f32 = -3.0e38;

var<workgroup> scores: array<f32, 2048>; // [BQ][BK], BQ <= 64
var<workgroup> row_max: array<f32, 64>;
var<workgroup> row_sum: array<f32, 64>;
var<workgroup> row_rescale: array<f32, 64>;

// Pair c of the value row starting at pair `base`, zero past the head.
fn v_pair(base: u32, c: u32) -> vec2<f32> {
    if (c < params.d / 2u) { return ld2(v[base + c]); }
    return vec2<f32>(0.0);
}

@compute @workgroup_size(256)
fn attention(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let tpr = params.tpr;
    let bq = min(MAX_ROWS, THREADS / tpr);
    let q0 = wg.x * bq;
    let head = wg.y * params.d;
    let qb = wg.z * params.lq;
    let kb = wg.z * params.lk;
    let half_d = params.d / 2u;

    // This invocation's output row and its 4 column pairs; invocations past
    // bq * tpr only help with the scores.
    let r = lid / tpr;
    let owns_row = r < bq;
    let qi = q0 + r;
    let cp = (lid % tpr) * 4u;
    var acc0 = vec4<f32>(0.0); // pairs cp, cp + 1
    var acc1 = vec4<f32>(0.0); // pairs cp + 2, cp + 3

    if (lid < bq) {
        row_max[lid] = NEG_INF;
        row_sum[lid] = 0.0;
    }
    workgroupBarrier();

    var kend = params.lk;
    if (params.causal != 0u) { kend = min(kend, q0 + bq); }
    for (var j0 = 0u; j0 < kend; j0 += BK) {
        // 1. scores
        for (var e = lid; e < bq * BK; e += THREADS) {
            let sr = e / BK;
            let sq = q0 + sr;
            let kj = j0 + e % BK;
            var s = NEG_INF;
            if (sq < params.lq && kj < params.lk && (params.causal == 0u || kj <= sq)) {
                let qp = ((qb + sq) * params.q_stride + head) / 2u;
                let kp = ((kb + kj) * params.k_stride + head) / 2u;
                var dotv = 0.0;
                for (var c = 0u; c < half_d; c++) {
                    dotv += dot(ld2(q[qp + c]), ld2(k[kp + c]));
                }
                s = dotv * params.scale;
            }
            scores[e] = s;
        }
        workgroupBarrier();
        // 2. online softmax bookkeeping, one invocation per row
        if (lid < bq) {
            let m_old = row_max[lid];
            var m_new = m_old;
            for (var jj = 0u; jj < BK; jj++) { m_new = max(m_new, scores[lid * BK + jj]); }
            var sum = 0.0;
            for (var jj = 0u; jj < BK; jj++) {
                let s = scores[lid * BK + jj];
                var p = 0.0;
                if (s > NEG_INF) { p = exp(s - m_new); }
                scores[lid * BK + jj] = p;
                sum += p;
            }
            var rescale = 1.0;
            if (m_old > NEG_INF) { rescale = exp(m_old - m_new); }
            row_max[lid] = m_new;
            row_sum[lid] = row_sum[lid] * rescale + sum;
            row_rescale[lid] = rescale;
        }
        workgroupBarrier();
        // 3. accumulate probability-weighted values
        if (owns_row) {
            let rescale = row_rescale[r];
            acc0 *= rescale;
            acc1 *= rescale;
            for (var jj = 0u; jj < BK; jj++) {
                let p = scores[r * BK + jj];
                if (p == 0.0) { continue; }
                let vp = ((kb + j0 + jj) * params.v_stride + head) / 2u;
                acc0 += p * vec4<f32>(v_pair(vp, cp), v_pair(vp, cp + 1u));
                acc1 += p * vec4<f32>(v_pair(vp, cp + 2u), v_pair(vp, cp + 3u));
            }
        }
        workgroupBarrier();
    }

    if (owns_row && qi < params.lq) {
        let l = row_sum[r];
        var inv = 0.0;
        if (l > 0.0) { inv = 1.0 / l; }
        let op = ((qb + qi) * params.o_stride + head) / 2u;
        let o0 = acc0 * inv;
        let o1 = acc1 * inv;
        if (cp < half_d) { out[op + cp] = st2(o0.xy); }
        if (cp + 1u < half_d) { out[op + cp + 1u] = st2(o0.zw); }
        if (cp + 2u < half_d) { out[op + cp + 2u] = st2(o1.xy); }
        if (cp + 3u < half_d) { out[op + cp + 3u] = st2(o1.zw); }
    }
}
