//! `roentgen dataset`: shards and a single process make the same bytes; a
//! rerun mends what a killed task left (a cut row, an image without its
//! row, a missing image) and refuses what belongs to another data set; the
//! merge refuses gaps and duplicates, naming them. The Slurm run of the same
//! command is tests/slurm/run.sh.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{fails, ok, roentgen, root, tmp};

fn model() -> String {
    root()
        .join("tests/goldens/tiny-sd2/model")
        .to_string_lossy()
        .into()
}

const SPEC: &str = r#"
base_seed = 70
steps = 2

[[group]]
prompt = "{side} pleural effusion."
side = ["left", "right"]
count = 1

[[group]]
prompt = "No acute cardiopulmonary process."
count = 2
"#;

/// `roentgen dataset make` of `spec` into `out`, with `extra` options.
fn run_make(spec: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let model = model();
    let mut args = vec![
        "dataset",
        "make",
        "--model",
        model.as_str(),
        "--spec",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    roentgen(&args)
}

/// One shard, which must succeed; what it said.
fn make(spec: &Path, out: &Path, shard: &str) -> String {
    ok(&run_make(spec, out, &["--shard", shard]))
}

fn merge(out: &Path) -> std::process::Output {
    roentgen(&["dataset", "merge", "--out", out.to_str().unwrap()])
}

fn image(out: &Path, k: u64) -> PathBuf {
    out.join(format!("images/000/{k:06}.png"))
}

fn part(out: &Path, i: u32, n: u32) -> PathBuf {
    out.join(format!("parts/shard-{i}-of-{n}.csv"))
}

#[test]
fn shards_resume_and_merge_to_the_single_process_bytes() {
    let (_guard, dir) = tmp("ds");
    fs::create_dir_all(&dir).unwrap();
    let spec = dir.join("spec.toml");
    fs::write(&spec, SPEC).unwrap();
    let (one, two) = (dir.join("one"), dir.join("two"));

    make(&spec, &one, "0/1");
    ok(&merge(&one));
    make(&spec, &two, "1/2");
    fails(&merge(&two), "2 of 4 images have no label row");
    fails(&merge(&two), ": 0, 2");
    make(&spec, &two, "0/2");
    ok(&merge(&two));
    let labels = fs::read_to_string(one.join("labels.csv")).unwrap();
    assert_eq!(labels, fs::read_to_string(two.join("labels.csv")).unwrap());
    for k in 0..4 {
        assert_eq!(
            fs::read(image(&one, k)).unwrap(),
            fs::read(image(&two, k)).unwrap(),
            "image {k}: a shard made other bytes than the single process"
        );
    }
    let rows: Vec<&str> = labels.lines().collect();
    assert_eq!(rows.len(), 5);
    assert!(rows[1].starts_with("0,images/000/000000.png,Left pleural effusion.,70,"));
    assert!(rows[1].contains(",1,left,"), "{}", rows[1]);
    assert!(rows[4].starts_with("3,images/000/000003.png,No acute cardiopulmonary process.,73,"));
    let card = fs::read_to_string(two.join("README.md")).unwrap();
    assert!(card.contains("SYNTHETIC — NOT FOR DIAGNOSIS"));
    assert!(card.contains("| effusion | 2 | 0 |"));
    assert!(card.contains("| no_finding | 2 | 0 |"));

    // A task killed after renaming image 3 into place, before its row was
    // whole: the row cut, a .partial left beside the images.
    let p = part(&two, 1, 2);
    let text = fs::read_to_string(&p).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let last = lines.pop().unwrap().to_string();
    assert!(last.starts_with("3,"));
    fs::write(&p, format!("{}\n{}", lines.join("\n"), &last[..20])).unwrap();
    fs::write(two.join("images/000/000001.png.partial"), b"cut").unwrap();
    fails(&merge(&two), "shard-1-of-2.csv end in a row cut");
    let said = make(&spec, &two, "1/2");
    assert!(said.contains("dropped a row cut"), "{said}");
    assert!(said.contains("0 images made, 2 already there"), "{said}");
    assert!(said.contains("1 label rows written"), "{said}");
    let said = String::from_utf8_lossy(&merge(&two).stderr).to_string();
    assert!(said.contains("removed 1 .partial"), "{said}");
    assert_eq!(labels, fs::read_to_string(two.join("labels.csv")).unwrap());

    // A lost image is named by the merge and made again, the same bytes.
    fs::remove_file(image(&two, 2)).unwrap();
    fails(&merge(&two), "image 2 (images/000/000002.png");
    let said = make(&spec, &two, "0/2");
    assert!(said.contains("1 images made, 1 already there"), "{said}");
    ok(&merge(&two));
    assert_eq!(
        fs::read(image(&one, 2)).unwrap(),
        fs::read(image(&two, 2)).unwrap()
    );

    // A row written twice (two runs disagreeing about the shards) is named.
    let extra = part(&two, 0, 3);
    let header = text.lines().next().unwrap();
    let row0 = labels.lines().nth(1).unwrap();
    fs::write(&extra, format!("{header}\n{row0}\n")).unwrap();
    fails(&merge(&two), "image 0 has 2 rows");
    fs::remove_file(&extra).unwrap();

    // Another data set's image in this one's place is refused, named.
    fs::copy(image(&two, 1), image(&two, 0)).unwrap();
    let out = run_make(&spec, &two, &["--shard", "0/2"]);
    fails(&out, "image 0 (");
    fails(&out, "its prompt is \"Right pleural effusion.\"");
    fails(&merge(&two), "the image does not match its row");

    // Another spec into the same folder is refused before the model loads.
    let other = dir.join("other.toml");
    fs::write(&other, SPEC.replace("steps = 2", "steps = 3")).unwrap();
    let out = run_make(&other, &two, &[]);
    fails(&out, "was made from another spec");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("model loaded"));
    // And so is other arithmetic (f16 and f32 differ in the last bits).
    let out = run_make(&spec, &two, &["--precision", "f32"]);
    fails(&out, "was made in f16 arithmetic, this run would use f32");
}

#[test]
fn spec_mistakes_are_refused_before_the_model_loads() {
    let (_guard, dir) = tmp("bad");
    fs::create_dir_all(&dir).unwrap();
    let spec = dir.join("spec.toml");
    let run = |text: &str| {
        fs::write(&spec, text).unwrap();
        run_make(&spec, &dir.join("out"), &[])
    };
    fails(
        &run(&SPEC.replace("side = [", "sides = [")),
        "the prompt uses {side} but the group has no list side",
    );
    fails(
        &run(&SPEC.replace("steps = 2", "step = 2")),
        "unknown field `step`",
    );
    fails(
        &run(&format!("scheduler = \"pmdn\"\n{SPEC}")),
        "scheduler \"pmdn\"",
    );
    // The tiny model's manifest does not say it was trained with
    // demographic captions, so a spec that sets the patient is refused.
    fails(
        &run(&format!("{SPEC}age = [40]\n")),
        "trained with demographic captions",
    );
    let long = "small left pleural effusion ".repeat(20);
    fails(
        &run(&SPEC.replace("No acute cardiopulmonary process.", &long)),
        "CLIP reads 77",
    );
    assert!(!dir.join("out/images").exists(), "nothing drawn");
    let out = roentgen(&[
        "dataset",
        "make",
        "--model",
        &model(),
        "--spec",
        "x.toml",
        "--out",
        "y",
        "--shard",
        "2/2",
    ]);
    fails(&out, "need 0 <= i < n");
}
