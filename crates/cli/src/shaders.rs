//! `roentgen shaders`: every kernel's WGSL exactly as the device receives it
//! (prelude, includes, body), once per storage path. Browsers compile WGSL
//! with their own compilers (Chromium's Tint is stricter than naga in places),
//! so the browser tests compile these files there too.

use std::path::Path;

use anyhow::Context;
use roentgen_gpu::ComputePath;
use roentgen_gpu::shaders::{ALL, source};

/// The file-name tag of a path: `NAME.TAG.wgsl`.
fn tag(path: ComputePath) -> &'static str {
    match path {
        ComputePath::F32 => "f32",
        ComputePath::F16Native => "f16",
        ComputePath::F16Packed => "f16-packed",
    }
}

pub fn run(out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut written = 0;
    for file in ALL {
        for path in [
            ComputePath::F32,
            ComputePath::F16Native,
            ComputePath::F16Packed,
        ] {
            let name = out.join(format!("{}.{}.wgsl", file.name, tag(path)));
            std::fs::write(&name, source(*file, path))
                .with_context(|| format!("writing {}", name.display()))?;
            written += 1;
        }
    }
    println!("{written} shader sources in {}", out.display());
    Ok(())
}
