// Storage prelude: f16 storage WITHOUT `shader-f16` (SwiftShader, many laptops).
// Two halves share one u32; kernels therefore read and write whole pairs, so no
// two invocations ever write the same word.
alias S2 = u32;
fn ld2(v: S2) -> vec2<f32> { return unpack2x16float(v); }
fn st2(v: vec2<f32>) -> S2 { return pack2x16float(v); }

// CT: the type tiles are staged in workgroup memory (no f16 type here).
alias CT = f32;

// Element i of a buffer of pairs, as f32: `ld1(buf[i >> 1u], i)`.
fn ld1(v: S2, i: u32) -> f32 { return ld2(v)[i & 1u]; }

// S4: the storage type of one QUAD of elements (kernels that read vec4s).
alias S4 = vec2<u32>;
fn ld4(v: S4) -> vec4<f32> { return vec4<f32>(unpack2x16float(v.x), unpack2x16float(v.y)); }
fn st4(v: vec4<f32>) -> S4 { return vec2<u32>(pack2x16float(v.xy), pack2x16float(v.zw)); }
