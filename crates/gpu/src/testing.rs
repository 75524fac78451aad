//! The one way native tests get a GPU. On a machine with no adapter this
//! panics with the fix, so a CI without lavapipe fails loudly instead of
//! passing on skipped tests.

use std::sync::OnceLock;

use crate::{ContextOptions, GpuContext};

fn make(options: ContextOptions) -> GpuContext {
    // lavapipe warns on every start without it; harmless otherwise.
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        // SAFETY: set before any thread of ours reads the environment.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir()) };
    }
    pollster::block_on(GpuContext::new(options)).unwrap_or_else(|e| {
        panic!(
            "GPU tests need a Vulkan adapter ({e}). On Debian/Ubuntu install \
             `mesa-vulkan-drivers` (lavapipe, a CPU Vulkan driver): \
             apt-get install -y mesa-vulkan-drivers"
        )
    })
}

/// A device of the test's own, for tests that leave it broken.
pub fn fresh_test_context() -> GpuContext {
    make(ContextOptions::default())
}

/// The shared device for tests, with `shader-f16` when the adapter has it.
pub fn test_context() -> &'static GpuContext {
    static CTX: OnceLock<GpuContext> = OnceLock::new();
    CTX.get_or_init(|| {
        make(ContextOptions {
            poison_outputs: true,
            ..Default::default()
        })
    })
}

/// A second device on the same adapter with `shader-f16` turned off, so the
/// packed-f16 path (the browser's usual one) is tested natively too.
pub fn test_context_without_f16() -> &'static GpuContext {
    static CTX: OnceLock<GpuContext> = OnceLock::new();
    CTX.get_or_init(|| {
        make(ContextOptions {
            allow_shader_f16: false,
            poison_outputs: true,
            ..Default::default()
        })
    })
}

/// A device of the test's own whose submissions carry at most
/// `submit_budget_flops` (so small shapes are cut and split as a 512x512
/// image is at the real budget), optionally a dry run that records nothing.
pub fn test_context_with_budget(
    submit_budget_flops: u64,
    allow_shader_f16: bool,
    dry_run: bool,
) -> GpuContext {
    make(ContextOptions {
        allow_shader_f16,
        poison_outputs: !dry_run,
        dry_run,
        submit_budget_flops,
        ..Default::default()
    })
}

/// The largest binding the small-binding contexts allow, in bytes.
pub const SMALL_BINDING: u64 = 16 * 1024;

/// Devices that hold every binding to SMALL_BINDING bytes (with and without
/// `shader-f16`), so tests can drive the code that splits a tensor too large
/// to bind (128 MiB on many real devices) with small shapes.
pub fn test_contexts_with_small_bindings() -> [&'static GpuContext; 2] {
    fn small(allow_shader_f16: bool) -> GpuContext {
        let mut ctx = make(ContextOptions {
            allow_shader_f16,
            poison_outputs: true,
            ..Default::default()
        });
        ctx.report.limits.max_storage_buffer_binding_size = SMALL_BINDING;
        ctx
    }
    static WITH_F16: OnceLock<GpuContext> = OnceLock::new();
    static WITHOUT: OnceLock<GpuContext> = OnceLock::new();
    [
        WITH_F16.get_or_init(|| small(true)),
        WITHOUT.get_or_init(|| small(false)),
    ]
}

/// ||a - b|| / ||b|| in f64: how every golden and kernel test measures an
/// output against its reference. Panics on a length mismatch or a
/// non-finite output (a NaN would otherwise compare as "no error").
pub fn rel_l2(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    assert!(a.iter().all(|v| v.is_finite()), "non-finite output");
    let num: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
        .sum();
    let den: f64 = b.iter().map(|y| (*y as f64).powi(2)).sum();
    (num / den).sqrt()
}
