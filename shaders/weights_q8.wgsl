// Weight reads of the GEMM kernels from q8 storage: int8 values, four to a
// u32 word (little-endian, row-major as the f16 weight would be), times one
// f32 scale per output channel; dequantized as the tiles are filled, so the
// weights stay int8 in GPU memory (half of f16) and the arithmetic is what
// the plain path does. Matches `roentgen_weights::q8::dequantize`.
//
// Bindings: 2 the int8 words, 7 the scales (f32, one per row).

@group(0) @binding(2) var<storage, read> weights: array<u32>;
@group(0) @binding(7) var<storage, read> weight_scales: array<f32>;

/// Byte `b` (0..3) of `word` as a signed integer, in f32: shift it to the
/// top, then back down arithmetically.
fn q8_byte(word: u32, b: u32) -> f32 {
    return f32(bitcast<i32>(word << (24u - 8u * b)) >> 24u);
}

/// Elements i and i + 1 (i even: never across a word) of output channel `row`.
fn weight_pair(row: u32, i: u32) -> vec2<f32> {
    let word = weights[i >> 2u];
    let b = i & 3u;
    return vec2<f32>(q8_byte(word, b), q8_byte(word, b + 1u)) * weight_scales[row];
}

fn weight_one(row: u32, i: u32) -> f32 {
    return q8_byte(weights[i >> 2u], i & 3u) * weight_scales[row];
}
