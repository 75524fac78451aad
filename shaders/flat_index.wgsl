// Shared 1-D indexing, included (textually) by the elementwise-style kernels.
// A dispatch of more workgroups than one dimension allows is folded into
// (x, y) by the host (kernel::fold_workgroups); this undoes the fold.

override WG: u32 = 256u;

fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}
