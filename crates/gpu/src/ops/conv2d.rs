//! 2-D convolution as an implicit GEMM (`shaders/conv2d.wgsl`).

use bytemuck::{Pod, Zeroable};

use super::{runs, slice, too_large, work_runs};
use crate::kernel::{GEMM_BINDINGS, GEMM_Q8_BINDINGS, KernelSpec};
pub use crate::reference::conv2d::{Conv2dShape, Padding};
use crate::shaders::{CONV2D, CONV2D_ALIGNED, CONV2D_Q8, CONV2D_Q8_ALIGNED};
use crate::{GpuContext, GpuError, Tensor};

/// Dispatches `params`' convolution over `columns` GEMM columns (output
/// pixels), as runs of whole column tiles within the submission budget: one
/// dispatch unless the convolution is large (a 512x512 VAE's run as several).
fn dispatch_columns(
    ctx: &GpuContext,
    (spec, path): (&KernelSpec, crate::ComputePath),
    params: &Conv2dParams,
    bindings: &[crate::kernel::Binding],
    columns: usize,
) -> Result<(), GpuError> {
    let (rows, depth) = (
        params.cout as usize,
        (params.cin * params.kh * params.kw) as usize,
    );
    let per_col = 2 * (rows * depth) as u64;
    for cols in work_runs(ctx, columns, TILE_N, per_col) {
        ctx.dispatch_work(
            spec,
            path,
            &Conv2dParams {
                p0: cols.start as u32,
                ..*params
            },
            bindings,
            [
                cols.len().div_ceil(TILE_N) as u32,
                rows.div_ceil(TILE_M) as u32,
                1,
            ],
            per_col * cols.len() as u64,
        )?;
    }
    Ok(())
}

/// Mirrors `Params` in `shaders/conv2d.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct Conv2dParams {
    pub batch: u32,
    pub cin: u32,
    pub h: u32,
    pub w: u32,
    pub cout: u32,
    pub oh: u32,
    pub ow: u32,
    pub kh: u32,
    pub kw: u32,
    pub stride: u32,
    pub pad: u32,
    pub has_bias: u32,
    pub w_row: u32,
    pub ci0: u32,
    pub co0: u32,
    pub accumulate: u32,
    pub has_residual: u32,
    pub has_channel_bias: u32,
    pub n0: u32,
    pub cout_total: u32,
    pub p0: u32,
}

/// What conv2d adds to its output in the same pass (each once).
#[derive(Clone, Copy, Default)]
pub struct Epilogue<'a> {
    /// [N, Cout]: `+ channel_bias[n, co]` (a ResNet block's time embedding).
    pub channel_bias: Option<&'a Tensor>,
    /// Shaped like the output: `+ residual` (a shortcut).
    pub residual: Option<&'a Tensor>,
}

pub const PARAMS_LAYOUT: crate::kernel::ParamsLayout = crate::params_layout!(
    Conv2dParams; batch, cin, h, w, cout, oh, ow, kh, kw, stride, pad, has_bias,
    w_row, ci0, co0, accumulate, has_residual, has_channel_bias, n0, cout_total, p0
);

/// x, weights, bias, out, residual, channel bias.
const SPEC: KernelSpec = KernelSpec {
    file: CONV2D,
    entry: "conv2d",
    storage: GEMM_BINDINGS,
};

/// For weight rows (Cin * KH * KW) of even length.
const SPEC_ALIGNED: KernelSpec = KernelSpec {
    file: CONV2D_ALIGNED,
    ..SPEC
};

/// q8 weights: binding 7 holds the scales (shaders/weights_q8.wgsl).
const SPEC_Q8: KernelSpec = KernelSpec {
    file: CONV2D_Q8,
    entry: "conv2d",
    storage: GEMM_Q8_BINDINGS,
};

const SPEC_Q8_ALIGNED: KernelSpec = KernelSpec {
    file: CONV2D_Q8_ALIGNED,
    ..SPEC_Q8
};

use super::matmul::{TILE_M, TILE_N};

/// Pixel and tap indices the shader divides by float reciprocals (exact up
/// to here, 2^22); a batch past it runs one image at a time.
pub const INDEX_LIMIT: usize = 1 << 22;

/// `conv2d(x, w, bias, stride, padding)` for `x` [N, Cin, H, W] and `w`
/// [Cout, Cin, KH, KW]. Output [N, Cout, OH, OW]; OH*OW must be even.
pub fn conv2d(
    ctx: &GpuContext,
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    stride: usize,
    pad: impl Into<Padding>,
) -> Result<Tensor, GpuError> {
    conv2d_fused(ctx, x, w, bias, stride, pad, Epilogue::default())
}

/// `conv2d` with a per-(image, channel) bias and a residual added in the
/// same pass (see [`Epilogue`]).
pub fn conv2d_fused(
    ctx: &GpuContext,
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    stride: usize,
    pad: impl Into<Padding>,
    extra: Epilogue,
) -> Result<Tensor, GpuError> {
    let s = checked_shape(x, w, bias, stride, pad.into(), &extra)?;
    let (oh, ow) = s.out_hw();
    let out = Tensor::output(
        ctx,
        &format!("conv2d({}, {})", x.name, w.name),
        &[s.batch, s.cout, oh, ow],
        x.dtype,
    )?;
    let params = s.params(bias.is_some(), &extra);
    let taps = s.kh * s.kw;
    let kernel = (kernel_for(w, s.cin * taps), ctx.path_for(x.dtype));
    let max = ctx.report.limits.max_storage_buffer_binding_size;

    // The shader finds pixels and taps by float reciprocals, exact below
    // INDEX_LIMIT (columns and k run up to one tile past the matrix).
    let fits_index = |pixels: usize| pixels + TILE_N <= INDEX_LIMIT;
    if s.cin * taps + TILE_N > INDEX_LIMIT || !fits_index(oh * ow) {
        return Err(GpuError::DeviceLimit {
            what: "conv2d output pixels per image (or taps per output)",
            requested: (oh * ow).max(s.cin * taps) as u64,
            max: (INDEX_LIMIT - TILE_N) as u64,
        });
    }
    if x.buffer.size() <= max && out.buffer.size() <= max && fits_index(s.batch * oh * ow) {
        let bindings = super::gemm_bindings(
            (&x.buffer).into(),
            w,
            bias,
            (&out.buffer).into(),
            extra.residual.map(|r| (&r.buffer).into()),
            extra.channel_bias,
        );
        // The batch is folded into the columns (see the shader).
        dispatch_columns(ctx, kernel, &params, &bindings, s.batch * oh * ow)?;
        return Ok(out);
    }
    dispatch_in_runs(ctx, kernel, &s, &params, [x, w, &out], bias, &extra)?;
    Ok(out)
}

/// The conv's shape from its operands, or why they do not make one.
fn checked_shape(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    stride: usize,
    pad: Padding,
    extra: &Epilogue,
) -> Result<Conv2dShape, GpuError> {
    let mismatch = |expected: String, got: String| GpuError::ShapeMismatch {
        op: "conv2d",
        expected,
        got,
    };
    super::plain("conv2d", &[x])?;
    super::plain("conv2d bias", bias.as_slice())?;
    super::plain("conv2d residual", extra.residual.as_slice())?;
    super::plain("conv2d channel bias", extra.channel_bias.as_slice())?;
    let ([batch, cin, h, wd], [cout, wcin, kh, kw]) = (
        <[usize; 4]>::try_from(x.shape.as_slice())
            .map_err(|_| mismatch("x [N,C,H,W]".into(), format!("{:?}", x.shape)))?,
        <[usize; 4]>::try_from(w.shape.as_slice())
            .map_err(|_| mismatch("w [Co,Ci,KH,KW]".into(), format!("{:?}", w.shape)))?,
    );
    if wcin != cin {
        return Err(mismatch(
            format!("weight with {cin} input channels"),
            format!("{:?}", w.shape),
        ));
    }
    if stride == 0 || h + pad.total() < kh || wd + pad.total() < kw {
        return Err(mismatch(
            "kernel within the padded image, stride > 0".into(),
            format!("{:?} stride {stride} pad {pad:?}", x.shape),
        ));
    }
    if let Some(b) = bias
        && b.numel() != cout
    {
        return Err(mismatch(
            format!("bias of {cout}"),
            format!("{:?}", b.shape),
        ));
    }
    for t in [w].into_iter().chain(bias) {
        if t.dtype != x.dtype {
            return Err(mismatch(
                format!("{:?} like x", x.dtype),
                format!("{:?} {}", t.dtype, t.name),
            ));
        }
    }
    let s = Conv2dShape {
        batch,
        cin,
        h,
        w: wd,
        cout,
        kh,
        kw,
        stride,
        pad,
    };
    let (oh, ow) = s.out_hw();
    if (oh * ow) % 2 != 0 {
        return Err(mismatch(
            "an even OH*OW (outputs are written in pairs)".into(),
            format!("{oh}x{ow}"),
        ));
    }
    let out_shape = [batch, cout, oh, ow];
    if let Some(r) = extra.residual
        && (r.shape != out_shape || r.dtype != x.dtype)
    {
        return Err(mismatch(
            format!("residual {out_shape:?} {:?}", x.dtype),
            format!("{:?} {:?}", r.shape, r.dtype),
        ));
    }
    if let Some(c) = extra.channel_bias
        && (c.shape != [batch, cout] || c.dtype != x.dtype)
    {
        return Err(mismatch(
            format!("channel bias [{batch}, {cout}] {:?}", x.dtype),
            format!("{:?} {:?}", c.shape, c.dtype),
        ));
    }
    Ok(s)
}

/// The kernel for `w`'s storage (f16/f32 or q8), in its paired-weights
/// form where a weight row (`w_row` = Cin*KH*KW) has even length.
fn kernel_for(w: &Tensor, w_row: usize) -> &'static KernelSpec {
    match (&w.q8_scales, w_row.is_multiple_of(2)) {
        (None, true) => &SPEC_ALIGNED,
        (None, false) => &SPEC,
        (Some(_), true) => &SPEC_Q8_ALIGNED,
        (Some(_), false) => &SPEC_Q8,
    }
}

impl Conv2dShape {
    /// The uniform for the whole conv in one dispatch (runs override the
    /// offsets and counts).
    fn params(&self, has_bias: bool, extra: &Epilogue) -> Conv2dParams {
        let (oh, ow) = self.out_hw();
        Conv2dParams {
            batch: self.batch as u32,
            cin: self.cin as u32,
            h: self.h as u32,
            w: self.w as u32,
            cout: self.cout as u32,
            oh: oh as u32,
            ow: ow as u32,
            kh: self.kh as u32,
            kw: self.kw as u32,
            stride: self.stride as u32,
            // The shader offsets by the leading pad; the trailing one only
            // sizes the output (reads past the image are zeros).
            pad: self.pad.begin as u32,
            has_bias: has_bias as u32,
            w_row: (self.cin * self.kh * self.kw) as u32,
            ci0: 0,
            co0: 0,
            accumulate: 0,
            has_residual: extra.residual.is_some() as u32,
            has_channel_bias: extra.channel_bias.is_some() as u32,
            n0: 0,
            cout_total: self.cout as u32,
            p0: 0,
        }
    }
}

/// A conv too large to bind (or index) whole: one image at a time, in runs
/// of output channels (rows of the GEMM) and of input channels (its K,
/// summed over runs). Runs of input channels have even length, so the
/// weight pairs of every run stay aligned.
fn dispatch_in_runs(
    ctx: &GpuContext,
    kernel: (&KernelSpec, crate::ComputePath),
    s: &Conv2dShape,
    params: &Conv2dParams,
    [x, w, out]: [&Tensor; 3],
    bias: Option<&Tensor>,
    extra: &Epilogue,
) -> Result<(), GpuError> {
    let max = ctx.report.limits.max_storage_buffer_binding_size;
    let (oh, ow) = s.out_hw();
    let (cin, cout) = (s.cin, s.cout);
    let esize = x.dtype.size() as u64;
    let (in_plane, out_plane) = ((s.h * s.w) as u64 * esize, (oh * ow) as u64 * esize);
    let ci_runs =
        runs(cin, &[in_plane], max, 2).ok_or_else(|| too_large("conv2d", x, in_plane, max))?;
    let co_runs =
        runs(cout, &[out_plane], max, 1).ok_or_else(|| too_large("conv2d", out, out_plane, max))?;
    for b in 0..s.batch {
        for co in &co_runs {
            for (i, ci) in ci_runs.iter().enumerate() {
                let p = Conv2dParams {
                    batch: 1,
                    cin: ci.len() as u32,
                    cout: co.len() as u32,
                    ci0: ci.start as u32,
                    co0: co.start as u32,
                    accumulate: (i > 0) as u32,
                    n0: b as u32,
                    ..*params
                };
                let image = |r: &std::ops::Range<usize>, n: usize| b * n + r.start..b * n + r.end;
                let bindings = super::gemm_bindings(
                    slice(x, &image(ci, cin), in_plane),
                    w,
                    bias,
                    slice(out, &image(co, cout), out_plane),
                    extra
                        .residual
                        .map(|r| slice(r, &image(co, cout), out_plane)),
                    extra.channel_bias,
                );
                dispatch_columns(ctx, kernel, &p, &bindings, oh * ow)?;
            }
        }
    }
    Ok(())
}
