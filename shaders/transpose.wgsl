// Batched 2-D transpose:
//
//   out[b, c, r] = x[b, r, c]      x is [B, R, C], out is [B, C, R]
//   Matches x.permute(0, 2, 1) (diffusers' Transformer2DModel moving NCHW
//   features to tokens and back). Each invocation writes one output pair
//   (r even, r + 1), so R must be even.
//
// Includes flat_index.wgsl (WG = 256, flat_index).
// Bindings: 0 uniform Params, 1 x (read), 2 out (read_write).
// Dispatch: ceil(out pairs / 256) workgroups, folded into (x, y) past the limit.

struct Params {
    out_pairs: u32,
    rows: u32,
    cols: u32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<S2>;
@group(0) @binding(2) var<storage, read_write> out: array<S2>;

@compute @workgroup_size(WG)
fn transpose(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= params.out_pairs) { return; }
    let o = i * 2u;
    let plane = params.rows * params.cols;
    let b = o / plane;
    let rem = o % plane;
    let c = rem / params.rows;
    let r = rem % params.rows;
    let s0 = b * plane + r * params.cols + c;
    let s1 = s0 + params.cols;
    out[i] = st2(vec2<f32>(ld1(x[s0 >> 1u], s0), ld1(x[s1 >> 1u], s1)));
}
