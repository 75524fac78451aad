//! The WGSL sources, embedded at compile time so the wasm build needs no fetch.

use crate::ComputePath;
use crate::kernel::ParamsLayout;

/// One kernel family: a file in `shaders/`, and the Rust mirror of its
/// uniform `Params`.
#[derive(Clone, Copy, Debug)]
pub struct ShaderFile {
    pub name: &'static str,
    pub body: &'static str,
    pub params: ParamsLayout,
}

pub const ELEMENTWISE: ShaderFile = ShaderFile {
    name: "elementwise",
    body: include_str!("../../../shaders/elementwise.wgsl"),
    params: crate::ops::elementwise::PARAMS_LAYOUT,
};

/// Every kernel family, for the naga validation test.
pub const ALL: &[ShaderFile] = &[ELEMENTWISE];

/// The storage prelude for a compute path.
pub fn prelude(path: ComputePath) -> &'static str {
    match path {
        ComputePath::F32 => include_str!("../../../shaders/prelude_f32.wgsl"),
        ComputePath::F16Native => include_str!("../../../shaders/prelude_f16.wgsl"),
        ComputePath::F16Packed => include_str!("../../../shaders/prelude_f16_packed.wgsl"),
    }
}

/// The full source a pipeline is built from: prelude, then the kernel body.
pub fn source(file: ShaderFile, path: ComputePath) -> String {
    format!("{}\n{}", prelude(path), file.body)
}
