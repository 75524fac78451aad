//! `shaders/scheduler.wgsl`: guidance and every update family against the
//! formulas, with random coefficients, with and without guidance.

mod common;

use common::*;
use roentgen_gpu::ops::scheduler::{ClippedDdim, Update, step};
use roentgen_gpu::reference::scheduler::{clamp, combine, guided};

/// (name, update, expected x, expected aux)
type Case<'a> = (&'static str, Update<'a>, Option<Vec<f32>>, Option<Vec<f32>>);

#[test]
fn every_update_matches_its_formula() {
    for (ctx, dtype) in all_paths() {
        let mut r = rng(11);
        let n = 2 * 4 * 6 * 5;
        for guidance in [Some(4.0), Some(7.5), None] {
            let eps_len = if guidance.is_some() { 2 * n } else { n };
            let eps = as_stored(&random_vec(&mut r, eps_len, 1.0), dtype);
            let x = as_stored(&random_vec(&mut r, n, 2.0), dtype);
            let h: Vec<Vec<f32>> = (0..3)
                .map(|_| as_stored(&random_vec(&mut r, n, 1.0), dtype))
                .collect();
            let c: Vec<f32> = random_vec(&mut r, 8, 1.5);
            let shape = [2, 4, 6, 5];
            let t_eps = upload(ctx, "eps", &[eps_len], &eps, dtype);
            let t_x = upload(ctx, "x", &shape, &x, dtype);
            let t_h: Vec<_> = h
                .iter()
                .map(|v| upload(ctx, "h", &shape, v, dtype))
                .collect();
            let e = guided(&eps, guidance);
            let x0 = combine(&[(&x, c[2]), (&e, c[3])]);
            let e_prime = combine(&[(&e, c[2]), (&h[0], c[3]), (&h[1], c[4]), (&h[2], c[5])]);
            let cases: Vec<Case> = vec![
                ("cfg", Update::CfgOnly, None, Some(e.clone())),
                (
                    "ddim",
                    Update::Ddim { c0: c[0], c1: c[1] },
                    Some(combine(&[(&x, c[0]), (&e, c[1])])),
                    None,
                ),
                (
                    "ddim_clip",
                    Update::DdimClipped(ClippedDdim {
                        a_x: c[2],
                        a_e: c[3],
                        clip: 0.5,
                        c_x: c[0],
                        c_x0: c[1],
                        c_e: c[4],
                    }),
                    Some(combine(&[(&x, c[0]), (&clamp(&x0, 0.5), c[1]), (&e, c[4])])),
                    None,
                ),
                (
                    "euler",
                    Update::Euler { dt: c[0] },
                    Some(combine(&[(&x, 1.0), (&e, c[0])])),
                    None,
                ),
                (
                    "euler_a",
                    Update::EulerAncestral {
                        c_x: c[2],
                        dt: c[0],
                        sigma_up: c[1],
                        noise: &t_h[0],
                    },
                    Some(combine(&[(&x, c[2]), (&e, c[0]), (&h[0], c[1])])),
                    None,
                ),
                (
                    "pndm",
                    Update::Pndm {
                        c0: c[0],
                        c1: c[1],
                        w: [c[2], c[3], c[4], c[5]],
                        history: [&t_h[0], &t_h[1], &t_h[2]],
                    },
                    Some(combine(&[(&x, c[0]), (&e_prime, c[1])])),
                    Some(e.clone()),
                ),
                (
                    "dpm++2m",
                    Update::DpmSolver2M {
                        a_x: c[2],
                        a_e: c[3],
                        c0: c[0],
                        c1: c[1],
                        c_prev: c[4],
                        prev_x0: &t_h[0],
                    },
                    Some(combine(&[(&x, c[0]), (&x0, c[1]), (&h[0], c[4])])),
                    Some(x0.clone()),
                ),
            ];
            let (atol, rtol) = tol(dtype);
            for (name, update, want_x, want_aux) in cases {
                let out = step(ctx, &t_eps, &t_x, guidance, update).unwrap();
                let case = format!("{name} g{guidance:?} {:?}", ctx.path_for(dtype));
                if let Some(w) = want_x {
                    assert_close(
                        &format!("{case} x"),
                        &read(ctx, &out.x),
                        &w,
                        atol * 10.0,
                        rtol * 2.0,
                    );
                }
                if let Some(w) = want_aux {
                    assert_close(
                        &format!("{case} aux"),
                        &read(ctx, &out.aux),
                        &w,
                        atol * 10.0,
                        rtol * 2.0,
                    );
                }
            }
        }
    }
}
