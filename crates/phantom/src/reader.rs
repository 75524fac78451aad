//! The phantom reader: a small convolutional network, trained on phantoms by
//! `demo-model/reader.py` (torch, dev-time only), that answers the
//! [`HEADS`](crate::labels::HEADS) for an image. It runs here in plain Rust
//! on the CPU, without torch, so CI and `roentgen bench control` can check
//! whether a generated image shows what its prompt asked for.
//!
//! The network (weights in `reader.safetensors`, f16, built into the crate):
//! a 128x128 grey image in [0, 1] ->
//! conv 5x5 stride 2 (16) -> ReLU -> conv 3x3 (32) -> ReLU -> max-pool 2 ->
//! conv 3x3 (64) -> ReLU -> max-pool 2 -> conv 3x3 (64) -> ReLU -> max-pool 2 ->
//! flatten (64x8x8) -> linear 128 -> ReLU -> linear to every head's logits.
//! It flattens rather than pools globally: where a finding is (which side,
//! which zone) is the point.

use safetensors::SafeTensors;

use crate::labels::{HEADS, logit_count};

/// The reader's input side; other sizes are resampled to it.
pub const SIDE: usize = 128;

const WEIGHTS: &[u8] = include_bytes!("../reader.safetensors");

#[derive(Debug, thiserror::Error)]
pub enum ReaderError {
    #[error("reader weights: {0}")]
    Format(#[from] safetensors::SafeTensorError),
    #[error("reader weights: {name} has shape {got:?}, expected {want:?}")]
    Shape {
        name: String,
        got: Vec<usize>,
        want: Vec<usize>,
    },
    #[error("reader weights: {0} is not f16")]
    DType(String),
}

struct Conv {
    weight: Vec<f32>,
    bias: Vec<f32>,
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
}

struct Linear {
    weight: Vec<f32>,
    bias: Vec<f32>,
    cin: usize,
    cout: usize,
}

pub struct Reader {
    convs: [Conv; 4],
    fc1: Linear,
    fc2: Linear,
}

/// One image's answers: the chosen class of each head and its probability.
#[derive(Clone, Debug)]
pub struct Reading {
    pub answers: Vec<usize>,
    pub confidence: Vec<f32>,
    /// The 128 hidden features the heads read (see [`Reader::features`]).
    pub features: Vec<f32>,
}

impl Reading {
    pub fn findings(&self) -> crate::Findings {
        crate::labels::decode(&self.answers)
    }
}

fn tensor(st: &SafeTensors, name: &str, want: &[usize]) -> Result<Vec<f32>, ReaderError> {
    let t = st.tensor(name)?;
    if t.shape() != want {
        return Err(ReaderError::Shape {
            name: name.into(),
            got: t.shape().to_vec(),
            want: want.to_vec(),
        });
    }
    if t.dtype() != safetensors::Dtype::F16 {
        return Err(ReaderError::DType(name.into()));
    }
    Ok(t.data()
        .chunks_exact(2)
        .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
        .collect())
}

impl Reader {
    /// The reader built into the crate.
    pub fn bundled() -> Result<Self, ReaderError> {
        Self::from_bytes(WEIGHTS)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ReaderError> {
        let st = SafeTensors::deserialize(bytes)?;
        let conv = |i: usize, cin: usize, cout: usize, k: usize, stride: usize| {
            Ok::<_, ReaderError>(Conv {
                weight: tensor(&st, &format!("conv{i}.weight"), &[cout, cin, k, k])?,
                bias: tensor(&st, &format!("conv{i}.bias"), &[cout])?,
                cin,
                cout,
                k,
                stride,
            })
        };
        let linear = |name: &str, cin: usize, cout: usize| {
            Ok::<_, ReaderError>(Linear {
                weight: tensor(&st, &format!("{name}.weight"), &[cout, cin])?,
                bias: tensor(&st, &format!("{name}.bias"), &[cout])?,
                cin,
                cout,
            })
        };
        Ok(Reader {
            convs: [
                conv(1, 1, 16, 5, 2)?,
                conv(2, 16, 32, 3, 1)?,
                conv(3, 32, 64, 3, 1)?,
                conv(4, 64, 64, 3, 1)?,
            ],
            fc1: linear("fc1", 64 * 8 * 8, 128)?,
            fc2: linear("fc2", 128, logit_count())?,
        })
    }

    /// Reads a square grey image (row-major, [0, 1], bright = dense) of any
    /// side; it is area-resampled to [`SIDE`] first.
    pub fn read(&self, pixels: &[f32], side: usize) -> Reading {
        let features = self.hidden(&resample(pixels, side, SIDE));
        let logits = linear(&self.fc2, &features, false);
        let mut answers = Vec::with_capacity(HEADS.len());
        let mut confidence = Vec::with_capacity(HEADS.len());
        let mut at = 0;
        for h in HEADS {
            let l = &logits[at..at + h.classes.len()];
            at += h.classes.len();
            let max = l.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let sum: f32 = l.iter().map(|v| (v - max).exp()).sum();
            let (best, _) =
                l.iter().enumerate().fold(
                    (0, f32::NEG_INFINITY),
                    |b, (i, &v)| if v > b.1 { (i, v) } else { b },
                );
            answers.push(best);
            confidence.push(1.0 / sum);
        }
        Reading {
            answers,
            confidence,
            features,
        }
    }

    /// The 128 hidden features the heads read (after the first linear
    /// layer's ReLU), for any square image: what the Fréchet distance
    /// between generated images and phantoms is measured in.
    pub fn features(&self, pixels: &[f32], side: usize) -> Vec<f32> {
        self.hidden(&resample(pixels, side, SIDE))
    }

    /// Every head's logits for a [`SIDE`] x [`SIDE`] image.
    pub fn logits(&self, image: &[f32]) -> Vec<f32> {
        linear(&self.fc2, &self.hidden(image), false)
    }

    fn hidden(&self, image: &[f32]) -> Vec<f32> {
        assert_eq!(image.len(), SIDE * SIDE, "the reader reads {SIDE}x{SIDE}");
        let (mut x, mut hw) = (image.to_vec(), SIDE);
        for (i, c) in self.convs.iter().enumerate() {
            let (y, out_hw) = conv_relu(c, &x, hw);
            (x, hw) = if i == 0 {
                (y, out_hw)
            } else {
                (max_pool2(&y, c.cout, out_hw), out_hw / 2)
            };
        }
        linear(&self.fc1, &x, true)
    }
}

/// Same-padded convolution (pad k/2) followed by ReLU; `x` is [cin, hw, hw].
fn conv_relu(c: &Conv, x: &[f32], hw: usize) -> (Vec<f32>, usize) {
    let out_hw = hw / c.stride;
    let pad = (c.k / 2) as isize;
    let mut y = vec![0.0f32; c.cout * out_hw * out_hw];
    for o in 0..c.cout {
        let plane = &mut y[o * out_hw * out_hw..(o + 1) * out_hw * out_hw];
        plane.fill(c.bias[o]);
        for i in 0..c.cin {
            let src = &x[i * hw * hw..(i + 1) * hw * hw];
            for ky in 0..c.k {
                for kx in 0..c.k {
                    let w = c.weight[((o * c.cin + i) * c.k + ky) * c.k + kx];
                    for oy in 0..out_hw {
                        let sy = (oy * c.stride) as isize + ky as isize - pad;
                        if sy < 0 || sy >= hw as isize {
                            continue;
                        }
                        let row = &src[sy as usize * hw..(sy as usize + 1) * hw];
                        let dst = &mut plane[oy * out_hw..(oy + 1) * out_hw];
                        for (ox, d) in dst.iter_mut().enumerate() {
                            let sx = (ox * c.stride) as isize + kx as isize - pad;
                            if sx >= 0 && sx < hw as isize {
                                *d += w * row[sx as usize];
                            }
                        }
                    }
                }
            }
        }
        for v in plane.iter_mut() {
            *v = v.max(0.0);
        }
    }
    (y, out_hw)
}

fn max_pool2(x: &[f32], channels: usize, hw: usize) -> Vec<f32> {
    let h2 = hw / 2;
    let mut y = vec![0.0f32; channels * h2 * h2];
    for c in 0..channels {
        for oy in 0..h2 {
            for ox in 0..h2 {
                let at = |dy: usize, dx: usize| x[(c * hw + 2 * oy + dy) * hw + 2 * ox + dx];
                y[(c * h2 + oy) * h2 + ox] = at(0, 0).max(at(0, 1)).max(at(1, 0)).max(at(1, 1));
            }
        }
    }
    y
}

fn linear(l: &Linear, x: &[f32], relu: bool) -> Vec<f32> {
    (0..l.cout)
        .map(|o| {
            let w = &l.weight[o * l.cin..(o + 1) * l.cin];
            let v = l.bias[o] + w.iter().zip(x).map(|(a, b)| a * b).sum::<f32>();
            if relu { v.max(0.0) } else { v }
        })
        .collect()
}

/// Area resampling of a square image (box filter; nearest when enlarging).
pub fn resample(pixels: &[f32], from: usize, to: usize) -> Vec<f32> {
    assert_eq!(pixels.len(), from * from);
    if from == to {
        return pixels.to_vec();
    }
    let mut out = vec![0.0f32; to * to];
    for y in 0..to {
        let (y0, y1) = (
            y * from / to,
            ((y + 1) * from).div_ceil(to).max(y * from / to + 1),
        );
        for x in 0..to {
            let (x0, x1) = (
                x * from / to,
                ((x + 1) * from).div_ceil(to).max(x * from / to + 1),
            );
            let mut s = 0.0;
            for yy in y0..y1 {
                for xx in x0..x1 {
                    s += pixels[yy * from + xx];
                }
            }
            out[y * to + x] = s / ((y1 - y0) * (x1 - x0)) as f32;
        }
    }
    out
}
