// Scaled dot-product attention, flash-style: scores are made BK keys at a time
// and folded into a running (online) softmax, so the [Lq, Lk] score matrix
// never exists (at 64x64 latents it would be 537 MB).
//
//   out[b, i, h*d + c] = sum_j softmax_j(scale * q_i . k_j  [j <= i if causal]) v[b, j, h*d + c]
//   with q_i = q[b, i, h*d .. h*d + d] (likewise k, v): heads stay interleaved in
//   the [B, L, H*d] layout the projections produce, so no transpose is needed.
//   Matches torch.nn.functional.scaled_dot_product_attention(q, k, v,
//   is_causal=causal, scale=scale) on [B, H, L, d] views. Softmax and sums in f32.
//   d must be a multiple of 4: q, k, v and out are read and written as quads
//   (one vec4 load where pairs took two, and on lavapipe, which loops over
//   the SIMD lanes for every load, one loop instead of two).
//
// Work split, per workgroup of 256 invocations: BQ query rows of one (b, h),
// against BK keys at a time; the host picks both (Params rows, keys): BQ no
// more than the queries, BQ * BK <= SCORES.
// The output block [BQ, d] lives in registers: each invocation owns 8 rows x
// 16 columns (eight Out16s, never an indexed array: GPUs spill those). TPR =
// ceil(d / 16) invocations span a row group, so BQ <= 8 * floor(256 / TPR),
// at most 128 (d 40, 64, 80 and 160: 128 rows; 512: 64).
// Per key block:
//   1. scores: an invocation computes an 8-query x 8-key block of S = q k^T
//      a quad of channels at a time (16 vec4 loads per 256 multiply-adds),
//      over part of the head when the blocks are fewer than the invocations
//      (the score memory bounds the parts);
//   2. one invocation per four rows adds the parts, scales and masks, updates
//      their max and sum, turns the scores into probabilities and records
//      the rescale factors;
//   3. each invocation adds probability-weighted V to its 8 x 16 block
//      (6 vec4 loads per 128 multiply-adds).
// Scores are kept key-major, four rows to a vec4 (scores[j * BQ/4 + r/4]), so
// phases 2 and 3 read four rows in one load.
// Workgroup memory: (SCORES + 3 * 128) f32 = 13.5 KiB. Bigger blocks mean
// fewer barriers per score (on lavapipe the barriers and the softmax pass
// cost as much as either product at d 40).
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
    rows: u32,
    keys: u32,
    // First query row of this dispatch (a multiple of rows): long attention
    // runs as several dispatches of whole row blocks, so that none holds the
    // GPU for long.
    row0: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<S4>;
@group(0) @binding(2) var<storage, read> k: array<S4>;
@group(0) @binding(3) var<storage, read> v: array<S4>;
@group(0) @binding(4) var<storage, read_write> out: array<S4>;

const THREADS: u32 = 256u;
/// Scores one key block holds: BQ * BK <= SCORES (and the parts of a split head).
const SCORES: u32 = 3072u;
const NEG_INF: f32 = -3.0e38;

var<workgroup> scores: array<vec4<f32>, 768>; // [BK][BQ / 4]
var<workgroup> row_max: array<vec4<f32>, 32>; // four rows each, 128 rows at most
var<workgroup> row_sum: array<vec4<f32>, 32>;
var<workgroup> row_rescale: array<vec4<f32>, 32>;

/// The value quad at `idx` holding head channels c..c+3; zero past the head
/// (the head ends on a quad: d is a multiple of 4).
fn v_quad(idx: u32, c: u32) -> vec4<f32> {
    if (c < params.d) { return ld4(v[idx]); }
    return vec4<f32>(0.0);
}

/// Quad index of head channel 0 of query row `qi` (row 0 past the end: its
/// scores are masked).
fn q_quad_index(qb: u32, qi: u32, head: u32) -> u32 {
    return ((qb + select(0u, qi, qi < params.lq)) * params.q_stride + head) / 4u;
}

fn k_quad_index(kb: u32, kj: u32, head: u32) -> u32 {
    return ((kb + select(0u, kj, kj < params.lk)) * params.k_stride + head) / 4u;
}

/// Up to 16 output columns of one row: channels c0 + (0..3, 4..7, 8..11, 12..15).
struct Out16 {
    u: vec4<f32>,
    v: vec4<f32>,
    w: vec4<f32>,
    x: vec4<f32>,
}

fn scale16(a: Out16, f: f32) -> Out16 {
    return Out16(a.u * f, a.v * f, a.w * f, a.x * f);
}

/// a + p * v, for one row's 16 columns.
fn add_pv(a: Out16, p: f32, v: Out16) -> Out16 {
    let s = vec4<f32>(p);
    return Out16(fma(s, v.u, a.u), fma(s, v.v, a.v), fma(s, v.w, a.w), fma(s, v.x, a.x));
}

fn store_row(qi: u32, c: u32, a: Out16, inv: f32, head: u32, qb: u32) {
    if (qi >= params.lq) { return; }
    let o = ((qb + qi) * params.o_stride + head + c) / 4u;
    let end = min(params.d, c + 16u);
    if (c < end) { out[o] = st4(a.u * inv); }
    if (c + 4u < end) { out[o + 1u] = st4(a.v * inv); }
    if (c + 8u < end) { out[o + 2u] = st4(a.w * inv); }
    if (c + 12u < end) { out[o + 3u] = st4(a.x * inv); }
}

fn inv_sum(l: f32) -> f32 {
    return select(0.0, 1.0 / l, l > 0.0);
}

@compute @workgroup_size(256)
fn attention(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let tpr = params.tpr;
    let bq = params.rows;
    let bk = params.keys;
    let bq4 = bq / 4u;
    let q0 = params.row0 + wg.x * bq;
    let head = wg.y * params.d;
    let qb = wg.z * params.lq;
    let kb = wg.z * params.lk;
    let quads = params.d / 4u;

    // Phase 3's block: row group rg (rows 8 rg .. 8 rg + 7 of this workgroup,
    // score quads 2 rg and 2 rg + 1), head channels c0 .. c0 + 15.
    let rg = lid / tpr;
    let owns_rows = rg < bq4 / 2u;
    let c0 = (lid % tpr) * 16u;
    var a0 = Out16(); var a1 = Out16(); var a2 = Out16(); var a3 = Out16();
    var a4 = Out16(); var a5 = Out16(); var a6 = Out16(); var a7 = Out16();

    // Phase 1's block: query octet sq (rows sq*8..+7), key octet sk (keys
    // sk*8..+7), summed over the head's quads [c_begin, c_end). With few rows
    // (large heads) the blocks are too few for 256 invocations, so the head is
    // split into NSPLIT parts whose partial sums meet in workgroup memory.
    let nblocks = (bq / 8u) * (bk / 8u);
    let nsplit = max(1u, min(THREADS / nblocks, SCORES / (bq * bk)));
    let blk = lid % nblocks;
    let split = lid / nblocks;
    let sq = blk / (bk / 8u);
    let sk = blk % (bk / 8u);
    let chunk = (quads + nsplit - 1u) / nsplit;
    let c_begin = min(split * chunk, quads);
    let c_end = min(c_begin + chunk, quads);
    let scores_here = split < nsplit;

    if (lid < bq4) {
        row_max[lid] = vec4<f32>(NEG_INF);
        row_sum[lid] = vec4<f32>(0.0);
    }
    workgroupBarrier();

    var kend = params.lk;
    if (params.causal != 0u) { kend = min(kend, q0 + bq); }
    for (var j0 = 0u; j0 < kend; j0 += bk) {
        // 1. an 8 x 8 block of scores (16 vec4 loads per 256 multiply-adds)
        if (scores_here) {
            let qi = q0 + sq * 8u;
            let kj = j0 + sk * 8u;
            // Rows past the ends read row 0 (always there) and are masked below.
            var kp = array<u32, 8>();
            var qp = array<u32, 8>();
            for (var r = 0u; r < 8u; r++) {
                kp[r] = k_quad_index(kb, kj + r, head);
                qp[r] = q_quad_index(qb, qi + r, head);
            }
            // s[r]: query r against keys 0..3, s[8 + r]: against keys 4..7
            var s = array<vec4<f32>, 16>();
            for (var c = c_begin; c < c_end; c++) {
                let k0 = mat4x4<f32>(ld4(k[kp[0] + c]), ld4(k[kp[1] + c]), ld4(k[kp[2] + c]), ld4(k[kp[3] + c]));
                let k1 = mat4x4<f32>(ld4(k[kp[4] + c]), ld4(k[kp[5] + c]), ld4(k[kp[6] + c]), ld4(k[kp[7] + c]));
                // x * k0 = (x . key0, x . key1, x . key2, x . key3)
                let x0 = ld4(q[qp[0] + c]); s[0] += x0 * k0; s[8] += x0 * k1;
                let x1 = ld4(q[qp[1] + c]); s[1] += x1 * k0; s[9] += x1 * k1;
                let x2 = ld4(q[qp[2] + c]); s[2] += x2 * k0; s[10] += x2 * k1;
                let x3 = ld4(q[qp[3] + c]); s[3] += x3 * k0; s[11] += x3 * k1;
                let x4 = ld4(q[qp[4] + c]); s[4] += x4 * k0; s[12] += x4 * k1;
                let x5 = ld4(q[qp[5] + c]); s[5] += x5 * k0; s[13] += x5 * k1;
                let x6 = ld4(q[qp[6] + c]); s[6] += x6 * k0; s[14] += x6 * k1;
                let x7 = ld4(q[qp[7] + c]); s[7] += x7 * k0; s[15] += x7 * k1;
            }
            // Transposed into key-major quads of four rows.
            let base = split * bk * bq4 + sk * 8u * bq4 + sq * 2u;
            for (var h = 0u; h < 2u; h++) {
                let lo = transpose(mat4x4<f32>(s[8u * h], s[8u * h + 1u], s[8u * h + 2u], s[8u * h + 3u]));
                let hi = transpose(mat4x4<f32>(s[8u * h + 4u], s[8u * h + 5u], s[8u * h + 6u], s[8u * h + 7u]));
                let at = base + 4u * h * bq4;
                for (var j = 0u; j < 4u; j++) {
                    scores[at + j * bq4] = lo[j];
                    scores[at + j * bq4 + 1u] = hi[j];
                }
            }
        }
        workgroupBarrier();
        // 2. online softmax bookkeeping, one invocation per four rows: add
        // the parts of a split head, scale and mask (here rather than in a
        // pass of their own: one barrier and one sweep of the scores fewer),
        // then update the rows' max and sum and turn scores into probabilities.
        // Loop bounds are per invocation (0 where idle), not only the `if`:
        // lavapipe runs an `if` body under a lane mask even when no lane is
        // in it, but leaves a loop once no lane is.
        let keys_here = select(0u, bk, lid < bq4);
        if (lid < bq4) {
            let qi = q0 + lid * 4u;
            let rows = vec4<u32>(qi, qi + 1u, qi + 2u, qi + 3u);
            let rows_in = rows < vec4<u32>(params.lq);
            let m_old = row_max[lid];
            var m_new = m_old;
            for (var jj = 0u; jj < keys_here; jj++) {
                let e = jj * bq4 + lid;
                var sum = scores[e];
                for (var sp = 1u; sp < nsplit; sp++) { sum += scores[sp * bk * bq4 + e]; }
                let kj = j0 + jj;
                let seen = rows_in & vec4<bool>(kj < params.lk) & ((vec4<u32>(kj) <= rows) | vec4<bool>(params.causal == 0u));
                let s = select(vec4<f32>(NEG_INF), sum * params.scale, seen);
                scores[e] = s;
                m_new = max(m_new, s);
            }
            var sum = vec4<f32>(0.0);
            for (var jj = 0u; jj < keys_here; jj++) {
                let s = scores[jj * bq4 + lid];
                let p = select(vec4<f32>(0.0), exp(s - m_new), s > vec4<f32>(NEG_INF));
                scores[jj * bq4 + lid] = p;
                sum += p;
            }
            let rescale = select(vec4<f32>(1.0), exp(m_old - m_new), m_old > vec4<f32>(NEG_INF));
            row_max[lid] = m_new;
            row_sum[lid] = row_sum[lid] * rescale + sum;
            row_rescale[lid] = rescale;
        }
        workgroupBarrier();
        // 3. an 8 x 16 block of probability-weighted values
        if (owns_rows) {
            let f = row_rescale[rg * 2u];
            let g = row_rescale[rg * 2u + 1u];
            a0 = scale16(a0, f.x); a1 = scale16(a1, f.y); a2 = scale16(a2, f.z); a3 = scale16(a3, f.w);
            a4 = scale16(a4, g.x); a5 = scale16(a5, g.y); a6 = scale16(a6, g.z); a7 = scale16(a7, g.w);
            let jn = select(0u, min(bk, params.lk - j0), owns_rows);
            for (var jj = 0u; jj < jn; jj++) {
                let vp = ((kb + j0 + jj) * params.v_stride + head + c0) / 4u;
                let p = scores[jj * bq4 + rg * 2u];
                let pp = scores[jj * bq4 + rg * 2u + 1u];
                let vr = Out16(v_quad(vp, c0), v_quad(vp + 1u, c0 + 4u), v_quad(vp + 2u, c0 + 8u), v_quad(vp + 3u, c0 + 12u));
                a0 = add_pv(a0, p.x, vr); a1 = add_pv(a1, p.y, vr); a2 = add_pv(a2, p.z, vr); a3 = add_pv(a3, p.w, vr);
                a4 = add_pv(a4, pp.x, vr); a5 = add_pv(a5, pp.y, vr); a6 = add_pv(a6, pp.z, vr); a7 = add_pv(a7, pp.w, vr);
            }
        }
        workgroupBarrier();
    }

    if (owns_rows) {
        let l = row_sum[rg * 2u];
        let m = row_sum[rg * 2u + 1u];
        let r0 = q0 + rg * 8u;
        store_row(r0, c0, a0, inv_sum(l.x), head, qb);
        store_row(r0 + 1u, c0, a1, inv_sum(l.y), head, qb);
        store_row(r0 + 2u, c0, a2, inv_sum(l.z), head, qb);
        store_row(r0 + 3u, c0, a3, inv_sum(l.w), head, qb);
        store_row(r0 + 4u, c0, a4, inv_sum(m.x), head, qb);
        store_row(r0 + 5u, c0, a5, inv_sum(m.y), head, qb);
        store_row(r0 + 6u, c0, a6, inv_sum(m.z), head, qb);
        store_row(r0 + 7u, c0, a7, inv_sum(m.w), head, qb);
    }
}
