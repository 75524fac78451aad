// Shared reduction helper, included (textually) by the norm kernels.
// Workgroups are 256 invocations; `workgroup_sum` must be reached by all of
// them (uniform control flow) and returns the total to every invocation.
//
// Two barriers, not a tree's ten: 16 invocations each add 16 partials, then
// every invocation adds those 16. On GPUs the difference is small; on CPU
// adapters (SwiftShader, lavapipe) a workgroup's invocations run as a few
// SIMD groups that the driver switches between at every barrier, and the
// switches, not the adds, were most of a group norm's time.

const WG: u32 = 256u;
const WG_ROOT: u32 = 16u; // sqrt(WG)
var<workgroup> partial: array<f32, WG>;
var<workgroup> partial_sums: array<f32, WG_ROOT>;

fn workgroup_sum(lid: u32, v: f32) -> f32 {
    partial[lid] = v;
    workgroupBarrier();
    if (lid < WG_ROOT) {
        var s = 0.0;
        for (var i = 0u; i < WG_ROOT; i++) { s += partial[lid * WG_ROOT + i]; }
        partial_sums[lid] = s;
    }
    workgroupBarrier();
    // No third barrier: a next call writes `partial` (read only before the
    // second barrier) and then waits at its own first barrier before
    // anyone writes `partial_sums` again.
    var total = 0.0;
    for (var i = 0u; i < WG_ROOT; i++) { total += partial_sums[i]; }
    return total;
}
