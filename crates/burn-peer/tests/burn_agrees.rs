//! burn (an independent implementation) and our naive references agree, so a
//! kernel that matches our reference also matches a third party.

use roentgen_burn_peer::BurnPeer;
use roentgen_gpu::ops::elementwise::Unary;
use roentgen_gpu::reference;

#[test]
fn burn_gelu_matches_our_reference_and_our_kernel() {
    let x: Vec<f32> = (0..1001).map(|i| (i as f32 - 500.0) / 80.0).collect();
    let burn = BurnPeer::default().gelu(&x);
    let ours = reference::elementwise::unary(Unary::Gelu, &x);
    let ctx = roentgen_gpu::testing::test_context();
    let t =
        roentgen_gpu::Tensor::from_f32(ctx, "x", &[x.len()], &x, roentgen_gpu::DType::F32).unwrap();
    let gpu = pollster::block_on(
        roentgen_gpu::ops::elementwise::unary(ctx, Unary::Gelu, &t)
            .unwrap()
            .to_f32(ctx),
    )
    .unwrap();
    for i in 0..x.len() {
        assert!(
            (burn[i] - ours[i]).abs() < 1e-5,
            "x={} burn {} reference {}",
            x[i],
            burn[i],
            ours[i]
        );
        assert!(
            (burn[i] - gpu[i]).abs() < 1e-5,
            "x={} burn {} ours {}",
            x[i],
            burn[i],
            gpu[i]
        );
    }
}
