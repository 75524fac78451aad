// Weight reads of the GEMM kernels (matmul.wgsl, conv2d.wgsl) from plain
// storage, f32 or f16 like the activations. Included before the kernel body;
// weights_q8.wgsl offers the same two functions over int8 weights.
//
// Binding 2: the weight (or matmul's B).

@group(0) @binding(2) var<storage, read> weights: array<S2>;

/// Elements i and i + 1 of the weight, i even (a pair load); `row` is the
/// output channel (unused here).
fn weight_pair(row: u32, i: u32) -> vec2<f32> {
    return ld2(weights[i >> 1u]);
}

/// Element i of the weight.
fn weight_one(row: u32, i: u32) -> f32 {
    return ld1(weights[i >> 1u], i);
}
