// Sinusoidal timestep embedding (the UNet's `time_proj`):
//
//   half = dim / 2; f_i = exp(-ln(max_period) * i / (half - shift)); a_i = t * f_i
//   out[n] = [cos(a), sin(a)] when flip_sin_to_cos, else [sin(a), cos(a)]
//   Matches diffusers.models.embeddings.get_timestep_embedding (SD v1 uses
//   flip_sin_to_cos=True, downscale_freq_shift=0, max_period=10000). The same
//   timestep fills all N rows (the CFG batch). dim must be even.
//
// Bindings: 0 uniform Params, 1 out (read_write) [N, dim].
// Dispatch: ceil(N * dim / 2 / 64) workgroups of 64.

struct Params {
    rows: u32,
    dim: u32,
    flip_sin_to_cos: u32,
    _pad0: u32,
    timestep: f32,
    shift: f32,
    max_period: f32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> out: array<S2>;

fn value(col: u32) -> f32 {
    let half = params.dim / 2u;
    let i = col % half;
    let freq = exp(-log(params.max_period) * f32(i) / (f32(half) - params.shift));
    let arg = params.timestep * freq;
    let first_half = col < half;
    // first half is cos when flipped, sin otherwise
    if (first_half == (params.flip_sin_to_cos != 0u)) { return cos(arg); }
    return sin(arg);
}

@compute @workgroup_size(64)
fn timestep_embedding(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= params.rows * params.dim / 2u) { return; }
    let col = (i * 2u) % params.dim;
    out[i] = st2(vec2<f32>(value(col), value(col + 1u)));
}
