// Decoded image to displayable pixels:
//
//   v = round(clamp(x / 2 + 0.5, 0, 1) * 255) for x [3, H, W] in [-1, 1]
//   pixel p = R | G << 8 | B << 16 | 255 << 24  (RGBA8 in memory order, for
//   ImageData / PNG). Matches diffusers' VaeImageProcessor.postprocess
//   (`(image / 2 + 0.5).clamp(0, 1)`, then numpy `(x * 255).round()`): WGSL's
//   round() also sends halfway cases to even.
//
// Bindings: 0 uniform Params, 1 x (read) one image [3, H, W], 2 out (read_write) u32 [H*W].
// Dispatch: ceil(H*W / 256) workgroups of 256.

struct Params {
    pixels: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<S2>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

fn level(i: u32) -> u32 {
    let v = clamp(ld1(x[i >> 1u], i) * 0.5 + 0.5, 0.0, 1.0);
    return u32(round(v * 255.0));
}

@compute @workgroup_size(256)
fn to_rgba8(@builtin(global_invocation_id) gid: vec3<u32>) {
    let p = gid.x;
    if (p >= params.pixels) { return; }
    let n = params.pixels;
    out[p] = level(p) | (level(n + p) << 8u) | (level(2u * n + p) << 16u) | (255u << 24u);
}
