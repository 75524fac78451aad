// Storage prelude: f16 storage with the adapter's `shader-f16` feature.
// Loads widen to f32 so reductions accumulate in f32 (DESIGN.md, kernel rules).
enable f16;
alias S2 = vec2<f16>;
fn ld2(v: S2) -> vec2<f32> { return vec2<f32>(v); }
fn st2(v: vec2<f32>) -> S2 { return vec2<f16>(v); }
