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
const FLAT_INDEX: &str = include_str!("../../../shaders/flat_index.wgsl");
const WORKGROUP_REDUCE: &str = include_str!("../../../shaders/workgroup_reduce.wgsl");
/// Variants of the GEMM kernels: the host checks that every pair the tile
/// fills read starts on an even element and then picks the ALIGNED one, whose
/// loads are single pair loads. (A branch on a uniform would not do: lavapipe
/// executes both sides of every `if` under a lane mask, so an unused
/// element-by-element path costs as much as a used one.)
const PAIRS_ALIGNED: &str = "const ALIGNED: bool = true;\n";
const PAIRS_ANY: &str = "const ALIGNED: bool = false;\n";
/// Where the GEMM kernels read weights from: plain storage like the
/// activations, or int8 with per-row scales (q8 weights stay int8 on the GPU).
const WEIGHTS_PLAIN: &str = include_str!("../../../shaders/weights_plain.wgsl");
const WEIGHTS_Q8: &str = include_str!("../../../shaders/weights_q8.wgsl");
const GELU: &str = include_str!("../../../shaders/gelu.wgsl");
const MATMUL_PARAMS: &str = include_str!("../../../shaders/matmul_params.wgsl");
/// The matmul variant whose epilogue applies GEGLU (see matmul.wgsl).
const GEGLU_ON: &str = "const GEGLU: bool = true;\n";
const GEGLU_OFF: &str = "const GEGLU: bool = false;\n";

macro_rules! shader {
    ($konst:ident, $name:literal, $module:ident, [$($inc:expr),*]) => {
        shader!($konst, $name as $name, $module, [$($inc),*]);
    };
    ($konst:ident, $file:literal as $name:literal, $module:ident, [$($inc:expr),*]) => {
        pub const $konst: ShaderFile = ShaderFile {
            name: $name,
            body: include_str!(concat!("../../../shaders/", $file, ".wgsl")),
            includes: &[$($inc),*],
            params: crate::ops::$module::PARAMS_LAYOUT,
        };
    };
}

shader!(GROUP_NORM, "group_norm", group_norm, [WORKGROUP_REDUCE]);
shader!(LAYER_NORM, "layer_norm", layer_norm, [WORKGROUP_REDUCE]);
shader!(ATTENTION, "attention", attention, []);
shader!(
    ATTENTION_MAPS,
    "attention_maps",
    attention_maps,
    [FLAT_INDEX]
);
shader!(UPSAMPLE, "upsample", upsample, [FLAT_INDEX]);
shader!(CONCAT, "concat", concat, [FLAT_INDEX]);
shader!(TRANSPOSE, "transpose", transpose, [FLAT_INDEX]);
shader!(TIMESTEP, "timestep", timestep, []);
shader!(IMAGE, "image", image, []);
shader!(SCHEDULER, "scheduler", scheduler, [FLAT_INDEX]);

shader!(ELEMENTWISE, "elementwise", elementwise, [FLAT_INDEX, GELU]);
shader!(MATMUL, "matmul" as "matmul", matmul, [MATMUL_PARAMS, PAIRS_ANY, GEGLU_OFF, GELU, WEIGHTS_PLAIN, GEMM_TILES]);
shader!(MATMUL_ALIGNED, "matmul" as "matmul+aligned", matmul, [MATMUL_PARAMS, PAIRS_ALIGNED, GEGLU_OFF, GELU, WEIGHTS_PLAIN, GEMM_TILES]);
shader!(MATMUL_Q8, "matmul" as "matmul+q8", matmul, [MATMUL_PARAMS, PAIRS_ANY, GEGLU_OFF, GELU, WEIGHTS_Q8, GEMM_TILES]);
shader!(MATMUL_Q8_ALIGNED, "matmul" as "matmul+q8+aligned", matmul, [MATMUL_PARAMS, PAIRS_ALIGNED, GEGLU_OFF, GELU, WEIGHTS_Q8, GEMM_TILES]);
shader!(MATMUL_GEGLU, "matmul" as "matmul+geglu", matmul, [MATMUL_PARAMS, PAIRS_ALIGNED, GEGLU_ON, GELU, WEIGHTS_PLAIN, GEMM_TILES]);
shader!(MATMUL_Q8_GEGLU, "matmul" as "matmul+q8+geglu", matmul, [MATMUL_PARAMS, PAIRS_ALIGNED, GEGLU_ON, GELU, WEIGHTS_Q8, GEMM_TILES]);
shader!(CONV2D, "conv2d" as "conv2d", conv2d, [PAIRS_ANY, WEIGHTS_PLAIN, GEMM_TILES]);
shader!(CONV2D_ALIGNED, "conv2d" as "conv2d+aligned", conv2d, [PAIRS_ALIGNED, WEIGHTS_PLAIN, GEMM_TILES]);
shader!(CONV2D_Q8, "conv2d" as "conv2d+q8", conv2d, [PAIRS_ANY, WEIGHTS_Q8, GEMM_TILES]);
shader!(CONV2D_Q8_ALIGNED, "conv2d" as "conv2d+q8+aligned", conv2d, [PAIRS_ALIGNED, WEIGHTS_Q8, GEMM_TILES]);

/// Linear layers on cooperative matrices (tensor cores), f32 only: used only
/// where the device offers wgpu's experimental feature and the caller asked
/// (`ContextOptions::cooperative_matrix`); not in [`ALL`], which every
/// adapter and browser must compile.
pub const MATMUL_COOP: ShaderFile = ShaderFile {
    name: "matmul_coop",
    body: include_str!("../../../shaders/matmul_coop.wgsl"),
    includes: &[MATMUL_PARAMS],
    params: crate::ops::matmul::PARAMS_LAYOUT,
};

/// Every kernel family, for the naga validation test.
pub const ALL: &[ShaderFile] = &[
    ELEMENTWISE,
    MATMUL,
    MATMUL_ALIGNED,
    MATMUL_Q8,
    MATMUL_Q8_ALIGNED,
    MATMUL_GEGLU,
    MATMUL_Q8_GEGLU,
    CONV2D,
    CONV2D_ALIGNED,
    CONV2D_Q8,
    CONV2D_Q8_ALIGNED,
    GROUP_NORM,
    LAYER_NORM,
    ATTENTION,
    ATTENTION_MAPS,
    UPSAMPLE,
    CONCAT,
    TRANSPOSE,
    TIMESTEP,
    IMAGE,
    SCHEDULER,
];

/// The storage prelude for a compute path.
pub fn prelude(path: ComputePath) -> &'static str {
    match path {
        ComputePath::F32 => include_str!("../../../shaders/prelude_f32.wgsl"),
        ComputePath::F16Native => include_str!("../../../shaders/prelude_f16.wgsl"),
        ComputePath::F16Packed => include_str!("../../../shaders/prelude_f16_packed.wgsl"),
    }
}

/// The full source a pipeline is built from: prelude, includes, then the
/// kernel body; `enable` directives (which WGSL wants before anything else)
/// gathered at the top.
pub fn source(file: ShaderFile, path: ComputePath) -> String {
    let mut enables = String::new();
    let mut rest = String::new();
    let parts = std::iter::once(prelude(path))
        .chain(file.includes.iter().copied())
        .chain(std::iter::once(file.body));
    for part in parts {
        for line in part.lines() {
            if line.trim_start().starts_with("enable ") {
                if !enables.contains(line.trim()) {
                    enables.push_str(line.trim());
                    enables.push('\n');
                }
            } else {
                rest.push_str(line);
                rest.push('\n');
            }
        }
    }
    enables + &rest
}
