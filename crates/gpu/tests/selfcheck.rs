//! The page's load-time check passes on the native adapter, on both f16 paths.

use roentgen_gpu::testing::{test_context, test_context_without_f16};
use roentgen_gpu::{DType, selfcheck};

#[test]
fn selfcheck_passes_with_and_without_shader_f16() {
    for ctx in [test_context(), test_context_without_f16()] {
        let t0 = std::time::Instant::now();
        let clock = || t0.elapsed().as_secs_f64();
        let checks =
            pollster::block_on(selfcheck::run(ctx, &[DType::F32, DType::F16], &clock)).unwrap();
        assert_eq!(checks.len(), 12);
        let mut last = 0.0;
        for c in checks {
            assert!(c.ok(), "{c:?}");
            assert!(
                c.seconds >= 0.0 && c.seconds <= clock() - last + 1e-9,
                "{c:?}"
            );
            last += c.seconds;
        }
    }
}
