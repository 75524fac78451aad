//! `roentgen bench control` and `roentgen read`: the phantom reader scoring
//! images against their prompts, from our pipeline or from a folder, and the
//! demo model's prompt control held to a floor on this machine's adapter.

mod common;

use common::{fails, ok, roentgen, root, tmp};
use roentgen_phantom::phantom_with;
use roentgen_phantom::study::{Findings, Side, Size};
use std::path::Path;

/// An 8-bit grey PNG of a phantom's pixels.
fn write_grey(path: &Path, pixels: &[f32], side: usize) {
    let file = std::fs::File::create(path).unwrap();
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), side as u32, side as u32);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    let bytes: Vec<u8> = pixels
        .iter()
        .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect();
    enc.write_header()
        .unwrap()
        .write_image_data(&bytes)
        .unwrap();
}

fn large_left_effusion() -> Findings {
    Findings {
        effusion: vec![(Side::Left, Size::Large)],
        ..Findings::default()
    }
}

#[test]
fn list_prints_the_control_prompts() {
    let out = roentgen(&["bench", "control", "--list"]);
    ok(&out);
    let prompts: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(prompts.len() >= 12, "{prompts:?}");
    assert!(
        prompts
            .iter()
            .any(|p| p == "No acute cardiopulmonary process.")
    );
}

/// Phantoms drawn with the findings a prompt names are what a perfect model
/// would make: scored from a folder, they are right on every prompt; the
/// wrong phantoms under the same prompts fail --min-side.
#[test]
fn bench_control_scores_a_folder_of_images() {
    let (_dir, folder) = tmp("images");
    std::fs::create_dir(&folder).unwrap();
    let index = |swap: bool| {
        let mut images = Vec::new();
        for seed in 0..2u64 {
            for (k, prompt) in [
                "Large left pleural effusion.",
                "No acute cardiopulmonary process.",
            ]
            .iter()
            .enumerate()
            {
                let want_effusion = (k == 0) != swap;
                let p = if want_effusion {
                    phantom_with(large_left_effusion(), 100 + seed, 128)
                } else {
                    phantom_with(Findings::default(), 200 + seed, 128)
                };
                let file = format!("{swap}-{k}-{seed}.png");
                write_grey(&folder.join(&file), &p.pixels, 128);
                images.push(serde_json::json!({"prompt": prompt, "seed": seed, "file": file}));
            }
        }
        let index =
            serde_json::json!({"generator": "phantoms drawn by the test", "images": images});
        std::fs::write(folder.join("index.json"), index.to_string()).unwrap();
    };
    let args = |min: &str| {
        [
            "bench",
            "control",
            "--images",
            folder.to_str().unwrap(),
            "--seeds",
            "2",
            "--filter",
            "Large left pleural",
            "--filter",
            "No acute",
            "--json",
            "--min-side",
            min,
        ]
        .map(String::from)
    };
    let run = |a: [String; 13]| roentgen(&a.iter().map(String::as_str).collect::<Vec<_>>());
    index(false);
    let out = run(args("1.0"));
    ok(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["prompts"].as_array().unwrap().len(), 2);
    assert_eq!(report["side"], 1.0, "{report}");
    assert_eq!(report["adapter"], "phantoms drawn by the test");
    index(true);
    fails(&run(args("0.5")), "prompt control");
}

#[test]
fn read_reports_the_findings_of_a_png() {
    let (_dir, png) = tmp("effusion.png");
    let p = phantom_with(large_left_effusion(), 7, 128);
    write_grey(&png, &p.pixels, 128);
    let out = roentgen(&["read", png.to_str().unwrap()]);
    ok(&out);
    let read: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        read[0]["heads"]["effusion_left"]["class"], "large",
        "{read}"
    );
    assert_eq!(
        read[0]["heads"]["effusion_right"]["class"], "none",
        "{read}"
    );
    let (_d2, bad) = tmp("not.png");
    std::fs::write(&bad, b"not a png").unwrap();
    fails(&roentgen(&["read", bad.to_str().unwrap()]), "not a PNG");
}
/// `bench control` end to end on the random tiny model: images generated,
/// read and scored, the grid written, and `--min-side` failing a model that
/// does not obey (random weights cannot). The demo model's own check is the
/// same command with its threshold.
#[test]
fn bench_control_reads_and_scores_generated_images() {
    let (_dir, grid) = tmp("grid.png");
    let model = root().join("tests/goldens/tiny-sd4/model");
    let args = [
        "bench",
        "control",
        "--model",
        model.to_str().unwrap(),
        "--seeds",
        "2",
        "--steps",
        "2",
        "--filter",
        "left pleural effusion",
        "--json",
        "--grid",
        grid.to_str().unwrap(),
    ];
    let out = roentgen(&args);
    ok(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let prompts = report["prompts"].as_array().unwrap();
    let names: Vec<&str> = prompts
        .iter()
        .map(|p| p["prompt"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Large left pleural effusion.",
            "Moderate left pleural effusion."
        ]
    );
    for p in prompts {
        assert_eq!(p["images"], 2);
        let side = p["side"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&side));
    }
    assert!(report["frechet_to_phantoms"].as_f64().unwrap() > 0.0);
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&grid).unwrap()));
    let info = dec.read_info().unwrap().info().clone();
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    assert_eq!(
        (info.width, info.height),
        (2 * 128, 2 * 128),
        "two seeds across, two prompts down"
    );
    let strict = [
        "bench",
        "control",
        "--model",
        model.to_str().unwrap(),
        "--seeds",
        "1",
        "--steps",
        "1",
        "--filter",
        "Large left",
        "--min-side",
        "1.01",
    ];
    fails(&roentgen(&strict), "prompt control");
}

/// The floor for the demo model's check below: all three images, one seed
/// (2026-12-05 on lavapipe: three of three, 91 s; two seeds took twice that
/// for no more power: a model that ignored the prompt, or lost its sides,
/// would draw the same for the three prompts and pass one at most).
const DEMO_MIN_SIDE: &str = "1.0";

/// The demo model obeys prompts on this machine's adapter (lavapipe in CI):
/// a large effusion on the side asked (the patient's left or right) and
/// none when none is asked, through our whole pipeline,
/// scored by the reader. A change that
/// breaks prompt control (a kernel, the sampler, the tokenizer, the
/// weights) fails here; docs/demo-model.md has the full table (16 prompts x 16 seeds).
#[test]
fn demo_model_obeys_prompts_on_this_adapter() {
    let model = root().join("demo-model/model");
    let args = [
        "bench",
        "control",
        "--model",
        model.to_str().unwrap(),
        "--seeds",
        "1",
        "--steps",
        "10",
        "--scheduler",
        "dpm++2m",
        "--filter",
        "Large left pleural",
        "--filter",
        "Large right pleural",
        "--filter",
        "No pleural effusion",
        "--min-side",
        DEMO_MIN_SIDE,
    ];
    let out = roentgen(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    ok(&out);
    assert!(stdout.contains("in all: side"), "{stdout}");
}
