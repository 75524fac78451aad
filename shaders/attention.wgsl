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
// Work split, per workgroup of 256 invocations: BQ query rows of one (b, h).
// The output block [BQ, d] lives in registers: each invocation owns 4 rows x
// 8 columns (eight named vec4s, never an indexed array: GPUs spill those),
// TPR = ceil(d / 8) invocations span a row group, so BQ = 4 * floor(256 / TPR),
// at most 128 (d 40 and 64: 128 rows; 80: 100; 160: 48; 512: 16). Register
// blocking is what makes it fast: per key block
//   1. scores: each invocation computes a 4-query x 2-key block of S = q k^T
//      (6 loads per 8 multiply-adds, against 2 per 2 unblocked), over part
//      of the head when the blocks are fewer than the invocations;
//   2. one invocation per row updates that row's max and sum, turns the
//      scores into probabilities and records the rescale factor;
//   3. each invocation adds probability-weighted V to its 4 x 8 block
//      (12 loads per 32 multiply-adds).
// Workgroup memory: (128 * BK + 3 * 128) f32 = 9.5 KiB (partial sums of a
// split head reuse the score block: NSPLIT * BQ * BK <= 2048).
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
const MAX_ROWS: u32 = 128u;
const BK: u32 = 16u;
const NEG_INF: f32 = -3.0e38;

var<workgroup> scores: array<f32, 2048>; // [BQ][BK], BQ <= 128
var<workgroup> row_max: array<f32, 128>;
var<workgroup> row_sum: array<f32, 128>;
var<workgroup> row_rescale: array<f32, 128>;

/// Query rows per workgroup for TPR invocations per row group.
fn rows_per_workgroup(tpr: u32) -> u32 {
    return min(MAX_ROWS, 4u * (THREADS / tpr));
}

// Pair c of the value row starting at pair `base`, zero past the head.
fn v_pair(base: u32, c: u32) -> vec2<f32> {
    if (c < params.d / 2u) { return ld2(v[base + c]); }
    return vec2<f32>(0.0);
}

/// 1 if query row `qi` may see key `kj`.
fn visible(qi: u32, kj: u32) -> bool {
    return qi < params.lq && kj < params.lk && (params.causal == 0u || kj <= qi);
}

fn store_row(qi: u32, cp: u32, lo: vec4<f32>, hi: vec4<f32>, inv: f32, head: u32, qb: u32) {
    if (qi >= params.lq) { return; }
    let op = ((qb + qi) * params.o_stride + head) / 2u;
    let half_d = params.d / 2u;
    if (cp < half_d) { out[op + cp] = st2(lo.xy * inv); }
    if (cp + 1u < half_d) { out[op + cp + 1u] = st2(lo.zw * inv); }
    if (cp + 2u < half_d) { out[op + cp + 2u] = st2(hi.xy * inv); }
    if (cp + 3u < half_d) { out[op + cp + 3u] = st2(hi.zw * inv); }
}

fn inv_sum(r: u32) -> f32 {
    let l = row_sum[r];
    return select(0.0, 1.0 / l, l > 0.0);
}

@compute @workgroup_size(256)
fn attention(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let tpr = params.tpr;
    let bq = rows_per_workgroup(tpr);
    let q0 = wg.x * bq;
    let head = wg.y * params.d;
    let qb = wg.z * params.lq;
    let kb = wg.z * params.lk;
    let half_d = params.d / 2u;

    // Phase 3's block: rows r0..r0+3 of this workgroup, column pairs cp..cp+3.
    let rg = lid / tpr;
    let owns_rows = rg * 4u < bq;
    let r0 = rg * 4u;
    let cp = (lid % tpr) * 4u;
    var a0l = vec4<f32>(0.0); var a0h = vec4<f32>(0.0);
    var a1l = vec4<f32>(0.0); var a1h = vec4<f32>(0.0);
    var a2l = vec4<f32>(0.0); var a2h = vec4<f32>(0.0);
    var a3l = vec4<f32>(0.0); var a3h = vec4<f32>(0.0);

    // Phase 1's block: query quad sq (rows sq*4..+3), key pair sk (keys sk*2,
    // +1), summed over the head's pairs [c_begin, c_end). With few rows (large
    // heads) the blocks are too few for 256 invocations, so the head is split
    // into NSPLIT parts whose partial sums meet in workgroup memory.
    let nblocks = (bq / 4u) * (BK / 2u);
    let nsplit = max(1u, THREADS / nblocks);
    let blk = lid % nblocks;
    let split = lid / nblocks;
    let sq = blk / (BK / 2u);
    let sk = blk % (BK / 2u);
    let chunk = (half_d + nsplit - 1u) / nsplit;
    let c_begin = min(split * chunk, half_d);
    let c_end = min(c_begin + chunk, half_d);
    let scores_here = split < nsplit;

    if (lid < bq) {
        row_max[lid] = NEG_INF;
        row_sum[lid] = 0.0;
    }
    workgroupBarrier();

    var kend = params.lk;
    if (params.causal != 0u) { kend = min(kend, q0 + bq); }
    for (var j0 = 0u; j0 < kend; j0 += BK) {
        // 1. a 4 x 2 block of scores
        if (scores_here) {
            let qi = q0 + sq * 4u;
            let kj = j0 + sk * 2u;
            // Rows past the ends read row 0 (always there) and are masked below.
            let kr0 = select(0u, kj, kj < params.lk);
            let kr1 = select(0u, kj + 1u, kj + 1u < params.lk);
            let qp0 = ((qb + select(0u, qi + 0u, qi + 0u < params.lq)) * params.q_stride + head) / 2u;
            let qp1 = ((qb + select(0u, qi + 1u, qi + 1u < params.lq)) * params.q_stride + head) / 2u;
            let qp2 = ((qb + select(0u, qi + 2u, qi + 2u < params.lq)) * params.q_stride + head) / 2u;
            let qp3 = ((qb + select(0u, qi + 3u, qi + 3u < params.lq)) * params.q_stride + head) / 2u;
            let kp0 = ((kb + kr0) * params.k_stride + head) / 2u;
            let kp1 = ((kb + kr1) * params.k_stride + head) / 2u;
            var s0 = vec2<f32>(0.0); // (query 0, key 0), (query 0, key 1)
            var s1 = vec2<f32>(0.0);
            var s2 = vec2<f32>(0.0);
            var s3 = vec2<f32>(0.0);
            for (var c = c_begin; c < c_end; c++) {
                let k0 = ld2(k[kp0 + c]);
                let k1 = ld2(k[kp1 + c]);
                let x0 = ld2(q[qp0 + c]);
                let x1 = ld2(q[qp1 + c]);
                let x2 = ld2(q[qp2 + c]);
                let x3 = ld2(q[qp3 + c]);
                s0 += vec2<f32>(dot(x0, k0), dot(x0, k1));
                s1 += vec2<f32>(dot(x1, k0), dot(x1, k1));
                s2 += vec2<f32>(dot(x2, k0), dot(x2, k1));
                s3 += vec2<f32>(dot(x3, k0), dot(x3, k1));
            }
            let base = split * bq * BK + sq * 4u * BK + sk * 2u;
            scores[base] = s0.x;
            scores[base + 1u] = s0.y;
            scores[base + BK] = s1.x;
            scores[base + BK + 1u] = s1.y;
            scores[base + 2u * BK] = s2.x;
            scores[base + 2u * BK + 1u] = s2.y;
            scores[base + 3u * BK] = s3.x;
            scores[base + 3u * BK + 1u] = s3.y;
        }
        workgroupBarrier();
        // 1b. add the parts (in place over part 0), scale and mask
        for (var e = lid; e < bq * BK; e += THREADS) {
            var sum = scores[e];
            for (var sp = 1u; sp < nsplit; sp++) { sum += scores[sp * bq * BK + e]; }
            scores[e] = select(NEG_INF, sum * params.scale, visible(q0 + e / BK, j0 + e % BK));
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
        // 3. a 4 x 8 block of probability-weighted values
        if (owns_rows) {
            let f0 = row_rescale[r0];
            let f1 = row_rescale[r0 + 1u];
            let f2 = row_rescale[r0 + 2u];
            let f3 = row_rescale[r0 + 3u];
            a0l *= f0; a0h *= f0;
            a1l *= f1; a1h *= f1;
            a2l *= f2; a2h *= f2;
            a3l *= f3; a3h *= f3;
            let jn = min(BK, params.lk - j0);
            for (var jj = 0u; jj < jn; jj++) {
                let vp = ((kb + j0 + jj) * params.v_stride + head) / 2u;
                let vlo = vec4<f32>(v_pair(vp, cp), v_pair(vp, cp + 1u));
                let vhi = vec4<f32>(v_pair(vp, cp + 2u), v_pair(vp, cp + 3u));
                let p0 = scores[r0 * BK + jj];
                let p1 = scores[(r0 + 1u) * BK + jj];
                let p2 = scores[(r0 + 2u) * BK + jj];
                let p3 = scores[(r0 + 3u) * BK + jj];
                a0l = fma(vec4<f32>(p0), vlo, a0l); a0h = fma(vec4<f32>(p0), vhi, a0h);
                a1l = fma(vec4<f32>(p1), vlo, a1l); a1h = fma(vec4<f32>(p1), vhi, a1h);
                a2l = fma(vec4<f32>(p2), vlo, a2l); a2h = fma(vec4<f32>(p2), vhi, a2h);
                a3l = fma(vec4<f32>(p3), vlo, a3l); a3h = fma(vec4<f32>(p3), vhi, a3h);
            }
        }
        workgroupBarrier();
    }

    if (owns_rows) {
        store_row(q0 + r0, cp, a0l, a0h, inv_sum(r0), head, qb);
        store_row(q0 + r0 + 1u, cp, a1l, a1h, inv_sum(r0 + 1u), head, qb);
        store_row(q0 + r0 + 2u, cp, a2l, a2h, inv_sum(r0 + 2u), head, qb);
        store_row(q0 + r0 + 3u, cp, a3l, a3h, inv_sum(r0 + 3u), head, qb);
    }
}
