//! `roentgen edit` as a user runs it on the committed tiny model: a masked
//! edit of the golden radiograph equals diffusers' (same noise, same mask),
//! a DICOM file edits and the PNG says what it was made from, and bad input
//! is refused clearly.

mod common;

use std::path::{Path, PathBuf};

use common::{fails, ok, read_npy, rel_l2, roentgen, root, tmp, write_npy};

fn golden(p: &str) -> PathBuf {
    root().join("tests/goldens/tiny-sd2").join(p)
}

fn fixture(p: &str) -> PathBuf {
    root().join("tests/fixtures/radiographs").join(p)
}

fn edit_goldens() -> std::collections::HashMap<String, (Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(golden("edit.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(name, v)| {
            let values = v
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            (name, (v.shape().to_vec(), values))
        })
        .collect()
}

/// An 8-bit grey PNG of `values` in [0, 1].
fn write_grey_png(path: &Path, w: usize, h: usize, values: &[f32]) {
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut enc = png::Encoder::new(file, w as u32, h as u32);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    let bytes: Vec<u8> = values.iter().map(|v| (v * 255.0).round() as u8).collect();
    enc.write_header()
        .unwrap()
        .write_image_data(&bytes)
        .unwrap();
}

fn png_text(path: &Path) -> Vec<(String, String)> {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let reader = dec.read_info().unwrap();
    reader
        .info()
        .utf8_text
        .iter()
        .map(|c| (c.keyword.clone(), c.get_text().unwrap()))
        .collect()
}

/// The golden masked edit as a user runs it: the golden radiograph and its
/// mask as PNGs, diffusers' noise, `extra` arguments. Returns the folder, the
/// grey radiograph and the painted mask (both [0, 1] at image size), the
/// image's size and the CLI's stderr; the folder holds `edited.png` and
/// `latents.npy`.
struct MaskedEdit {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    grey: Vec<f32>,
    painted: Vec<f32>,
    hw: (usize, usize),
    stderr: String,
}

fn masked_edit(
    g: &std::collections::HashMap<String, (Vec<usize>, Vec<f32>)>,
    extra: &[&str],
) -> MaskedEdit {
    let (ishape, image) = &g["edit.image"];
    let (h, w) = (ishape[2], ishape[3]);
    // The golden image is grey (R = G = B), in [-1, 1]: one plane as a PNG.
    let grey: Vec<f32> = image[..h * w].iter().map(|v| (v + 1.0) / 2.0).collect();
    let (tmp_dir, dir) = tmp("edit");
    std::fs::create_dir_all(&dir).unwrap();
    let image_png = dir.join("radiograph.png");
    write_grey_png(&image_png, w, h, &grey);
    // The latent mask, painted at image size (each latent pixel a 2x2 block).
    let mask = &g["edit.mask"].1;
    let lw = w / 2;
    let painted: Vec<f32> = (0..h * w)
        .map(|i| mask[(i / w / 2) * lw + (i % w) / 2])
        .collect();
    let mask_png = dir.join("mask.png");
    write_grey_png(&mask_png, w, h, &painted);
    let (nshape, noise) = &g["edit.noise"];
    let noise_npy = dir.join("noise.npy");
    write_npy(&noise_npy, nshape, noise);
    let out = dir.join("edited.png");
    let latents = dir.join("latents.npy");
    let mut args = vec![
        "edit",
        "--model",
        golden("model").to_str().unwrap(),
        "--image",
        image_png.to_str().unwrap(),
        "--mask",
        mask_png.to_str().unwrap(),
        "--strength",
        "0.8",
        "--steps",
        "6",
        "--scheduler",
        "ddim",
        "--prompt",
        "large right pleural effusion",
        "--negative",
        "lateral view",
        "--noise",
        noise_npy.to_str().unwrap(),
        "--precision",
        "f32",
        "--save-latents",
        latents.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>();
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let stderr = ok(&roentgen(&args));
    MaskedEdit {
        _tmp: tmp_dir,
        dir,
        grey,
        painted,
        hw: (h, w),
        stderr,
    }
}

/// The first channel of an RGB8 PNG.
fn red_levels(path: &Path) -> Vec<u8> {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    reader.next_frame(&mut buf).unwrap();
    buf.chunks(3).map(|p| p[0]).collect()
}

#[test]
fn a_masked_edit_matches_diffusers_end_to_end() {
    let g = edit_goldens();
    let edit = masked_edit(&g, &[]);
    let (stderr, dir) = (&edit.stderr, &edit.dir);
    let (out, latents) = (dir.join("edited.png"), dir.join("latents.npy"));
    assert!(stderr.contains("strength 0.8, 4 of 6 steps"), "{stderr}");
    let err = rel_l2(&read_npy(&latents), &g["masked.ddim.6.0.8.latents"].1);
    assert!(err < 1e-3, "latents rel L2 {err}");
    let text = png_text(&out);
    let get = |k: &str| {
        text.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("mask").as_deref(), Some("mask.png"));
    assert_eq!(get("edited_from").as_deref(), Some("radiograph.png"));
    assert!(
        get("Comment")
            .unwrap()
            .starts_with("edited synthetic image, made from radiograph.png")
    );
}

#[test]
fn a_masked_edit_keeps_the_original_outside_the_mask_unless_asked_for_diffusers_output() {
    let g = edit_goldens();
    let kept = masked_edit(&g, &[]);
    let exact = masked_edit(&g, &["--diffusers-exact"]);
    let (h, w) = kept.hw;
    let a = red_levels(&kept.dir.join("edited.png"));
    let b = red_levels(&exact.dir.join("edited.png"));
    let original: Vec<u8> = kept
        .grey
        .iter()
        .map(|v| (v * 255.0).round() as u8)
        .collect();
    let outside: Vec<usize> = (0..h * w).filter(|&i| kept.painted[i] < 0.5).collect();
    assert!(!outside.is_empty() && outside.len() < h * w);
    // The decoder alone drifts outside the mask (why the blend exists) ...
    let drift = outside
        .iter()
        .map(|&i| b[i].abs_diff(original[i]) as f64)
        .sum::<f64>()
        / outside.len() as f64;
    println!("decoder drift outside the mask: {drift:.2} levels on average");
    assert!(
        drift > 0.0,
        "the decoded kept region equals the original already"
    );
    // ... the default puts the original back, level for level.
    for &i in &outside {
        assert_eq!(a[i], original[i], "pixel {i} outside the mask");
    }
    // Inside, past the seam (2 px on this 16-px image), the edit is as decoded.
    let feather = 2.0;
    let weights = roentgen_imaging::edit_weight(
        &roentgen_imaging::Grayscale {
            width: w,
            height: h,
            values: kept.painted.clone(),
            source: String::new(),
        },
        w,
        h,
        feather,
    );
    let inner: Vec<usize> = (0..h * w).filter(|&i| weights[i] == 1.0).collect();
    assert!(!inner.is_empty());
    for &i in &inner {
        assert_eq!(a[i], b[i], "pixel {i} well inside the mask");
    }
    let text = png_text(&kept.dir.join("edited.png"));
    let said = |t: &[(String, String)]| {
        t.iter()
            .find(|(k, _)| k == "outside_mask")
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(
        said(&text),
        "the original's pixels, seam feathered over 2 px"
    );
    assert_eq!(
        said(&png_text(&exact.dir.join("edited.png"))),
        "as the VAE decoded it (diffusers' output)"
    );
}

#[test]
fn a_dicom_radiograph_edits_and_says_how_it_was_read() {
    let (_d, out) = tmp("from-dicom.png");
    let stderr = ok(&roentgen(&[
        "edit",
        "--model",
        golden("model").to_str().unwrap(),
        "--image",
        fixture("cxr-mono1-window.dcm").to_str().unwrap(),
        "--strength",
        "0.5",
        "--steps",
        "4",
        "--seed",
        "3",
        "--prompt",
        "small left pneumothorax",
        "--out",
        out.to_str().unwrap(),
    ]));
    assert!(stderr.contains("128x128 DICOM CR"), "{stderr}");
    let text = png_text(&out);
    let read_as = text.iter().find(|(k, _)| k == "edited_read_as").unwrap();
    assert!(read_as.1.contains("MONOCHROME1 inverted"), "{read_as:?}");
    assert!(
        read_as.1.contains("window 1050.5/4081 from the file"),
        "{read_as:?}"
    );
}

#[test]
fn bad_edits_are_refused_clearly() {
    let model = golden("model");
    let model = model.to_str().unwrap();
    let (_d, out) = tmp("x.png");
    let out = out.to_str().unwrap();
    let dicom = fixture("cxr-voi-lut.dcm");
    let dicom = dicom.to_str().unwrap();
    let base = |extra: &[&str]| {
        let mut a = vec![
            "edit", "--model", model, "--prompt", "x", "--out", out, "--steps", "4",
        ];
        a.extend_from_slice(extra);
        roentgen(&a)
    };
    fails(
        &base(&["--image", dicom, "--strength", "0"]),
        "--strength 0",
    );
    fails(
        &base(&["--image", dicom, "--strength", "0.1"]),
        "runs no step",
    );
    let manifest = golden("model/manifest.json");
    fails(
        &base(&["--image", manifest.to_str().unwrap()]),
        "not a PNG, JPEG or DICOM file",
    );
    let full = fixture("nih-cxr14-00000001_000.png");
    fails(
        &base(&["--image", dicom, "--mask", full.to_str().unwrap()]),
        "paint the mask over the image itself",
    );
    fails(
        &base(&["--image", dicom, "--fit", "stretch"]),
        "use crop or pad",
    );
}
