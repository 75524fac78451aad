//! A cheap look at latents while they are being denoised: each latent pixel's
//! 4 channels mapped linearly to RGB, no VAE. The map is the one ComfyUI uses
//! for SD v1.x previews (`latent_formats.SD15.latent_rgb_factors`, fitted to
//! VAE decodes), applied to the model's (scaled) latents; the result is 1/8 of
//! the image's side and only roughly its colours, which is all a progress
//! picture or a teaching strip of the denoising needs.

/// Rows: latent channel; columns: R, G, B.
const SD15_RGB: [[f32; 3]; 4] = [
    [0.3512, 0.2297, 0.3227],
    [0.3250, 0.4974, 0.2350],
    [-0.2829, 0.1762, 0.2721],
    [-0.2120, -0.2616, -0.7177],
];

/// RGB8 of the first image of `latents` ([n, 4, h, w]), row-major, h x w.
/// Channels beyond 4 are ignored and missing ones count as 0.
pub fn latents_rgb8(latents: &[f32], shape: [usize; 4]) -> Vec<u8> {
    let [_, c, h, w] = shape;
    let plane = h * w;
    let mut out = Vec::with_capacity(plane * 3);
    for p in 0..plane {
        for rgb in 0..3 {
            let v: f32 = SD15_RGB
                .iter()
                .take(c)
                .enumerate()
                .filter_map(|(ch, f)| latents.get(ch * plane + p).map(|x| x * f[rgb]))
                .sum();
            // ComfyUI: ((v + 1) / 2).clamp(0, 1), as 8 bits.
            out.push((((v + 1.0) / 2.0).clamp(0.0, 1.0) * 255.0).round() as u8);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_channel_moves_the_colour_by_its_factors() {
        // 1x2 latents: pixel 0 all zero (mid grey), pixel 1 channel 3 = 1.
        let lat = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0];
        let rgb = latents_rgb8(&lat, [1, 4, 1, 2]);
        assert_eq!(&rgb[..3], &[128, 128, 128]);
        let expect = |f: f32| (((f + 1.0) / 2.0) * 255.0).round() as u8;
        assert_eq!(
            &rgb[3..],
            &[expect(-0.2120), expect(-0.2616), expect(-0.7177)]
        );
    }

    #[test]
    fn extremes_clamp() {
        let lat = [10.0, -10.0];
        let rgb = latents_rgb8(&lat, [1, 1, 1, 2]);
        assert_eq!(rgb, [255, 255, 255, 0, 0, 0]);
    }
}
