//! An error the device reports as an event (here a shader its compiler
//! rejects, as Chromium's did with WGSL that naga accepts) fails the next
//! read-back with the device's message, instead of handing back whatever the
//! kernels' outputs held.

use roentgen_gpu::testing::fresh_test_context;
use roentgen_gpu::{DType, GpuError, Tensor};

#[test]
fn a_device_error_fails_every_later_read_back() {
    let ctx = fresh_test_context();
    let t = Tensor::from_f32(&ctx, "x", &[4], &[1.0, 2.0, 3.0, 4.0], DType::F32).unwrap();
    assert_eq!(
        pollster::block_on(t.to_f32(&ctx)).unwrap(),
        [1.0, 2.0, 3.0, 4.0]
    );
    assert!(ctx.check_device().is_ok());

    let _ = ctx
        .device
        .create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("broken on purpose"),
            source: wgpu::ShaderSource::Wgsl("fn main( {".into()),
        });
    for _ in 0..2 {
        let err = pollster::block_on(t.to_f32(&ctx)).unwrap_err();
        assert!(matches!(err, GpuError::Device { .. }), "{err}");
        assert!(err.to_string().contains("broken on purpose"), "{err}");
    }
}
