//! The WGSL sources, embedded at compile time so the wasm build needs no fetch.

use crate::ComputePath;
use crate::kernel::ParamsLayout;

/// One kernel family: a file in `shaders/`, and the Rust mirror of its
/// uniform `Params`.
#[derive(Clone, Copy, Debug)]
pub struct ShaderFile {
    pub name: &'static str,
    pub body: &'static str,
    /// Shared WGSL pasted between the prelude and the body.
    pub includes: &'static [&'static str],
    pub params: ParamsLayout,
}

const GEMM_TILES: &str = include_str!("../../../shaders/gemm_tiles.wgsl");

pub const ELEMENTWISE: ShaderFile = ShaderFile {
    name: "elementwise",
    body: include_str!("../../../shaders/elementwise.wgsl"),
    includes: &[],
    params: crate::ops::elementwise::PARAMS_LAYOUT,
};

pub const MATMUL: ShaderFile = ShaderFile {
    name: "matmul",
    body: include_str!("../../../shaders/matmul.wgsl"),
    includes: &[GEMM_TILES],
    params: crate::ops::matmul::PARAMS_LAYOUT,
};

pub const CONV2D: ShaderFile = ShaderFile {
    name: "conv2d",
    body: include_str!("../../../shaders/conv2d.wgsl"),
    includes: &[GEMM_TILES],
    params: crate::ops::conv2d::PARAMS_LAYOUT,
};

/// Every kernel family, for the naga validation test.
pub const ALL: &[ShaderFile] = &[ELEMENTWISE, MATMUL, CONV2D];

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
    let mut src = String::from(prelude(path));
    for inc in file.includes {
        src.push('\n');
        src.push_str(inc);
    }
    src.push('\n');
    src.push_str(file.body);
    src
}
