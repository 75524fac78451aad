// Elementwise kernels: out = f(a) or f(a, b), one PAIR of elements per invocation.
//
// Formulas (matching PyTorch):
//   add        a + b                      torch.add
//   mul        a * b                      torch.mul
//   scale      a * params.scalar          torch.mul(a, s)
//   silu       a * sigmoid(a)             torch.nn.functional.silu
//   gelu       0.5 a (1 + erf(a / sqrt2)) torch.nn.functional.gelu (approximate="none")
//   quick_gelu a * sigmoid(1.702 a)       transformers' QuickGELUActivation (CLIP)
//   geglu      h * gelu(g) where a = [rows, 2F] = [h | g] per row; out [rows, F]
//              (diffusers GEGLU: `hidden, gate = proj(x).chunk(2, -1)`); F = inner
//   add_channel_bias  a[n, c, p] + b[n, c] for a [N, C, inner] and b [N, C]
//              (a ResNet block adding its time embedding: `h + temb[:, :, None, None]`)
//
// Includes flat_index.wgsl (WG = 256, flat_index) and gelu.wgsl (erf4).
// Bindings: 0 uniform Params, 1 a (read), 2 b (read; ignored by unary ops),
//           3 out (read_write). Buffers hold ceil(n/2) pairs; the pad half is junk.
//           `pairs` counts OUTPUT pairs. geglu needs F even, add_channel_bias inner even.
// Dispatch: ceil(pairs / WG) workgroups, folded into (x, y) when over the
//           per-dimension limit; the flat pair index is x + y * num_workgroups.x * WG.

struct Params {
    pairs: u32,
    scalar: f32,
    inner: u32,
    channels: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<S2>;
@group(0) @binding(2) var<storage, read> b: array<S2>;
@group(0) @binding(3) var<storage, read_write> out: array<S2>;

fn sigmoid(x: vec2<f32>) -> vec2<f32> {
    return 1.0 / (1.0 + exp(-x));
}

// erf for a pair (gelu.wgsl's, on half a vec4).
fn erf(x: vec2<f32>) -> vec2<f32> {
    return erf4(vec4<f32>(x, 0.0, 0.0)).xy;
}

@compute @workgroup_size(WG)
fn add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= params.pairs) { return; }
    out[i] = st2(ld2(a[i]) + ld2(b[i]));
}

@compute @workgroup_size(WG)
fn mul(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= params.pairs) { return; }
    out[i] = st2(ld2(a[i]) * ld2(b[i]));
}

@compute @workgroup_size(WG)
fn scale(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= params.pairs) { return; }
    out[i] = st2(ld2(a[i]) * params.scalar);
}

@compute @workgroup_size(WG)
fn silu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= params.pairs) { return; }
    let x = ld2(a[i]);
    out[i] = st2(x * sigmoid(x));
}

@compute @workgroup_size(WG)
fn gelu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= params.pairs) { return; }
    let x = ld2(a[i]);
    out[i] = st2(0.5 * x * (1.0 + erf(x * 0.70710678118654752)));
}

@compute @workgroup_size(WG)
fn quick_gelu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= params.pairs) { return; }
    let x = ld2(a[i]);
    out[i] = st2(x * sigmoid(1.702 * x));
}

@compute @workgroup_size(WG)
fn geglu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= params.pairs) { return; }
    let half_f = params.inner / 2u;
    let row = i / half_f;
    let col = i % half_f;
    let h = ld2(a[row * params.inner + col]);
    let g = ld2(a[row * params.inner + half_f + col]);
    out[i] = st2(h * 0.5 * g * (1.0 + erf(g * 0.70710678118654752)));
}

@compute @workgroup_size(WG)
fn add_channel_bias(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= params.pairs) { return; }
    let nc = (i * 2u) / params.inner; // n * C + c
    out[i] = st2(ld2(a[i]) + ld1(b[nc >> 1u], nc));
}
