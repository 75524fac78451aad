//! The page's load-time check passes on the native adapter, on both f16 paths.

use roentgen_gpu::selfcheck;
use roentgen_gpu::testing::{test_context, test_context_without_f16};

#[test]
fn selfcheck_passes_with_and_without_shader_f16() {
    for ctx in [test_context(), test_context_without_f16()] {
        let checks = pollster::block_on(selfcheck::run(ctx)).unwrap();
        assert_eq!(checks.len(), 12);
        for c in checks {
            assert!(c.ok(), "{c:?}");
        }
    }
}
