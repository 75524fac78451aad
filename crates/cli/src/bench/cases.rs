//! The SD v1 shapes at 512x512 with the CFG batch of 2 (the kernel issue's list).

use roentgen_gpu::ops::conv2d::Conv2dShape;

#[derive(Clone, Copy, Debug)]
pub enum Op {
    /// F.linear: x [m, k] . w[n, k]^T + b.
    Linear {
        m: usize,
        k: usize,
        n: usize,
    },
    Conv {
        s: Conv2dShape,
    },
    GroupNorm {
        n: usize,
        c: usize,
        hw: usize,
        eps: f32,
        silu: bool,
    },
    Attention {
        b: usize,
        lq: usize,
        lk: usize,
        heads: usize,
        d: usize,
        causal: bool,
    },
    Silu {
        n: usize,
    },
    Geglu {
        rows: usize,
        f: usize,
    },
    SchedulerStep {
        n: usize,
    },
}

pub struct Case {
    pub op: Op,
    pub name: String,
}

impl Op {
    pub fn family(&self) -> &'static str {
        match self {
            Op::Linear { .. } => "matmul",
            Op::Conv { .. } => "conv2d",
            Op::GroupNorm { .. } => "group_norm",
            Op::Attention { .. } => "attention",
            Op::Silu { .. } => "silu",
            Op::Geglu { .. } => "geglu",
            Op::SchedulerStep { .. } => "scheduler",
        }
    }

    /// Arithmetic of one call (multiply-adds count 2), for GFLOP/s.
    pub fn flops(&self) -> Option<f64> {
        Some(match *self {
            Op::Linear { m, k, n } => 2.0 * (m * k * n) as f64,
            Op::Conv { s } => {
                let (oh, ow) = s.out_hw();
                2.0 * (s.batch * s.cout * oh * ow * s.cin * s.kh * s.kw) as f64
            }
            Op::Attention {
                b,
                lq,
                lk,
                heads,
                d,
                causal,
            } => {
                let pairs = if causal {
                    (lq * (lq + 1) / 2) as f64
                } else {
                    (lq * lk) as f64
                };
                4.0 * (b * heads * d) as f64 * pairs
            }
            _ => return None,
        })
    }

    /// The `--quick` version for software adapters: channel counts and head
    /// sizes kept, token counts divided by 4, image sides by 4 (text's 77
    /// tokens stay: they are already small).
    pub fn quick(self) -> Op {
        let q = |tokens: usize| {
            if tokens == 77 || tokens == 154 {
                tokens
            } else {
                (tokens / 4).max(1)
            }
        };
        match self {
            Op::Linear { m, k, n } => Op::Linear { m: q(m), k, n },
            Op::Conv { mut s } => {
                s.h /= 4;
                s.w /= 4;
                Op::Conv { s }
            }
            Op::GroupNorm {
                n,
                c,
                hw,
                eps,
                silu,
            } => Op::GroupNorm {
                n,
                c,
                hw: hw / 16,
                eps,
                silu,
            },
            Op::Attention {
                b,
                lq,
                lk,
                heads,
                d,
                causal,
            } => Op::Attention {
                b,
                lq: q(lq),
                lk: q(lk),
                heads,
                d,
                causal,
            },
            Op::Silu { n } => Op::Silu { n: n / 16 },
            Op::Geglu { rows, f } => Op::Geglu { rows: q(rows), f },
            Op::SchedulerStep { n } => Op::SchedulerStep { n: n / 16 },
        }
    }

    /// A short description of the shape actually run.
    pub fn shape(&self) -> String {
        match *self {
            Op::Linear { m, k, n } => format!("{m}x{k}.{k}x{n}"),
            Op::Conv { s } => format!(
                "{}x{}x{}x{} k{} s{} -> {}",
                s.batch, s.cin, s.h, s.w, s.kh, s.stride, s.cout
            ),
            Op::GroupNorm { n, c, hw, .. } => format!("{n}x{c}x{hw}"),
            Op::Attention {
                b,
                lq,
                lk,
                heads,
                d,
                ..
            } => format!("{b}x{heads}x{d} {lq}x{lk}"),
            Op::Silu { n } | Op::SchedulerStep { n } => format!("{n}"),
            Op::Geglu { rows, f } => format!("{rows}x{}", 2 * f),
        }
    }

    /// Elements read once plus written once: the least traffic, for GB/s of
    /// memory-bound ops (multiply by the element size).
    pub fn min_elements_moved(&self) -> f64 {
        match *self {
            Op::GroupNorm { n, c, hw, .. } => 2.0 * (n * c * hw) as f64,
            Op::Silu { n } => 2.0 * n as f64,
            Op::Geglu { rows, f } => 3.0 * (rows * f) as f64,
            Op::SchedulerStep { n } => 4.0 * n as f64, // eps x2, x in, x out
            Op::Linear { m, k, n } => (m * k + k * n + m * n) as f64,
            Op::Conv { s } => {
                let (oh, ow) = s.out_hw();
                (s.batch * (s.cin * s.h * s.w + s.cout * oh * ow) + s.cout * s.cin * s.kh * s.kw)
                    as f64
            }
            Op::Attention {
                b,
                lq,
                lk,
                heads,
                d,
                ..
            } => (b * heads * d * (2 * lq + 2 * lk)) as f64,
        }
    }
}

fn conv(batch: usize, cin: usize, hw: usize, cout: usize, k: usize, stride: usize) -> Op {
    Op::Conv {
        s: Conv2dShape {
            batch,
            cin,
            h: hw,
            w: hw,
            cout,
            kh: k,
            kw: k,
            stride,
            pad: (k / 2).into(),
        },
    }
}

pub fn all() -> Vec<Case> {
    let mut v = Vec::new();
    let mut add = |op: Op, name: &str| {
        v.push(Case {
            op,
            name: name.to_string(),
        })
    };
    for (m, k, n, name) in [
        (8192, 320, 320, "8192x320.320x320 (attn proj, 64x64)"),
        (8192, 320, 2560, "8192x320.320x2560 (GEGLU proj, 64x64)"),
        (2048, 640, 640, "2048x640.640x640 (attn proj, 32x32)"),
        (512, 1280, 1280, "512x1280.1280x1280 (attn proj, 16x16)"),
        (154, 768, 320, "154x768.768x320 (cross-attn K/V)"),
        (154, 768, 3072, "154x768.768x3072 (CLIP MLP)"),
        (1000, 333, 998, "1000x333.333x998 (odd)"),
    ] {
        add(Op::Linear { m, k, n }, name);
    }
    for (op, name) in [
        (conv(2, 4, 64, 320, 3, 1), "conv_in 4->320 @64"),
        (conv(2, 320, 64, 320, 3, 1), "320->320 @64"),
        (conv(2, 320, 64, 320, 3, 2), "downsample 320 @64->32"),
        (conv(2, 320, 32, 640, 3, 1), "320->640 @32"),
        (conv(2, 640, 16, 1280, 3, 1), "640->1280 @16"),
        (conv(2, 1280, 8, 1280, 3, 1), "1280->1280 @8"),
        (conv(2, 2560, 8, 1280, 3, 1), "2560->1280 @8 (skip concat)"),
        (conv(2, 640, 32, 1280, 1, 1), "1x1 shortcut 640->1280 @32"),
        (conv(1, 512, 64, 512, 3, 1), "VAE 512->512 @64"),
        (conv(1, 512, 128, 512, 3, 1), "VAE 512->512 @128"),
        (conv(1, 256, 256, 256, 3, 1), "VAE 256->256 @256"),
        (conv(1, 128, 512, 128, 3, 1), "VAE 128->128 @512"),
    ] {
        add(op, name);
    }
    for (n, c, hw, eps, silu, name) in [
        (2, 320, 64 * 64, 1e-5, true, "UNet 320 @64 +SiLU"),
        (2, 1280, 8 * 8, 1e-5, true, "UNet 1280 @8 +SiLU"),
        (1, 512, 128 * 128, 1e-6, true, "VAE 512 @128 +SiLU"),
        (1, 128, 512 * 512, 1e-6, true, "VAE 128 @512 +SiLU"),
    ] {
        add(
            Op::GroupNorm {
                n,
                c,
                hw,
                eps,
                silu,
            },
            name,
        );
    }
    for (b, lq, lk, heads, d, causal, name) in [
        (2, 4096, 4096, 8, 40, false, "self 8x40 over 4096"),
        (2, 4096, 77, 8, 40, false, "cross 8x40 4096x77"),
        (2, 1024, 1024, 8, 80, false, "self 8x80 over 1024"),
        (2, 256, 256, 8, 160, false, "self 8x160 over 256"),
        (2, 64, 64, 8, 160, false, "self 8x160 over 64"),
        (2, 77, 77, 12, 64, true, "CLIP causal 12x64 over 77"),
        (1, 4096, 4096, 1, 512, false, "VAE mid 1x512 over 4096"),
    ] {
        add(
            Op::Attention {
                b,
                lq,
                lk,
                heads,
                d,
                causal,
            },
            name,
        );
    }
    add(
        Op::Silu {
            n: 2 * 320 * 64 * 64,
        },
        "2x320x64x64",
    );
    add(
        Op::Geglu {
            rows: 8192,
            f: 1280,
        },
        "8192x2560 -> 8192x1280",
    );
    add(
        Op::SchedulerStep { n: 4 * 64 * 64 },
        "PNDM step, 4x64x64 latents, CFG",
    );
    v
}
