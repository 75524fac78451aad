//! CPU reference for `shaders/conv2d.wgsl`: the convolution sum as written, in f64.

/// Shape of one convolution, NCHW, square stride and padding.
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
    pub pad: usize,
}

impl Conv2dShape {
    pub fn out_hw(&self) -> (usize, usize) {
        (
            (self.h + 2 * self.pad - self.kh) / self.stride + 1,
            (self.w + 2 * self.pad - self.kw) / self.stride + 1,
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
                                let iy = (oy * s.stride + ky) as isize - s.pad as isize;
                                let ix = (ox * s.stride + kx) as isize - s.pad as isize;
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
