//! `roentgen generate --format dicom`: the image a PNG of the same seed
//! holds, as a Secondary Capture that our own reader reads back, that
//! dicom3tools' `dciodvfy` validates without an error or a warning, and
//! that dcmtk's `dcmdump` shows as synthetic. Both tools are Debian's
//! (`dicom3tools`, `dcmtk`); scripts/setup.sh installs them.

mod common;

use std::path::Path;
use std::process::Command;

use common::{ok, roentgen, root, tmp};

fn generate(out: &Path, extra: &[&str]) {
    let model = root().join("tests/goldens/tiny-sd2/model");
    let mut args = vec![
        "generate",
        "--model",
        model.to_str().unwrap(),
        "--prompt",
        "Small left apical pneumothorax.",
        "--steps",
        "2",
        "--seed",
        "31",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    ok(&roentgen(&args));
}

fn tool(name: &str, args: &[&Path]) -> String {
    let out = Command::new(name).args(args).output().unwrap_or_else(|e| {
        panic!("{name}: {e} (Debian's dicom3tools and dcmtk; scripts/setup.sh installs them)")
    });
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn dicom_holds_the_png_pixels_and_passes_dciodvfy() {
    let (_guard, dir) = tmp("dicom");
    std::fs::create_dir_all(&dir).unwrap();
    let (png_path, dcm_path) = (dir.join("a.png"), dir.join("a.dcm"));
    generate(&png_path, &[]);
    generate(&dcm_path, &[]);

    let png = image::read_png(&png_path);
    let dcm = roentgen_imaging::decode(&std::fs::read(&dcm_path).unwrap(), "a.dcm").unwrap();
    assert_eq!((dcm.width, dcm.height), (png.0, png.1));
    for (i, (v, rgb)) in dcm.values.iter().zip(png.2.chunks_exact(3)).enumerate() {
        let mean = (rgb[0] as u32 + rgb[1] as u32 + rgb[2] as u32 + 1) / 3;
        assert!(
            (v * 255.0 - mean as f32).abs() < 0.51,
            "pixel {i}: DICOM {} vs the PNG's mean {mean}",
            v * 255.0
        );
    }

    let said = tool("dciodvfy", &[&dcm_path]);
    assert!(
        said.contains("SCImage"),
        "dciodvfy did not see a Secondary Capture: {said}"
    );
    assert!(
        !said.contains("Error") && !said.contains("Warning"),
        "dciodvfy: {said}"
    );
    let dump = tool("dcmdump", &[&dcm_path]);
    for want in [
        "(0008,0008) CS [DERIVED\\SECONDARY]",
        "(0008,0064) CS [SYN]",
        "(0008,103e) LO [SYNTHETIC - NOT FOR DIAGNOSIS]",
        "(0010,0010) PN [SYNTHETIC^IMAGE]",
        "(0028,0301) CS [NO]",
    ] {
        assert!(dump.contains(want), "dcmdump lacks {want}: {dump}");
    }
}

#[test]
fn a_folder_of_dicom_files_has_fresh_uids() {
    let (_guard, dir) = tmp("dicoms");
    generate(&dir, &["--format", "dicom", "--count", "2"]);
    let uid = |seed: u32| {
        let path = dir.join(format!("roentgen-{seed}.dcm"));
        let dump = tool("dcmdump", &[&path]);
        dump.lines()
            .find(|l| l.starts_with("(0008,0018)"))
            .unwrap_or_else(|| panic!("no SOP instance UID: {dump}"))
            .to_string()
    };
    assert_ne!(uid(31), uid(32));
}

mod image {
    /// (width, height, RGB bytes) of a PNG.
    pub fn read_png(path: &std::path::Path) -> (usize, usize, Vec<u8>) {
        let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
        let mut reader = dec.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info.width as usize, info.height as usize, buf)
    }
}
