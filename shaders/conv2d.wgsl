// 2-D convolution as an implicit GEMM (no im2col buffer is ever written):
//
//   out[n, co, oy, ox] = bias[co] + sum_{ci, ky, kx} w[co, ci, ky, kx]
//                        * x[n, ci, oy * stride - pad + ky, ox * stride - pad + kx]
//   (zero outside the image). Matches torch.nn.functional.conv2d with square
//   stride and padding, dilation 1, groups 1, NCHW tensors. Optionally, in
//   the same pass: `+ channel_bias[n, co]` (a ResNet block's time embedding,
//   `h + temb[:, :, None, None]`) and `+ residual[n, co, oy, ox]` (its
//   shortcut; a transformer's input after proj_out).
//
// GEMM view: C[Cout, N*OH*OW] = W[Cout, Cin*KH*KW] . im2col(x)[Cin*KH*KW, N*OH*OW],
// the batch folded into the columns so small images (the UNet's 8x8 level,
// CFG batch 2) fill the 128-column tiles and each weight tile is read once for
// the whole batch. im2col is evaluated inside the B fill (x_at). OH*OW must be even
// (outputs are written in pairs, which then never straddle two images).
//
// Bindings: 0 uniform Params, 1 x (read), 2 w (read; declared by the weights
//           include: plain, or q8 with 5 its scales), 3 bias (read; ignored
//           when has_bias = 0), 4 out (read_write), 5 residual (read; shaped
//           and sliced like out), 6 channel_bias [N, cout_total] (read),
//           7 q8 scales. 5 and 6 are ignored unless their flags are set.
// Dispatch: (ceil(N*OH*OW / 128), ceil(Cout / 128), 1) workgroups of 128 (see gemm_tiles.wgsl).

struct Params {
    batch: u32,
    cin: u32,
    h: u32,
    w: u32,
    cout: u32,
    oh: u32,
    ow: u32,
    kh: u32,
    kw: u32,
    stride: u32,
    pad: u32,
    has_bias: u32,
    // A tensor over the binding limit is convolved a slice at a time: x
    // holds input channels ci0 .. ci0 + cin of one image, out output channels
    // co0 .. co0 + cout; w and bias are whole (w rows of w_row elements).
    // With accumulate, the slice adds to what out holds (a later run of
    // input channels), and the bias was added by the first.
    w_row: u32,
    ci0: u32,
    co0: u32,
    accumulate: u32,
    has_residual: u32,
    has_channel_bias: u32,
    // Image index of this dispatch's first image (one image at a time when
    // split) and the full output channel count: the channel bias's row.
    n0: u32,
    cout_total: u32,
    // First GEMM column (output pixel, batch folded in) of this dispatch, a
    // multiple of 128: a large convolution runs as several dispatches of
    // whole column tiles, so that none holds the GPU for long.
    p0: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<S2>;
@group(0) @binding(3) var<storage, read> bias: array<S2>;
@group(0) @binding(4) var<storage, read_write> out: array<S2>;
@group(0) @binding(5) var<storage, read> residual: array<S2>;
@group(0) @binding(6) var<storage, read> channel_bias: array<S2>;

/// W[co, kk] and W[co, kk + 1]; zero past the matrix. One pair load in the
/// ALIGNED variant (every row, and the slice's first tap, at an even
/// element), else element by element.
fn load_w_pair(co: u32, kk: u32, m: u32, k: u32) -> vec2<f32> {
    if (co >= m || kk >= k) { return vec2<f32>(0.0); }
    let row = params.co0 + co;
    let i = row * params.w_row + params.ci0 * params.kh * params.kw + kk;
    if (ALIGNED) { return weight_pair(row, i); }
    var v = vec2<f32>(weight_one(row, i), 0.0);
    if (kk + 1u < k) { v.y = weight_one(row, i + 1u); }
    return v;
}

fn load_a_4x2(batch: u32, co: u32, kk: u32, m: u32, k: u32) -> Quad2 {
    let p0 = load_w_pair(co, kk, m, k);
    let p1 = load_w_pair(co + 1u, kk, m, k);
    let p2 = load_w_pair(co + 2u, kk, m, k);
    let p3 = load_w_pair(co + 3u, kk, m, k);
    return Quad2(vec4<f32>(p0.x, p1.x, p2.x, p3.x), vec4<f32>(p0.y, p1.y, p2.y, p3.y));
}

/// A GEMM column as its output pixel (image, row, column), or a GEMM k as
/// its kernel tap (input channel, tap row, tap column): three digits of a
/// mixed-radix number whose two lower radices are `mid` and `lo`.
struct Digits {
    hi: u32,
    mid: u32,
    lo: u32,
}

// Divisions by run-time values are slow on every GPU (a long instruction
// sequence) and scalarized on CPU adapters (eight integer divisions per
// SIMD instruction on lavapipe, more than the unit's multiply-adds), so a
// fill unit finds its first column and k by float reciprocals (div_by) and
// walks to its neighbours by increments.

/// Reciprocals of the radices, set once per invocation by the entry point.
var<private> recip_taps: f32; // 1 / (kh * kw)
var<private> recip_kw: f32;
var<private> recip_plane: f32; // 1 / (oh * ow)
var<private> recip_ow: f32;

/// v / d for v < 2^22 (every index here), given r = 1 / d: the float
/// quotient is within one of the true one, and one correction each way
/// makes it exact.
fn div_by(v: u32, d: u32, r: f32) -> u32 {
    var q = u32(f32(v) * r);
    q = select(q, q - 1u, q * d > v);
    q = select(q, q + 1u, (q + 1u) * d <= v);
    return q;
}

fn digits_of(v: u32, mid: u32, lo: u32, r_midlo: f32, r_lo: f32) -> Digits {
    let hi = div_by(v, mid * lo, r_midlo);
    let r = v - hi * mid * lo;
    let m = div_by(r, lo, r_lo);
    return Digits(hi, m, r - m * lo);
}

/// The digits of v + 1.
fn next_digits(d: Digits, mid: u32, lo: u32) -> Digits {
    let wrap_lo = d.lo + 1u == lo;
    let m = select(d.mid, d.mid + 1u, wrap_lo);
    let wrap_mid = m == mid;
    return Digits(select(d.hi, d.hi + 1u, wrap_mid), select(m, 0u, wrap_mid), select(d.lo + 1u, 0u, wrap_lo));
}

/// im2col(x) at tap t (ci, ky, kx), pixel p (image, oy, ox): zero in the
/// padding or when not `inside` the GEMM's bounds.
fn x_at(t: Digits, p: Digits, inside: bool) -> f32 {
    let iy = i32(p.mid * params.stride + t.mid) - i32(params.pad);
    let ix = i32(p.lo * params.stride + t.lo) - i32(params.pad);
    if (!inside || iy < 0 || ix < 0 || iy >= i32(params.h) || ix >= i32(params.w)) { return 0.0; }
    let i = ((p.hi * params.cin + t.hi) * params.h + u32(iy)) * params.w + u32(ix);
    return ld1(x[i >> 1u], i);
}

fn load_b_2x4(batch: u32, kk: u32, col: u32, n: u32, k: u32) -> Quad2 {
    let t0 = digits_of(kk, params.kh, params.kw, recip_taps, recip_kw);
    let t1 = next_digits(t0, params.kh, params.kw);
    var p = digits_of(col, params.oh, params.ow, recip_plane, recip_ow);
    var q = Quad2(vec4<f32>(0.0), vec4<f32>(0.0));
    // Columns past N stay zero by the loop bound, not by a test inside it:
    // where a tile sticks out past N (small images), whole SIMD groups then
    // skip the fill instead of computing masked zeros.
    let cols = select(0u, min(4u, n - col), col < n);
    for (var j = 0u; j < cols; j++) {
        q.k0[j] = x_at(t0, p, kk < k);
        q.k1[j] = x_at(t1, p, kk + 1u < k);
        p = next_digits(p, params.oh, params.ow);
    }
    return q;
}

@compute @workgroup_size(128)
fn conv2d(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let m = params.cout;
    let plane = params.oh * params.ow;
    let n = params.batch * plane;
    let k = params.cin * params.kh * params.kw;
    let row0 = wg.y * BM;
    let col0 = params.p0 + wg.x * BN;
    recip_taps = 1.0 / f32(params.kh * params.kw);
    recip_kw = 1.0 / f32(params.kw);
    recip_plane = 1.0 / f32(plane);
    recip_ow = 1.0 / f32(params.ow);
    let acc = gemm_accumulate(0u, row0, col0, lid, m, n, k);
    let tx = block_tx(lid);
    let ty = block_ty(lid);
    for (var i = 0u; i < BLOCK_ROWS; i++) {
        let co = row0 + ty * BLOCK_ROWS + i;
        if (co >= m) { break; }
        var b = 0.0;
        if (params.has_bias != 0u && params.accumulate == 0u) { b = ld1(bias[(params.co0 + co) >> 1u], params.co0 + co); }
        let r = block_row(acc, i);
        for (var j = 0u; j < BLOCK_COLS; j += 2u) {
            let p = col0 + tx * BLOCK_COLS + j;
            if (p >= n) { break; }
            let image = div_by(p, plane, recip_plane);
            let o = (image * m + co) * plane + p - image * plane;
            var v = row_pair(r, j) + b;
            if (params.accumulate != 0u) {
                v += ld2(out[o >> 1u]);
            } else {
                // Added once, by the first run of input channels.
                if (params.has_channel_bias != 0u) {
                    let c = (params.n0 + image) * params.cout_total + params.co0 + co;
                    v += ld1(channel_bias[c >> 1u], c);
                }
                if (params.has_residual != 0u) { v += ld2(residual[o >> 1u]); }
            }
            out[o >> 1u] = st2(v);
        }
    }
}
