// Storage prelude: f16 storage with the adapter's `shader-f16` feature.
// Loads widen to f32 so reductions accumulate in f32 (DESIGN.md, kernel rules).
enable f16;
alias S2 = vec2<f16>;
fn ld2(v: S2) -> vec2<f32> { return vec2<f32>(v); }
fn st2(v: vec2<f32>) -> S2 { return vec2<f16>(v); }

// CT: the type tiles are staged in workgroup memory: f16 halves that memory
// (bigger tiles within 16 KiB). Products widen to f32 first, as tensor cores
// do: an f16 product of two activations in the hundreds would overflow.
alias CT = f16;

// Element i of a buffer of pairs, as f32: `ld1(buf[i >> 1u], i)`.
fn ld1(v: S2, i: u32) -> f32 { return ld2(v)[i & 1u]; }

// S4: the storage type of one QUAD of elements (kernels that read vec4s).
alias S4 = vec4<f16>;
fn ld4(v: S4) -> vec4<f32> { return vec4<f32>(v); }
fn st4(v: vec4<f32>) -> S4 { return vec4<f16>(v); }
