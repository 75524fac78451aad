// Nearest-neighbour 2x upsampling, NCHW:
//
//   out[n, c, y, x] = in[n, c, y / 2, x / 2]     out is [N, C, 2H, 2W]
//   Matches torch.nn.functional.interpolate(x, scale_factor=2.0, mode="nearest")
//   (diffusers Upsample2D). Each output pair (x even, x + 1) reads one input element.
//
// Includes flat_index.wgsl (WG = 256, flat_index).
// Bindings: 0 uniform Params, 1 x (read), 2 out (read_write).
// Dispatch: ceil(out pairs / 256) workgroups, folded into (x, y) past the limit.

struct Params {
    out_pairs: u32,
    h: u32,
    w: u32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<S2>;
@group(0) @binding(2) var<storage, read_write> out: array<S2>;

@compute @workgroup_size(WG)
fn upsample_nearest2x(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= params.out_pairs) { return; }
    let ow = params.w * 2u;
    let o = i * 2u;
    let plane = o / (4u * params.h * params.w); // n * C + c
    let rem = o % (4u * params.h * params.w);
    let src = (plane * params.h + (rem / ow) / 2u) * params.w + (rem % ow) / 2u;
    let val = ld1(x[src >> 1u], src);
    out[i] = st2(vec2<f32>(val, val));
}
