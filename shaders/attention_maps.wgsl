// Cross-attention maps for teaching (which latent pixels attend to which
// prompt token): for batch item `item`, each query's softmax over the M keys,
// averaged over heads, written key-major:
//
//   out[j, n] = 1/H sum_h softmax_j(scale * q[item, n, h] . k[item, j, h])
//
//   q [B, N, H*D] (latent pixels), k [B, M, H*D] (77 text tokens), out [M, N].
//   The same scores as attention.wgsl's; here kept instead of applied to V.
//   Each invocation owns one pair of queries (n even, n + 1), so N must be
//   even and M at most MAX_KEYS; heads accumulate in `out` (first one stores).
//
// Includes flat_index.wgsl (WG = 256, flat_index).
// Bindings: 0 uniform Params, 1 q (read), 2 k (read), 3 out (read_write).
// Dispatch: ceil(N / 2 / 256) workgroups.

struct Params {
    pairs: u32,
    n: u32,
    m: u32,
    heads: u32,
    d: u32,
    item: u32,
    scale: f32,
    _pad0: u32,
}

const MAX_KEYS: u32 = 80u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<S2>;
@group(0) @binding(2) var<storage, read> k: array<S2>;
@group(0) @binding(3) var<storage, read_write> out: array<S2>;

fn ldq(i: u32) -> f32 { return ld1(q[i >> 1u], i); }
fn ldk(i: u32) -> f32 { return ld1(k[i >> 1u], i); }

@compute @workgroup_size(WG)
fn attention_maps(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat_index(gid, nwg);
    if (i >= params.pairs) { return; }
    let n0 = 2u * i;
    let inner = params.heads * params.d;
    var sa: array<f32, MAX_KEYS>;
    var sb: array<f32, MAX_KEYS>;
    for (var h = 0u; h < params.heads; h++) {
        let qa = (params.item * params.n + n0) * inner + h * params.d;
        let qb = qa + inner;
        var ma = -3.0e38;
        var mb = -3.0e38;
        for (var j = 0u; j < params.m; j++) {
            let kj = (params.item * params.m + j) * inner + h * params.d;
            var da = 0.0;
            var db = 0.0;
            for (var c = 0u; c < params.d; c++) {
                let kv = ldk(kj + c);
                da += ldq(qa + c) * kv;
                db += ldq(qb + c) * kv;
            }
            sa[j] = da * params.scale;
            sb[j] = db * params.scale;
            ma = max(ma, sa[j]);
            mb = max(mb, sb[j]);
        }
        var za = 0.0;
        var zb = 0.0;
        for (var j = 0u; j < params.m; j++) {
            sa[j] = exp(sa[j] - ma);
            sb[j] = exp(sb[j] - mb);
            za += sa[j];
            zb += sb[j];
        }
        let wa = 1.0 / (za * f32(params.heads));
        let wb = 1.0 / (zb * f32(params.heads));
        for (var j = 0u; j < params.m; j++) {
            let o = (j * params.n + n0) >> 1u;
            var v = vec2<f32>(sa[j] * wa, sb[j] * wb);
            if (h > 0u) {
                v += ld2(out[o]);
            }
            out[o] = st2(v);
        }
    }
}
