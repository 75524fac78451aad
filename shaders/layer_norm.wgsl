// Layer normalization over the last dimension:
//
//   y[r, i] = (x[r, i] - mean[r]) / sqrt(var[r] + eps) * gamma[i] + beta[i]
//   Matches torch.nn.LayerNorm(D, eps). Statistics in f32, two passes.
//   D must be even (rows are read and written in pairs).
//
// Includes workgroup_reduce.wgsl (workgroup_sum, WG = 256).
// Bindings: 0 uniform Params, 1 x (read), 2 gamma (read), 3 beta (read), 4 out (read_write).
// Dispatch: `layer_norm`: one workgroup of 256 per row, folded into (x, y)
//           past the per-dimension limit: row = x + y * num_workgroups.x.
//           `layer_norm_rows` (short rows, D <= ROWS_MAX_D in layer_norm.rs):
//           one invocation per row, 64 rows a workgroup, no barriers.

struct Params {
    rows: u32,
    d: u32,
    eps: f32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<S2>;
@group(0) @binding(2) var<storage, read> gamma: array<S2>;
@group(0) @binding(3) var<storage, read> beta: array<S2>;
@group(0) @binding(4) var<storage, read_write> out: array<S2>;

@compute @workgroup_size(256)
fn layer_norm(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let row = wg.x + wg.y * nwg.x;
    // Uniform per workgroup, so returning keeps barriers in uniform control flow.
    if (row >= params.rows) { return; }
    let half_d = params.d / 2u;
    let p0 = row * half_d;

    var s = 0.0;
    for (var i = lid; i < half_d; i += WG) {
        let v = ld2(x[p0 + i]);
        s += v.x + v.y;
    }
    let mean = workgroup_sum(lid, s) / f32(params.d);

    var q = 0.0;
    for (var i = lid; i < half_d; i += WG) {
        let dv = ld2(x[p0 + i]) - mean;
        q += dot(dv, dv);
    }
    let rstd = inverseSqrt(workgroup_sum(lid, q) / f32(params.d) + params.eps);

    for (var i = lid; i < half_d; i += WG) {
        let y = (ld2(x[p0 + i]) - mean) * rstd * ld2(gamma[i]) + ld2(beta[i]);
        out[p0 + i] = st2(y);
    }
}

// Short rows (the demo model's 96 and 144 channels, CLIP's 64): a workgroup
// of 256 per row would leave most invocations idle behind sixteen barriers,
// which a software adapter pays for in full (SwiftShader: 35% of a demo
// model step). Each invocation normalizes one row on its own, in the same
// two passes.
@compute @workgroup_size(64)
fn layer_norm_rows(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
    let row = (wg.x + wg.y * nwg.x) * 64u + lid;
    if (row >= params.rows) { return; }
    let half_d = params.d / 2u;
    let p0 = row * half_d;

    var s = 0.0;
    for (var i = 0u; i < half_d; i++) {
        let v = ld2(x[p0 + i]);
        s += v.x + v.y;
    }
    let mean = s / f32(params.d);

    var q = 0.0;
    for (var i = 0u; i < half_d; i++) {
        let dv = ld2(x[p0 + i]) - mean;
        q += dot(dv, dv);
    }
    let rstd = inverseSqrt(q / f32(params.d) + params.eps);

    for (var i = 0u; i < half_d; i++) {
        let y = (ld2(x[p0 + i]) - mean) * rstd * ld2(gamma[i]) + ld2(beta[i]);
        out[p0 + i] = st2(y);
    }
}
