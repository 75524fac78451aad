// Channel concatenation, NCHW (the UNet's skip connections):
//
//   out[n, c, p] = a[n, c, p] for c < Ca, else b[n, c - Ca, p]; out is [N, Ca + Cb, HW]
//   Matches torch.cat([a, b], dim=1). HW must be even (a pair never straddles channels).
//
// Includes flat_index.wgsl (WG = 256, flat_index).
// Bindings: 0 uniform Params, 1 a (read), 2 b (read), 3 out (read_write).
// Dispatch: ceil(out pairs / 256) workgroups, folded into (x, y) past the limit.

struct Params {
    out_pairs: u32,
    ca: u32,
    cb: u32,
    hw: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<S2>;
@group(0) @binding(2) var<storage, read> b: array<S2>;
@group(0) @binding(3) var<storage, read_write> out: array<S2>;

@compute @workgroup_size(WG)
fn concat_channels(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= params.out_pairs) { return; }
    let half_hw = params.hw / 2u;
    let c_total = params.ca + params.cb;
    let plane = i / half_hw;
    let p = i % half_hw;
    let n = plane / c_total;
    let c = plane % c_total;
    if (c < params.ca) {
        out[i] = a[(n * params.ca + c) * half_hw + p];
    } else {
        out[i] = b[(n * params.cb + c - params.ca) * half_hw + p];
    }
}
