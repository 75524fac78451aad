//! `shaders/attention.wgsl` against the full-matrix reference: head sizes of the
//! UNet (40, 80, 160), CLIP (64, causal) and the VAE (one head of 512), self
//! and cross (77 keys), lengths under, at and over one key block.

mod common;

use common::*;
use roentgen_gpu::ops::attention::{COLS, attention, block, rows_per_workgroup, threads_per_row};
use roentgen_gpu::reference;

#[test]
fn attention_matches_reference_on_every_path() {
    // (B, Lq, Lk, heads, d, causal)
    let cases = [
        (2, 37, 37, 2, 40, false),
        (1, 9, 50, 3, 12, true),
        (1, 64, 77, 8, 80, false),
        (2, 5, 33, 1, 160, false),
        (1, 77, 77, 4, 64, true),
        (1, 20, 20, 1, 512, false),
        (1, 3, 1, 1, 4, false),
        // Several workgroups of rows (128 per workgroup at d 40 and 64, 100 at 80).
        (1, 300, 41, 2, 40, false),
        (1, 203, 203, 1, 80, false),
        (1, 150, 150, 1, 64, true),
        // Heads that end inside an invocation's 16 columns (d 40 above, 12,
        // 52); a VAE-like head over several row workgroups.
        (1, 130, 70, 2, 52, false),
        (1, 70, 40, 1, 512, false),
        (1, 40, 24, 1, 1024, false), // the largest head one workgroup row holds
        // Blocks of few rows over many keys (8 rows x 56 keys, the head split
        // six ways), of keys that are not a power of two (77: 2 x 40), and a
        // causal mask across key blocks of 64.
        (2, 5, 200, 2, 160, false),
        (1, 3, 77, 2, 40, false),
        (1, 16, 300, 1, 512, false),
        (1, 200, 200, 2, 16, true),
    ];
    for (ctx, dtype) in all_paths() {
        let mut r = rng(7);
        for (b, lq, lk, heads, d, causal) in cases {
            let inner = heads * d;
            let q = random_vec(&mut r, b * lq * inner, 1.0);
            let k = random_vec(&mut r, b * lk * inner, 1.0);
            let v = random_vec(&mut r, b * lk * inner, 1.0);
            let scale = 1.0 / (d as f32).sqrt() * 2.0; // sharper than default, to stress the softmax
            let out = attention(
                ctx,
                &upload(ctx, "q", &[b, lq, inner], &q, dtype),
                &upload(ctx, "k", &[b, lk, inner], &k, dtype),
                &upload(ctx, "v", &[b, lk, inner], &v, dtype),
                heads,
                scale,
                causal,
            )
            .unwrap();
            let want = reference::attention::attention(
                &as_stored(&q, dtype),
                &as_stored(&k, dtype),
                &as_stored(&v, dtype),
                b,
                lq,
                lk,
                heads,
                d,
                scale,
                causal,
            );
            let (atol, rtol) = tol(dtype);
            let case = format!(
                "b{b} lq{lq} lk{lk} h{heads} d{d} causal{causal} {:?}",
                ctx.path_for(dtype)
            );
            assert_close(&case, &read(ctx, &out), &want, atol * 2.0, rtol);
        }
    }
}

#[test]
fn every_sd_head_size_fits_one_workgroup() {
    for d in [40, 64, 80, 160, 512] {
        let tpr = threads_per_row(d).unwrap();
        assert!(
            tpr * COLS >= d && tpr * COLS < d + COLS && tpr <= 64,
            "d {d}: tpr {tpr}"
        );
        assert!(
            rows_per_workgroup(tpr) >= 32,
            "d {d}: {} rows",
            rows_per_workgroup(tpr)
        );
    }
    assert!(threads_per_row(4096).is_none());
}

#[test]
fn blocks_fit_the_tokens_and_the_score_memory() {
    let sd = [
        // (d, Lq, Lk) -> (rows, keys)
        ((40, 4096, 4096), (128, 24)),
        ((40, 4096, 77), (128, 16)),
        ((160, 64, 64), (64, 32)),
        ((160, 64, 77), (64, 40)),
        ((512, 4096, 4096), (64, 48)),
        ((64, 77, 77), (80, 16)),
        ((160, 5, 200), (8, 56)),
    ];
    for ((d, lq, lk), want) in sd {
        let (rows, keys) = block(threads_per_row(d).unwrap(), lq, lk);
        assert_eq!((rows, keys), want, "d {d} lq {lq} lk {lk}");
    }
    for d in (4..=1024).step_by(4) {
        let tpr = threads_per_row(d).unwrap();
        for lq in [1, 7, 8, 9, 77, 100, 4096] {
            for lk in [1, 5, 77, 300, 4096] {
                let (rows, keys) = block(tpr, lq, lk);
                assert!(rows % 8 == 0 && keys % 8 == 0 && rows > 0 && keys > 0);
                assert!(rows * keys <= 3072 && rows <= 128, "d {d}: {rows} x {keys}");
                assert!(rows < lq + 8, "d {d} lq {lq}: {rows} rows");
            }
        }
    }
}
