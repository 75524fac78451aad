//! `shaders/attention_maps.wgsl` against its CPU reference on random inputs:
//! the UNet's cross-attention shapes (head sizes 40 to 160, 77 keys), the
//! tiny models', either batch item of a CFG pair, on every storage path; and
//! each pixel's map sums to one over the keys.

mod common;

use common::*;
use roentgen_gpu::ops::attention_maps::attention_maps;
use roentgen_gpu::testing::test_context;
use roentgen_gpu::{DType, Tensor, reference};

#[test]
fn attention_maps_match_reference_on_every_path() {
    // (B, N queries, M keys, heads, d, item)
    let cases = [
        (2, 64, 77, 8, 40, 1),
        (2, 16, 77, 2, 16, 0),
        (1, 300, 77, 8, 80, 0),
        (2, 8, 9, 1, 160, 1),
        (1, 2, 1, 1, 4, 0),
        (2, 1024, 77, 4, 8, 1), // several workgroups
    ];
    for (ctx, dtype) in all_paths() {
        let mut r = rng(11);
        for (b, n, m, heads, d, item) in cases {
            let inner = heads * d;
            let q = random_vec(&mut r, b * n * inner, 1.0);
            let k = random_vec(&mut r, b * m * inner, 1.0);
            let scale = 1.0 / (d as f32).sqrt();
            let tq = Tensor::from_f32(ctx, "q", &[b, n, inner], &q, dtype).unwrap();
            let tk = Tensor::from_f32(ctx, "k", &[b, m, inner], &k, dtype).unwrap();
            let out = attention_maps(ctx, &tq, &tk, heads, scale, item).unwrap();
            assert_eq!(out.shape, vec![m, n]);
            let got = pollster::block_on(out.to_f32(ctx)).unwrap();
            let want = reference::attention::attention_maps(
                &as_stored(&q, dtype),
                &as_stored(&k, dtype),
                n,
                m,
                heads,
                d,
                scale,
                item,
            );
            let (atol, rtol) = match dtype {
                DType::F32 => (1e-5, 1e-4),
                DType::F16 => (2e-3, 5e-3),
            };
            let label = format!(
                "b{b} n{n} m{m} h{heads} d{d} item{item} {:?}",
                ctx.path_for(dtype)
            );
            assert_close(&label, &got, &want, atol, rtol);
            for px in 0..n {
                let total: f32 = (0..m).map(|j| got[j * n + px]).sum();
                assert!(
                    (total - 1.0).abs() < 1e-2,
                    "{label}: pixel {px} sums to {total}"
                );
            }
        }
    }
}

#[test]
fn too_many_keys_or_odd_queries_are_refused() {
    let ctx = test_context();
    let q = Tensor::from_f32(ctx, "q", &[1, 4, 8], &[0.0; 32], DType::F32).unwrap();
    let k = Tensor::from_f32(ctx, "k", &[1, 81, 8], &vec![0.0; 81 * 8], DType::F32).unwrap();
    assert!(attention_maps(ctx, &q, &k, 2, 0.5, 0).is_err());
    let q3 = Tensor::from_f32(ctx, "q", &[1, 3, 8], &[0.0; 24], DType::F32).unwrap();
    let k2 = Tensor::from_f32(ctx, "k", &[1, 5, 8], &[0.0; 40], DType::F32).unwrap();
    assert!(attention_maps(ctx, &q3, &k2, 2, 0.5, 0).is_err());
}
