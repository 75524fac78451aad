//! The fitted radiograph as the VAE's input, and a painted mask as the
//! latent-grid mask masked editing blends with.

use crate::{Grayscale, default_feather, edit_weight};

/// A painted mask as an edit takes it (the page and `roentgen edit` alike).
pub struct EditMask {
    /// At the latent grid ([`latent_mask`]).
    pub latent: Vec<f32>,
    /// When the original is kept outside the mask: each pixel's weight of
    /// the edit at image size ([`edit_weight`]) and the seam's width in
    /// pixels.
    pub blend: Option<(Vec<f32>, f32)>,
}

/// `mask` (white = change) for an image of `width` x `height` pixels over a
/// latent grid of `latent_hw`; with `keep_outside`, the blend that puts the
/// original back outside it with the default seam.
pub fn edit_mask(
    mask: &Grayscale,
    (width, height): (usize, usize),
    latent_hw: (usize, usize),
    keep_outside: bool,
) -> EditMask {
    let blend = keep_outside.then(|| {
        let feather = default_feather(width);
        (edit_weight(mask, width, height, feather), feather)
    });
    EditMask {
        latent: latent_mask(mask, latent_hw.0, latent_hw.1),
        blend,
    }
}

/// [channels, H, W] values in [-1, 1] (the grey repeated over the VAE's
/// input channels, `2 x - 1` as diffusers' `VaeImageProcessor` normalizes).
pub fn to_model_input(img: &Grayscale, channels: usize) -> Vec<f32> {
    let plane: Vec<f32> = img.values.iter().map(|v| 2.0 * v - 1.0).collect();
    (0..channels).flat_map(|_| plane.iter().copied()).collect()
}

/// A mask at image size (white = may change) to the latent grid, as
/// diffusers' inpainting pipeline takes it: binarized at 0.5 and sampled
/// nearest (`F.interpolate(mask, size=(h, w))` picks pixel `floor(i * H / h)`).
pub fn latent_mask(mask: &Grayscale, h: usize, w: usize) -> Vec<f32> {
    (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .map(|(x, y)| {
            let sy = y * mask.height / h;
            let sx = x * mask.width / w;
            if mask.values[sy * mask.width + sx] >= 0.5 {
                1.0
            } else {
                0.0
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mask_samples_each_blocks_first_pixel_and_binarizes() {
        // 4x4 image, 2x2 latent grid; only pixel (2, 0) (block (1, 0)'s
        // first) is white, and a grey 0.4 at (0, 2) stays "keep".
        let mut values = vec![0.0; 16];
        values[2] = 1.0;
        values[8] = 0.4;
        values[3] = 1.0; // not a block's first pixel: ignored
        let m = Grayscale {
            width: 4,
            height: 4,
            values,
            source: String::new(),
        };
        assert_eq!(latent_mask(&m, 2, 2), vec![0.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn model_input_is_two_x_minus_one_per_channel() {
        let g = Grayscale {
            width: 2,
            height: 1,
            values: vec![0.0, 1.0],
            source: String::new(),
        };
        assert_eq!(to_model_input(&g, 3), vec![-1.0, 1.0, -1.0, 1.0, -1.0, 1.0]);
    }
}
