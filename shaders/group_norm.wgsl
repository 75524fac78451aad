// Group normalization with optional fused SiLU:
//
//   y[n, c, p] = (x[n, c, p] - mean[n, g]) / sqrt(var[n, g] + eps) * gamma[c] + beta[c]
//   then y * sigmoid(y) when silu = 1; g = c / (C / groups); mean and (biased)
//   variance over the C/groups channels x HW positions of group g.
//   Matches torch.nn.GroupNorm(groups, C, eps) (followed by F.silu when fused).
//   Statistics in f32, two passes (mean, then squared deviations) for accuracy.
//   HW must be even (outputs are written in pairs; a pair never straddles channels).
//
// Includes workgroup_reduce.wgsl (workgroup_sum, WG = 256).
// Bindings: 0 uniform Params, 1 x (read), 2 gamma (read), 3 beta (read), 4 out (read_write).
// Dispatch: (run, 1) workgroups of 256, one per (image, group) of a run
// starting at group0 (all N * groups when the tensor fits one binding); a
// (groups, N) grid with group0 = 0 reads the same.

struct Params {
    channels: u32,
    hw: u32,
    groups: u32,
    silu: u32,
    eps: f32,
    // The (image, group) pair, counted image-major, of this dispatch's first
    // workgroup: x and out then hold that group onwards (a tensor over the
    // binding limit is normalized a run of groups at a time).
    group0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<S2>;
@group(0) @binding(2) var<storage, read> gamma: array<S2>;
@group(0) @binding(3) var<storage, read> beta: array<S2>;
@group(0) @binding(4) var<storage, read_write> out: array<S2>;

@compute @workgroup_size(256)
fn group_norm(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let cpg = params.channels / params.groups;
    let count = cpg * params.hw;
    let here = wg.y * params.groups + wg.x; // from the binding's start
    let first_channel = ((params.group0 + here) % params.groups) * cpg;
    // First and one-past-last pair of this (image, group): contiguous in NCHW.
    let p0 = (here * count) / 2u;
    let p1 = p0 + count / 2u;

    var s = 0.0;
    for (var i = p0 + lid; i < p1; i += WG) {
        let v = ld2(x[i]);
        s += v.x + v.y;
    }
    let mean = workgroup_sum(lid, s) / f32(count);

    var q = 0.0;
    for (var i = p0 + lid; i < p1; i += WG) {
        let d = ld2(x[i]) - mean;
        q += dot(d, d);
    }
    let rstd = inverseSqrt(workgroup_sum(lid, q) / f32(count) + params.eps);

    for (var i = p0 + lid; i < p1; i += WG) {
        let c = first_channel + ((i - p0) * 2u) / params.hw;
        let g = ld1(gamma[c >> 1u], c);
        let b = ld1(beta[c >> 1u], c);
        var y = (ld2(x[i]) - mean) * rstd * g + b;
        if (params.silu != 0u) { y = y / (1.0 + exp(-y)); }
        out[i] = st2(y);
    }
}
