//! Every WGSL file, under every storage prelude, parses and validates with naga,
//! and its uniform `Params` has exactly the layout of the Rust mirror.

use roentgen_gpu::ComputePath;
use roentgen_gpu::shaders::{self, ShaderFile};

const PATHS: [ComputePath; 3] = [
    ComputePath::F32,
    ComputePath::F16Native,
    ComputePath::F16Packed,
];

fn module(file: ShaderFile, path: ComputePath) -> (naga::Module, naga::valid::ModuleInfo) {
    let src = shaders::source(file, path);
    let module = naga::front::wgsl::parse_str(&src).unwrap_or_else(|e| {
        panic!(
            "{} [{path:?}] does not parse:\n{}",
            file.name,
            e.emit_to_string(&src)
        )
    });
    let info = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::all(),
    )
    .validate(&module)
    .unwrap_or_else(|e| {
        panic!(
            "{} [{path:?}] does not validate:\n{}",
            file.name,
            e.emit_to_string(&src)
        )
    });
    (module, info)
}

#[test]
fn every_shader_validates_on_every_path() {
    for file in shaders::ALL {
        for path in PATHS {
            module(*file, path);
        }
    }
}

#[test]
fn packed_path_never_needs_shader_f16() {
    for file in shaders::ALL {
        for path in [ComputePath::F32, ComputePath::F16Packed] {
            let src = shaders::source(*file, path);
            let module = naga::front::wgsl::parse_str(&src).unwrap();
            let caps = naga::valid::Capabilities::all() - naga::valid::Capabilities::SHADER_FLOAT16;
            naga::valid::Validator::new(naga::valid::ValidationFlags::all(), caps)
                .validate(&module)
                .unwrap_or_else(|e| panic!("{} [{path:?}] needs f16: {e:?}", file.name));
        }
    }
}

#[test]
fn params_layout_matches_rust_struct() {
    for file in shaders::ALL {
        let (module, _) = module(*file, ComputePath::F32);
        let (_, ty) = module
            .types
            .iter()
            .find(|(_, t)| t.name.as_deref() == Some("Params"))
            .unwrap_or_else(|| panic!("{} has no struct Params", file.name));
        let naga::TypeInner::Struct { members, span } = &ty.inner else {
            panic!("{}: Params is not a struct", file.name)
        };
        assert_eq!(
            *span as usize, file.params.size,
            "{}: Params size differs between WGSL and Rust",
            file.name
        );
        let wgsl: Vec<(String, usize)> = members
            .iter()
            .map(|m| (m.name.clone().unwrap_or_default(), m.offset as usize))
            .collect();
        let rust: Vec<(String, usize)> = file
            .params
            .fields
            .iter()
            .map(|(n, o)| (n.to_string(), *o))
            .collect();
        assert_eq!(wgsl, rust, "{}: Params fields differ", file.name);
    }
}

/// 16 KiB is the WebGPU default every adapter must offer; staying within it
/// means no kernel depends on a generous device.
#[test]
fn workgroup_memory_fits_the_webgpu_default() {
    for file in shaders::ALL {
        for path in PATHS {
            let (module, _) = module(*file, path);
            let mut layouter = naga::proc::Layouter::default();
            layouter.update(module.to_ctx()).unwrap();
            let bytes: u32 = module
                .global_variables
                .iter()
                .filter(|(_, g)| g.space == naga::AddressSpace::WorkGroup)
                .map(|(_, g)| layouter[g.ty].size)
                .sum();
            assert!(
                bytes <= 16384,
                "{} [{path:?}] uses {bytes} bytes of workgroup memory",
                file.name
            );
        }
    }
}
