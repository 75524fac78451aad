//! A radiograph of any shape to the model's square (or other) input size:
//! centre-cropped or padded to the target's aspect, then resampled with a
//! triangle filter widened by the scale when shrinking (PIL's antialiased
//! bilinear), so a 3,000-pixel film comes down without aliasing.

use crate::Grayscale;

/// How a different aspect ratio is made to fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fit {
    /// Keep the centre, cut the long side (edges of a portrait film).
    #[default]
    Crop,
    /// Keep everything, black bars on the short side.
    Pad,
}

impl Fit {
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "crop" => Some(Fit::Crop),
            "pad" => Some(Fit::Pad),
            _ => None,
        }
    }

    /// The word `from_name` reads.
    pub fn name(self) -> &'static str {
        match self {
            Fit::Crop => "crop",
            Fit::Pad => "pad",
        }
    }
}

/// `img` at `width` x `height`.
pub fn fit(img: &Grayscale, width: usize, height: usize, how: Fit) -> Grayscale {
    let framed = frame(img, width as f64 / height as f64, how);
    let rows = resample_rows(&framed, width);
    let out = resample_cols(&rows, width, height);
    Grayscale {
        source: img.source.clone(),
        ..out
    }
}

/// The image cropped or padded (with 0) to aspect `w / h`.
fn frame(img: &Grayscale, aspect: f64, how: Fit) -> Grayscale {
    let (w, h) = (img.width, img.height);
    let current = w as f64 / h as f64;
    let (nw, nh) = match (how, current > aspect) {
        (Fit::Crop, true) => (((h as f64 * aspect).round() as usize).max(1), h),
        (Fit::Crop, false) => (w, ((w as f64 / aspect).round() as usize).max(1)),
        (Fit::Pad, true) => (w, ((w as f64 / aspect).round() as usize).max(1)),
        (Fit::Pad, false) => (((h as f64 * aspect).round() as usize).max(1), h),
    };
    if (nw, nh) == (w, h) {
        return img.clone();
    }
    // Offset of the new frame's origin in the old image (negative when padding).
    let (ox, oy) = (
        (w as isize - nw as isize) / 2,
        (h as isize - nh as isize) / 2,
    );
    let mut values = vec![0.0; nw * nh];
    for y in 0..nh {
        let sy = y as isize + oy;
        if sy < 0 || sy >= h as isize {
            continue;
        }
        for x in 0..nw {
            let sx = x as isize + ox;
            if sx >= 0 && sx < w as isize {
                values[y * nw + x] = img.values[sy as usize * w + sx as usize];
            }
        }
    }
    Grayscale {
        width: nw,
        height: nh,
        values,
        source: img.source.clone(),
    }
}

/// Weights of each output sample over the input (start index, weights).
fn filter(input: usize, output: usize) -> Vec<(usize, Vec<f64>)> {
    let scale = input as f64 / output as f64;
    let support = scale.max(1.0);
    (0..output)
        .map(|o| {
            let centre = (o as f64 + 0.5) * scale;
            let lo = ((centre - support).floor().max(0.0)) as usize;
            let hi = ((centre + support).ceil() as usize).min(input);
            let mut w: Vec<f64> = (lo..hi)
                .map(|i| {
                    let d = ((i as f64 + 0.5 - centre) / support).abs();
                    (1.0 - d).max(0.0)
                })
                .collect();
            let sum: f64 = w.iter().sum();
            if sum > 0.0 {
                w.iter_mut().for_each(|v| *v /= sum);
            } else {
                // Exactly between samples with a support of one: nearest.
                w.iter_mut().for_each(|v| *v = 1.0 / (hi - lo) as f64);
            }
            (lo, w)
        })
        .collect()
}

fn resample_rows(img: &Grayscale, width: usize) -> Grayscale {
    let f = filter(img.width, width);
    let mut values = Vec::with_capacity(width * img.height);
    for y in 0..img.height {
        let row = &img.values[y * img.width..(y + 1) * img.width];
        for (lo, w) in &f {
            values.push(
                w.iter()
                    .enumerate()
                    .map(|(k, w)| w * row[lo + k] as f64)
                    .sum::<f64>() as f32,
            );
        }
    }
    Grayscale {
        width,
        height: img.height,
        values,
        source: String::new(),
    }
}

fn resample_cols(img: &Grayscale, width: usize, height: usize) -> Grayscale {
    let f = filter(img.height, height);
    let mut values = vec![0.0; width * height];
    for (y, (lo, w)) in f.iter().enumerate() {
        for x in 0..width {
            values[y * width + x] = w
                .iter()
                .enumerate()
                .map(|(k, w)| w * img.values[(lo + k) * width + x] as f64)
                .sum::<f64>() as f32;
        }
    }
    Grayscale {
        width,
        height,
        values,
        source: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(width: usize, height: usize, f: impl Fn(usize, usize) -> f32) -> Grayscale {
        Grayscale {
            width,
            height,
            values: (0..height)
                .flat_map(|y| (0..width).map(move |x| (x, y)))
                .map(|(x, y)| f(x, y))
                .collect(),
            source: "test".into(),
        }
    }

    #[test]
    fn a_same_size_fit_is_the_identity() {
        let a = img(6, 4, |x, y| (x * 7 + y) as f32 / 40.0);
        assert_eq!(fit(&a, 6, 4, Fit::Crop), a);
    }

    #[test]
    fn shrinking_by_two_averages_blocks_and_keeps_the_mean() {
        let a = img(8, 8, |x, y| ((x + y) % 2) as f32);
        let b = fit(&a, 4, 4, Fit::Crop);
        let mean = |g: &Grayscale| g.values.iter().sum::<f32>() / g.values.len() as f32;
        assert!((mean(&a) - mean(&b)).abs() < 1e-6);
        // A checkerboard is above the new Nyquist limit: it averages to grey.
        assert!(
            b.values.iter().all(|v| (v - 0.5).abs() < 0.2),
            "{:?}",
            b.values
        );
    }

    #[test]
    fn crop_keeps_the_centre_and_pad_adds_black_bars() {
        // Portrait 4 wide x 8 high, rows numbered.
        let a = img(4, 8, |_, y| y as f32 / 7.0);
        let c = fit(&a, 4, 4, Fit::Crop);
        assert_eq!(c.values[0], 2.0 / 7.0, "rows 2..6 kept");
        assert_eq!(c.values[15], 5.0 / 7.0);
        let p = frame(&a, 1.0, Fit::Pad);
        assert_eq!((p.width, p.height), (8, 8));
        assert_eq!(p.values[0], 0.0, "left bar");
        assert_eq!(p.values[2], 0.0);
        assert_eq!(p.values[8 * 7 + 2], 1.0, "the image, bottom row");
    }

    #[test]
    fn a_constant_image_stays_constant_at_any_size() {
        let a = img(37, 51, |_, _| 0.25);
        for (w, h) in [(16, 16), (64, 64), (5, 9), (100, 40)] {
            let b = fit(&a, w, h, Fit::Crop);
            assert_eq!((b.width, b.height), (w, h));
            assert!(b.values.iter().all(|v| (v - 0.25).abs() < 1e-6));
        }
    }
}
