//! Upsample, concat, GEGLU, channel-bias add, timestep embedding and RGBA8
//! output against their references on every path.

mod common;

use common::*;
use roentgen_gpu::ops::timestep::{TimestepConfig, timestep_embedding};
use roentgen_gpu::ops::{concat, elementwise, image, transpose, upsample};
use roentgen_gpu::reference;

#[test]
fn upsample_and_concat_are_exact() {
    for (ctx, dtype) in all_paths() {
        let mut r = rng(8);
        for (n, c, h, w) in [(1, 1, 1, 1), (2, 3, 5, 7), (1, 4, 8, 8)] {
            let x = as_stored(&random_vec(&mut r, n * c * h * w, 4.0), dtype);
            let out =
                upsample::upsample_nearest2x(ctx, &upload(ctx, "x", &[n, c, h, w], &x, dtype))
                    .unwrap();
            assert_eq!(out.shape, vec![n, c, 2 * h, 2 * w]);
            assert_eq!(
                read(ctx, &out),
                reference::layout::upsample_nearest2x(&x, h, w),
                "upsample {n}x{c}x{h}x{w}"
            );
        }
        for (n, ca, cb, hw) in [(1, 1, 1, 2), (2, 3, 5, 6), (2, 64, 32, 16)] {
            let a = as_stored(&random_vec(&mut r, n * ca * hw, 4.0), dtype);
            let b = as_stored(&random_vec(&mut r, n * cb * hw, 4.0), dtype);
            let out = concat::concat_channels(
                ctx,
                &upload(ctx, "a", &[n, ca, hw], &a, dtype),
                &upload(ctx, "b", &[n, cb, hw], &b, dtype),
            )
            .unwrap();
            assert_eq!(
                read(ctx, &out),
                reference::layout::concat_channels(&a, &b, n, ca, cb, hw),
                "concat {n} {ca}+{cb} {hw}"
            );
        }
    }
}

#[test]
fn transpose_is_exact() {
    for (ctx, dtype) in all_paths() {
        let mut r = rng(10);
        for (b, rows, cols) in [(1, 2, 1), (2, 6, 5), (2, 64, 32), (1, 300, 7)] {
            let x = as_stored(&random_vec(&mut r, b * rows * cols, 4.0), dtype);
            let out =
                transpose::transpose(ctx, &upload(ctx, "x", &[b, rows, cols], &x, dtype)).unwrap();
            assert_eq!(out.shape, vec![b, cols, rows]);
            assert_eq!(
                read(ctx, &out),
                reference::layout::transpose(&x, b, rows, cols),
                "transpose {b}x{rows}x{cols}"
            );
        }
        let odd = upload(ctx, "x", &[1, 3, 2], &[0.0; 6], dtype);
        assert!(transpose::transpose(ctx, &odd).is_err(), "odd rows refused");
    }
}

#[test]
fn geglu_and_channel_bias_match_reference() {
    for (ctx, dtype) in all_paths() {
        let mut r = rng(9);
        let (atol, rtol) = tol(dtype);
        for (rows, f) in [(1, 2), (7, 10), (3, 1280)] {
            let x = as_stored(&random_vec(&mut r, rows * 2 * f, 3.0), dtype);
            let out =
                elementwise::geglu(ctx, &upload(ctx, "x", &[rows, 2 * f], &x, dtype)).unwrap();
            assert_eq!(out.shape, vec![rows, f]);
            assert_close(
                &format!("geglu {rows}x{f}"),
                &read(ctx, &out),
                &reference::elementwise::geglu(&x, f),
                atol,
                rtol,
            );
        }
        for (n, c, hw) in [(1, 1, 2), (2, 5, 6), (2, 320, 64)] {
            let x = as_stored(&random_vec(&mut r, n * c * hw, 3.0), dtype);
            let b = as_stored(&random_vec(&mut r, n * c, 3.0), dtype);
            let out = elementwise::add_channel_bias(
                ctx,
                &upload(ctx, "x", &[n, c, hw], &x, dtype),
                &upload(ctx, "b", &[n, c], &b, dtype),
            )
            .unwrap();
            assert_close(
                &format!("bias {n}x{c}x{hw}"),
                &read(ctx, &out),
                &reference::elementwise::add_channel_bias(&x, &b, hw),
                atol,
                rtol,
            );
        }
    }
}

#[test]
fn timestep_embedding_matches_diffusers_formula() {
    let sd = TimestepConfig {
        dim: 320,
        flip_sin_to_cos: true,
        downscale_freq_shift: 0.0,
        max_period: 10000.0,
    };
    let other = TimestepConfig {
        dim: 6,
        flip_sin_to_cos: false,
        downscale_freq_shift: 1.0,
        max_period: 10000.0,
    };
    for (ctx, dtype) in all_paths() {
        for (cfg, t) in [(sd, 981.0), (sd, 1.0), (other, 500.0)] {
            let out = timestep_embedding(ctx, t, 2, cfg, dtype).unwrap();
            let want = reference::timestep::timestep_embedding(t, 2, cfg);
            // sin/cos of arguments up to 1000 rad: f32 argument rounding costs ~1e-4.
            let (atol, rtol) = tol(dtype);
            assert_close(
                &format!("t{t} {cfg:?}"),
                &read(ctx, &out),
                &want,
                atol.max(5e-4),
                rtol,
            );
        }
    }
}

#[test]
fn rgba8_matches_numpy_rounding() {
    for (ctx, dtype) in all_paths() {
        let mut r = rng(10);
        let (h, w) = (6, 9);
        // Beyond [-1, 1] to test clamping, plus exact halfway levels.
        let mut x = as_stored(&random_vec(&mut r, 3 * h * w, 1.3), dtype);
        x[0] = 1.0 / 255.0 - 1.0; // level 0.5 -> 0 (ties to even)
        x[1] = 3.0 / 255.0 - 1.0; // level 1.5 -> 2
        let img = image::to_rgba8(ctx, &upload(ctx, "img", &[3, h, w], &x, dtype)).unwrap();
        let got = pollster::block_on(img.to_bytes(ctx)).unwrap();
        let want = reference::image::to_rgba8(&x, h * w);
        let diff = got.iter().zip(&want).filter(|(a, b)| a != b).count();
        // The GPU's division may round a halfway level the other way only when
        // x/2 + 0.5 is not exact: allow none on f32 storage.
        assert!(
            diff == 0,
            "{diff} bytes differ on {:?}: {:?} vs {:?}",
            ctx.path_for(dtype),
            &got[..8],
            &want[..8]
        );
    }
}
