// Storage prelude: f32 storage, f32 arithmetic (parity tests, and debugging).
// Every kernel is written against these names and is prefixed with exactly one
// prelude by the Rust side (roentgen_gpu::shaders::source).
//   S2      the storage type of one PAIR of elements
//   ld2(v)  pair -> vec2<f32>
//   st2(v)  vec2<f32> -> pair
alias S2 = vec2<f32>;
fn ld2(v: S2) -> vec2<f32> { return v; }
fn st2(v: vec2<f32>) -> S2 { return v; }

// CT: the type tiles are staged in workgroup memory.
alias CT = f32;

// Element i of a buffer of pairs, as f32: `ld1(buf[i >> 1u], i)`.
fn ld1(v: S2, i: u32) -> f32 { return ld2(v)[i & 1u]; }

// S4: the storage type of one QUAD of elements (kernels that read vec4s).
alias S4 = vec4<f32>;
fn ld4(v: S4) -> vec4<f32> { return v; }
fn st4(v: vec4<f32>) -> S4 { return v; }
