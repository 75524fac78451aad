//! An image size asked for instead of the model's own (SD v1.x draws 512x512):
//! a slow adapter can draw a smaller image, a link or a batch can fix one.
//! Which sizes a model can draw depends on it (its VAE's scale times its
//! UNet's downsampling), so the check against a model lives here too.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest side a link or a command may ask for (SD 2.x's own is 768; the
/// binding limits, not this, decide what an adapter can run).
pub const MAX_SIDE: usize = 2048;

/// Width x height in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSize {
    pub width: usize,
    pub height: usize,
}

impl ImageSize {
    /// "512x768" (width x height) or "512" (square); "" is an error, the
    /// caller decides what no size means.
    pub fn parse(v: &str) -> Result<Self, String> {
        let side = |s: &str| -> Result<usize, String> {
            let s = s.trim();
            if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "size: {v:?} is not WIDTHxHEIGHT in pixels, e.g. 512x512"
                ));
            }
            let n: usize = s
                .parse()
                .map_err(|_| format!("size: {v:?} is not a number"))?;
            if n == 0 || n > MAX_SIDE {
                return Err(format!("size: each side from 1 to {MAX_SIDE} pixels"));
            }
            Ok(n)
        };
        let (w, h) = match v.split_once(['x', 'X']) {
            Some((w, h)) => (side(w)?, side(h)?),
            None => {
                let s = side(v)?;
                (s, s)
            }
        };
        Ok(Self {
            width: w,
            height: h,
        })
    }

    /// The latent (height, width) for a model whose image is `vae_scale`
    /// times its latent and whose UNet halves the latent `downs` times:
    /// each side must be a multiple of `vae_scale << downs` (64 for SD).
    pub fn latent_hw(self, vae_scale: usize, downs: u32) -> Result<(usize, usize), String> {
        let step = vae_scale << downs;
        if !self.width.is_multiple_of(step) || !self.height.is_multiple_of(step) {
            return Err(format!(
                "size {self}: each side must be a multiple of {step} pixels for this model"
            ));
        }
        Ok((self.height / vae_scale, self.width / vae_scale))
    }
}

impl fmt::Display for ImageSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_width_by_height_and_squares() {
        let s = ImageSize::parse("128x192").unwrap();
        assert_eq!((s.width, s.height), (128, 192));
        assert_eq!(s.to_string(), "128x192");
        assert_eq!(
            ImageSize::parse("256").unwrap(),
            ImageSize::parse("256X256").unwrap()
        );
        for bad in [
            "",
            "x",
            "0x64",
            "64x",
            "-64",
            "64x64x64",
            "1e3",
            "4096",
            "99999999999",
        ] {
            assert!(
                ImageSize::parse(bad).unwrap_err().starts_with("size"),
                "{bad}"
            );
        }
    }

    #[test]
    fn latent_size_follows_the_model() {
        // SD: VAE x8, UNet halves three times: sides in steps of 64.
        let s = ImageSize::parse("128x192").unwrap();
        assert_eq!(s.latent_hw(8, 3), Ok((24, 16)));
        let err = ImageSize::parse("100")
            .unwrap()
            .latent_hw(8, 3)
            .unwrap_err();
        assert!(err.contains("multiple of 64"), "{err}");
        // The tiny test model: VAE x2, one halving.
        assert_eq!(
            ImageSize::parse("20").unwrap().latent_hw(2, 1),
            Ok((10, 10))
        );
    }
}
