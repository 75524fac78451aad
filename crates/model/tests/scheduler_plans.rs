//! Every sampler's plan against diffusers' own, for every
//! `timestep_spacing` the config check accepts and step counts from 1 to 50
//! (tests/goldens/scheduler-plans.json, written by
//! tests/goldens/scheduler_plans.py from SD v1.5's scheduler config): the
//! timestep of every UNet call, the initial noise scale, and for the
//! samplers whose step is linear in (sample, eps) — DDIM, Euler, Euler
//! ancestral — the input scale and both coefficients (and Euler
//! ancestral's noise scale) probed from diffusers' `step`, and DPM-Solver++'s
//! first step; on epsilon and (DDIM, Euler, DPM-Solver++) v-prediction;
//! DDIM with `clip_sample` at inputs inside and outside the clip range.
//! PNDM's and DPM-Solver++'s multistep coefficients on epsilon are covered
//! by the whole-run goldens (goldens.rs).

use roentgen_model::SchedulerKind;
use roentgen_model::scheduler::{
    SchedulerConfig, StepPlan, StepUpdate, plan, plan_from, strength_begin,
};

fn close(what: &str, got: f64, want: f64) {
    let tol = 2e-5 * want.abs().max(1.0);
    assert!(
        (got - want).abs() <= tol,
        "{what}: {got} vs diffusers {want}"
    );
}

#[test]
fn plans_match_diffusers_for_every_spacing() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/goldens/scheduler-plans.json");
    let golden: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let cases = golden["cases"].as_array().unwrap();
    assert_eq!(
        cases.len(),
        (5 + 5 + 2) * 3 * 5,
        "every scheduler x spacing x steps, v-prediction for all five, DDIM clip_sample on both"
    );
    let f = |v: &serde_json::Value| -> Vec<f64> {
        v.as_array()
            .map(|a| a.iter().map(|x| x.as_f64().unwrap()).collect())
            .unwrap_or_default()
    };
    for case in cases {
        let name = case["scheduler"].as_str().unwrap();
        let spacing = case["spacing"].as_str().unwrap();
        let steps = case["steps"].as_u64().unwrap() as usize;
        let label = format!("{name} {spacing} {steps} steps");
        let mut config = golden["config"].clone();
        config["timestep_spacing"] = spacing.into();
        let prediction = case["prediction"].as_str().unwrap();
        config["prediction_type"] = prediction.into();
        if case["clip_sample"] == true {
            config["clip_sample"] = true.into();
        }
        let label = format!("{label} {prediction}");
        let cfg = SchedulerConfig::from_json(&config).unwrap();
        let kind = SchedulerKind::from_name(name).unwrap();
        let p = plan(kind, &cfg, steps).unwrap_or_else(|e| panic!("{label}: {e}"));
        let ts = f(&case["timesteps"]);
        let ours: Vec<f64> = p.steps.iter().map(|s| s.t as f64).collect();
        assert_eq!(ours.len(), ts.len(), "{label}: UNet calls");
        for (i, (a, b)) in ours.iter().zip(&ts).enumerate() {
            close(&format!("{label}: timestep {i}"), *a, *b);
        }
        close(
            &format!("{label}: init_noise_sigma"),
            p.init_noise_sigma as f64,
            case["init_noise_sigma"].as_f64().unwrap(),
        );
        let probes = case["probes"].as_array().cloned().unwrap_or_default();
        let (c0, c1, scale, up) = (
            f(&case["c0"]),
            f(&case["c1"]),
            f(&case["input_scale"]),
            f(&case["sigma_up"]),
        );
        for (i, s) in p.steps.iter().enumerate() {
            let at = |what: &str| format!("{label}: step {i} {what}");
            match s.update {
                StepUpdate::DdimClipped(c) => {
                    for p in probes[i].as_array().unwrap() {
                        let v = f(p);
                        let (x, e) = (v[0] as f32, v[1] as f32);
                        let x0 = (c.a_x * x + c.a_e * e).clamp(-c.clip, c.clip);
                        let prev = c.c_x * x + c.c_x0 * x0 + c.c_e * e;
                        close(&at(&format!("x {x} out {e}")), prev as f64, v[2]);
                    }
                    continue;
                }
                StepUpdate::Ddim { c0: a, c1: b } => {
                    close(&at("c0"), a as f64, c0[i]);
                    close(&at("c1"), b as f64, c1[i]);
                }
                StepUpdate::Euler { dt } => {
                    close(&at("c0"), 1.0, c0[i]);
                    close(&at("dt"), dt as f64, c1[i]);
                }
                StepUpdate::EulerAncestral { c_x, dt, sigma_up } => {
                    close(&at("c0"), c_x as f64, c0[i]);
                    close(&at("dt"), dt as f64, c1[i]);
                    close(&at("sigma_up"), sigma_up as f64, up[i]);
                }
                // The first step has no history: x' = (c0 + c1 a_x) x + c1 a_e out.
                StepUpdate::DpmSolver2M {
                    a_x,
                    a_e,
                    c0: a,
                    c1: b,
                    ..
                } if i == 0 => {
                    close(&at("x coefficient"), (a + b * a_x) as f64, c0[0]);
                    close(&at("output coefficient"), (b * a_e) as f64, c1[0]);
                    continue;
                }
                StepUpdate::Pndm { .. } | StepUpdate::DpmSolver2M { .. } => continue,
            }
            close(&at("input scale"), s.input_scale as f64, scale[i]);
        }
    }
}

fn golden() -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/goldens/scheduler-plans.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .map(|a| a.iter().map(|x| x.as_f64().unwrap()).collect())
        .unwrap_or_default()
}

/// A step with no history as x' = a x + b out, or None for one that is not.
fn first_step_coefficients(s: &StepPlan) -> Option<(f32, f32)> {
    Some(match s.update {
        StepUpdate::Ddim { c0, c1 } => (c0, c1),
        StepUpdate::Euler { dt } => (1.0, dt),
        StepUpdate::EulerAncestral { c_x, dt, .. } => (c_x, dt),
        StepUpdate::Pndm {
            c0,
            c1,
            w: [1.0, 0.0, 0.0, 0.0],
            ..
        } => (c0, c1),
        StepUpdate::DpmSolver2M {
            a_x,
            a_e,
            c0,
            c1,
            c_prev: 0.0,
        } => (c0 + c1 * a_x, c1 * a_e),
        _ => return None,
    })
}

/// Image-to-image: where each sampler starts for a strength, the truncated
/// plan's timesteps and input scales, add_noise at the start and at every
/// later step (masked editing), and the first step taken (PNDM's warm-up and
/// DPM-Solver++'s first-order step restart there), for every sampler.
#[test]
fn truncated_plans_match_diffusers_img2img() {
    let golden = golden();
    let cases = golden["strength_cases"].as_array().unwrap();
    assert_eq!(cases.len(), 5 * 2 * 3 * 4);
    for case in cases {
        let name = case["scheduler"].as_str().unwrap();
        let spacing = case["spacing"].as_str().unwrap();
        let steps = case["steps"].as_u64().unwrap() as usize;
        let strength = case["strength"].as_f64().unwrap();
        let label = format!("{name} {spacing} {steps} steps strength {strength}");
        let mut config = golden["config"].clone();
        config["timestep_spacing"] = spacing.into();
        let cfg = SchedulerConfig::from_json(&config).unwrap();
        let kind = SchedulerKind::from_name(name).unwrap();
        let begin = strength_begin(steps, strength).unwrap();
        assert_eq!(
            begin as u64,
            case["begin"].as_u64().unwrap(),
            "{label}: begin"
        );
        let p = plan_from(kind, &cfg, steps, begin).unwrap();
        let ts = floats(&case["timesteps"]);
        let scales = floats(&case["input_scale"]);
        assert_eq!(p.steps.len(), ts.len(), "{label}: UNet calls");
        let add = case["add_noise"].as_array().unwrap();
        for (i, s) in p.steps.iter().enumerate() {
            let at = |what: &str| format!("{label}: step {i} {what}");
            close(&at("timestep"), s.t as f64, ts[i]);
            close(&at("input scale"), s.input_scale as f64, scales[i]);
            let a = floats(&add[i]);
            close(&at("add_noise signal"), s.noised.signal as f64, a[0]);
            close(&at("add_noise noise"), s.noised.noise as f64, a[1]);
        }
        let (x, e) = first_step_coefficients(&p.steps[0])
            .unwrap_or_else(|| panic!("{label}: the first step uses history"));
        let want = floats(&case["first_step"]);
        close(&format!("{label}: first step x"), x as f64, want[0]);
        close(&format!("{label}: first step out"), e as f64, want[1]);
    }
}

#[test]
fn a_strength_that_runs_no_step_is_refused() {
    let err = strength_begin(4, 0.2).unwrap_err().to_string();
    assert!(err.contains("runs no step"), "{err}");
    for bad in [0.0, -0.5, 1.5, f64::NAN] {
        assert!(strength_begin(10, bad).is_err(), "{bad}");
    }
    assert_eq!(strength_begin(10, 1.0).unwrap(), 0);
    // int(10 * 0.7) is 7 in f64 (f32's 0.7 would give 6).
    assert_eq!(strength_begin(10, 0.7).unwrap(), 3);
}

#[test]
fn unsupported_prediction_types_are_refused_by_name() {
    let config = |prediction: &str| {
        SchedulerConfig::from_json(&serde_json::json!({
            "beta_schedule": "scaled_linear",
            "beta_start": 0.00085,
            "beta_end": 0.012,
            "prediction_type": prediction,
        }))
        .unwrap()
    };
    for kind in [SchedulerKind::Pndm, SchedulerKind::EulerAncestral] {
        assert!(plan(kind, &config("v_prediction"), 10).is_ok(), "{kind:?}");
    }
    let err = plan(SchedulerKind::Ddim, &config("sample"), 10)
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"sample\""), "{err}");
}
