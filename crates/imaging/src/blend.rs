//! Putting the radiograph back outside an edit's mask. Masked editing
//! changes latents only inside the mask, but the VAE's decoder spreads every
//! change over its receptive field, so the decoded "kept" region drifts by a
//! few grey levels from the original. A viewer comparing the edit with the
//! original must see exactly the original there: RadEdit and inpainting tools
//! composite the source back with a feathered seam, and so do we (on by
//! default in the page and the CLI; off for diffusers-exact output).

use crate::Grayscale;

/// The seam's width in pixels for an image `width` wide: 1/32 of it (16 px
/// at 512), at least 2, wide enough to hide the decoder's drift at the mask's
/// edge, narrow enough to leave small edits whole.
pub fn default_feather(width: usize) -> f32 {
    (width as f32 / 32.0).max(2.0)
}

/// How much of the edit each pixel of a `width` x `height` image takes:
/// 0 wherever the mask (white = change, binarized at 0.5, sampled nearest to
/// that size) keeps the original, rising with the distance from the nearest
/// kept pixel to 1 at `feather` pixels inside the mask. So the kept region is
/// the original exactly, and the seam lies inside what the user painted.
pub fn edit_weight(mask: &Grayscale, width: usize, height: usize, feather: f32) -> Vec<f32> {
    let change: Vec<bool> = (0..height)
        .flat_map(|y| (0..width).map(move |x| (x, y)))
        .map(|(x, y)| {
            let sy = y * mask.height / height;
            let sx = x * mask.width / width;
            mask.values[sy * mask.width + sx] >= 0.5
        })
        .collect();
    let distance = distance_to_kept(&change, width, height);
    distance
        .iter()
        .map(|&d| (d / feather.max(f32::MIN_POSITIVE)).min(1.0))
        .collect()
}

/// Each pixel's distance to the nearest kept (`!change`) pixel, 0 on kept
/// pixels: the two-pass chamfer transform with steps 1 and sqrt 2 (within 8%
/// of the Euclidean distance, enough for a seam). Infinite when nothing is
/// kept.
fn distance_to_kept(change: &[bool], width: usize, height: usize) -> Vec<f32> {
    const DIAGONAL: f32 = std::f32::consts::SQRT_2;
    let mut d: Vec<f32> = change
        .iter()
        .map(|&c| if c { f32::INFINITY } else { 0.0 })
        .collect();
    let at = |x: usize, y: usize| y * width + x;
    for y in 0..height {
        for x in 0..width {
            let mut v = d[at(x, y)];
            if x > 0 {
                v = v.min(d[at(x - 1, y)] + 1.0);
            }
            if y > 0 {
                v = v.min(d[at(x, y - 1)] + 1.0);
                if x > 0 {
                    v = v.min(d[at(x - 1, y - 1)] + DIAGONAL);
                }
                if x + 1 < width {
                    v = v.min(d[at(x + 1, y - 1)] + DIAGONAL);
                }
            }
            d[at(x, y)] = v;
        }
    }
    for y in (0..height).rev() {
        for x in (0..width).rev() {
            let mut v = d[at(x, y)];
            if x + 1 < width {
                v = v.min(d[at(x + 1, y)] + 1.0);
            }
            if y + 1 < height {
                v = v.min(d[at(x, y + 1)] + 1.0);
                if x + 1 < width {
                    v = v.min(d[at(x + 1, y + 1)] + DIAGONAL);
                }
                if x > 0 {
                    v = v.min(d[at(x - 1, y + 1)] + DIAGONAL);
                }
            }
            d[at(x, y)] = v;
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grey(width: usize, height: usize, values: Vec<f32>) -> Grayscale {
        Grayscale {
            width,
            height,
            values,
            source: String::new(),
        }
    }

    #[test]
    fn kept_pixels_weigh_zero_and_the_ramp_lies_inside_the_mask() {
        // A 16x1 strip: pixels 4..16 may change.
        let mask = grey(16, 1, (0..16).map(|x| (x >= 4) as u8 as f32).collect());
        let w = edit_weight(&mask, 16, 1, 4.0);
        assert!(w[..4].iter().all(|&v| v == 0.0), "{w:?}");
        assert_eq!(&w[4..8], &[0.25, 0.5, 0.75, 1.0]);
        assert!(w[8..].iter().all(|&v| v == 1.0), "{w:?}");
    }

    #[test]
    fn all_change_weighs_one_and_nothing_changed_weighs_zero() {
        let all = edit_weight(&grey(3, 3, vec![1.0; 9]), 6, 6, 2.0);
        assert_eq!(all, vec![1.0; 36]);
        let none = edit_weight(&grey(3, 3, vec![0.2; 9]), 6, 6, 2.0);
        assert_eq!(none, vec![0.0; 36]);
    }

    #[test]
    fn the_distance_is_chamfer_on_random_masks() {
        // Against a brute-force chamfer distance (the shortest 8-connected
        // path with steps 1 and sqrt 2) on random masks.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20 {
            let (w, h) = (9, 7);
            let change: Vec<bool> = (0..w * h).map(|_| next() % 5 != 0).collect();
            let got = distance_to_kept(&change, w, h);
            for y in 0..h {
                for x in 0..w {
                    let want = (0..h)
                        .flat_map(|ky| (0..w).map(move |kx| (kx, ky)))
                        .filter(|&(kx, ky)| !change[ky * w + kx])
                        .map(|(kx, ky)| {
                            let dx = x.abs_diff(kx) as f32;
                            let dy = y.abs_diff(ky) as f32;
                            dx.max(dy) - dx.min(dy) + dx.min(dy) * std::f32::consts::SQRT_2
                        })
                        .fold(f32::INFINITY, f32::min);
                    let g = got[y * w + x];
                    assert!(
                        (g - want).abs() < 1e-4 || (g.is_infinite() && want.is_infinite()),
                        "({x}, {y}): {g} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_mask_is_sampled_to_the_image_size() {
        // A 2x1 mask (right half changes) over an 8x1 image.
        let w = edit_weight(&grey(2, 1, vec![0.0, 1.0]), 8, 1, 2.0);
        assert_eq!(w, vec![0.0, 0.0, 0.0, 0.0, 0.5, 1.0, 1.0, 1.0]);
    }
}
