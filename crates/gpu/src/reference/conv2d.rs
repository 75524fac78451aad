//! CPU reference for `shaders/conv2d.wgsl`: the convolution sum as written, in f64.

/// Zero padding before (top, left) and after (bottom, right) the image,
/// the same on both axes. Symmetric for "same" convolutions; diffusers' VAE
/// encoder downsamples with (0, 1): `F.pad(x, (0, 1, 0, 1))`, then stride 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Padding {
    pub begin: usize,
    pub end: usize,
}

impl Padding {
    pub fn total(self) -> usize {
        self.begin + self.end
    }
}

impl From<usize> for Padding {
    fn from(p: usize) -> Self {
        Self { begin: p, end: p }
    }
}

/// Shape of one convolution, NCHW, square stride.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dShape {
    pub batch: usize,
    pub cin: usize,
    pub h: usize,
    pub w: usize,
    pub cout: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    pub pad: Padding,
}

impl Conv2dShape {
    pub fn out_hw(&self) -> (usize, usize) {
        (
            (self.h + self.pad.total() - self.kh) / self.stride + 1,
            (self.w + self.pad.total() - self.kw) / self.stride + 1,
        )
    }
}

pub fn conv2d(x: &[f32], w: &[f32], bias: Option<&[f32]>, s: Conv2dShape) -> Vec<f32> {
    let (oh, ow) = s.out_hw();
    let mut out = vec![0.0; s.batch * s.cout * oh * ow];
    for n in 0..s.batch {
        for co in 0..s.cout {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = bias.map_or(0.0, |b| b[co] as f64);
                    for ci in 0..s.cin {
                        for ky in 0..s.kh {
                            for kx in 0..s.kw {
                                let iy = (oy * s.stride + ky) as isize - s.pad.begin as isize;
                                let ix = (ox * s.stride + kx) as isize - s.pad.begin as isize;
                                if iy < 0 || ix < 0 || iy >= s.h as isize || ix >= s.w as isize {
                                    continue;
                                }
                                let xv =
                                    x[((n * s.cin + ci) * s.h + iy as usize) * s.w + ix as usize];
                                let wv = w[((co * s.cin + ci) * s.kh + ky) * s.kw + kx];
                                acc += xv as f64 * wv as f64;
                            }
                        }
                    }
                    out[((n * s.cout + co) * oh + oy) * ow + ox] = acc as f32;
                }
            }
        }
    }
    out
}
