// 2-D convolution as an implicit GEMM (no im2col buffer is ever written):
//
//   out[n, co, oy, ox] = bias[co] + sum_{ci, ky, kx} w[co, ci, ky, kx]
//                        * x[n, ci, oy * stride - pad + ky, ox * stride - pad + kx]
//   (zero outside the image). Matches torch.nn.functional.conv2d with square
//   stride and padding, dilation 1, groups 1, NCHW tensors.
//
// GEMM view per image: C[Cout, OH*OW] = W[Cout, Cin*KH*KW] . im2col(x)[Cin*KH*KW, OH*OW];
// im2col is evaluated inside load_b. OH*OW must be even (outputs written in pairs).
//
// Bindings: 0 uniform Params, 1 x (read), 2 w (read), 3 bias (read; ignored when
//           has_bias = 0), 4 out (read_write).
// Dispatch: (ceil(OH*OW / 64), ceil(Cout / 64), N) workgroups of 64 (see gemm_tiles.wgsl).

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
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<S2>;
@group(0) @binding(2) var<storage, read> wt: array<S2>;
@group(0) @binding(3) var<storage, read> bias: array<S2>;
@group(0) @binding(4) var<storage, read_write> out: array<S2>;

fn load_a(batch: u32, co: u32, kk: u32) -> f32 {
    let i = co * params.cin * params.kh * params.kw + kk;
    return ld1(wt[i >> 1u], i);
}

fn load_b(batch: u32, kk: u32, p: u32) -> f32 {
    let taps = params.kh * params.kw;
    let ci = kk / taps;
    let r = kk % taps;
    let ky = r / params.kw;
    let kx = r % params.kw;
    let iy = i32((p / params.ow) * params.stride + ky) - i32(params.pad);
    let ix = i32((p % params.ow) * params.stride + kx) - i32(params.pad);
    if (iy < 0 || ix < 0 || iy >= i32(params.h) || ix >= i32(params.w)) { return 0.0; }
    let i = ((batch * params.cin + ci) * params.h + u32(iy)) * params.w + u32(ix);
    return ld1(x[i >> 1u], i);
}

@compute @workgroup_size(64)
fn conv2d(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let m = params.cout;
    let n = params.oh * params.ow;
    let k = params.cin * params.kh * params.kw;
    let row0 = wg.y * BM;
    let col0 = wg.x * BN;
    let acc = gemm_accumulate(wg.z, row0, col0, lid, m, n, k);
    let tx = lid % 8u;
    let ty = lid / 8u;
    for (var i = 0u; i < 8u; i++) {
        let co = row0 + ty * 8u + i;
        if (co >= m) { break; }
        var b = 0.0;
        if (params.has_bias != 0u) { b = ld1(bias[co >> 1u], co); }
        let r = block_row(acc, i);
        for (var j = 0u; j < 8u; j += 2u) {
            let p = col0 + tx * 8u + j;
            if (p >= n) { break; }
            let o = (wg.z * m + co) * n + p;
            out[o >> 1u] = st2(row_pair(r, j) + b);
        }
    }
}
