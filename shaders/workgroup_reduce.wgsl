// Shared reduction helper, included (textually) by the norm kernels.
// Workgroups are 256 invocations; `workgroup_sum` must be reached by all of
// them (uniform control flow) and returns the total to every invocation.

const WG: u32 = 256u;
var<workgroup> partial: array<f32, WG>;

fn workgroup_sum(lid: u32, v: f32) -> f32 {
    partial[lid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) { partial[lid] += partial[lid + s]; }
        workgroupBarrier();
    }
    let total = partial[0];
    workgroupBarrier();
    return total;
}
