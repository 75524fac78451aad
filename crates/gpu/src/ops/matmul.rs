//! Batched matmul / linear (`shaders/matmul.wgsl`).

use bytemuck::{Pod, Zeroable};

use crate::kernel::{Binding, GEMM_BINDINGS, GEMM_Q8_BINDINGS, KernelSpec};
use crate::shaders::{
    MATMUL, MATMUL_ALIGNED, MATMUL_COOP, MATMUL_GEGLU, MATMUL_Q8, MATMUL_Q8_ALIGNED,
    MATMUL_Q8_GEGLU,
};
use crate::{DType, GpuContext, GpuError, Tensor};

/// Mirrors `Params` in `shaders/matmul.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct MatmulParams {
    pub m: u32,
    pub n: u32,
    pub k: u32,
    pub batch: u32,
    pub a_batch_stride: u32,
    pub b_batch_stride: u32,
    pub c_batch_stride: u32,
    pub trans_b: u32,
    pub has_bias: u32,
    pub has_residual: u32,
    pub m0: u32,
    pub _pad2: u32,
}

pub const PARAMS_LAYOUT: crate::kernel::ParamsLayout = crate::params_layout!(
    MatmulParams; m, n, k, batch, a_batch_stride, b_batch_stride, c_batch_stride,
    trans_b, has_bias, has_residual, m0, _pad2
);

/// Bindings 1-6 as conv2d's (a, weights, bias, out, residual, and the
/// per-channel bias matmul has no use for), so one layout serves both.
const SPEC: KernelSpec = KernelSpec {
    file: MATMUL,
    entry: "matmul",
    storage: GEMM_BINDINGS,
};

/// For an even K: every pair the fills read then starts on an even element.
const SPEC_ALIGNED: KernelSpec = KernelSpec {
    file: MATMUL_ALIGNED,
    ..SPEC
};

/// q8 weights: binding 7 holds the scales (shaders/weights_q8.wgsl).
const SPEC_Q8: KernelSpec = KernelSpec {
    file: MATMUL_Q8,
    entry: "matmul",
    storage: GEMM_Q8_BINDINGS,
};

const SPEC_Q8_ALIGNED: KernelSpec = KernelSpec {
    file: MATMUL_Q8_ALIGNED,
    ..SPEC_Q8
};

/// Tensor cores, where enabled (shaders/matmul_coop.wgsl): 16 x 16 blocks.
const SPEC_COOP: KernelSpec = KernelSpec {
    file: MATMUL_COOP,
    entry: "matmul_coop",
    ..SPEC
};

const SPEC_GEGLU: KernelSpec = KernelSpec {
    file: MATMUL_GEGLU,
    ..SPEC
};

const SPEC_Q8_GEGLU: KernelSpec = KernelSpec {
    file: MATMUL_Q8_GEGLU,
    ..SPEC_Q8
};

/// Output tile of one workgroup: BM rows, BN columns (gemm_tiles.wgsl).
pub const TILE_M: usize = 128;
pub const TILE_N: usize = 128;

fn mismatch(expected: String, got: String) -> GpuError {
    GpuError::ShapeMismatch {
        op: "matmul",
        expected,
        got,
    }
}

/// `a . b (+ bias)`: `a` is [.., M, K]; `b` is [K, N], or [N, K] when
/// `trans_b` (a linear layer's weight), optionally with the same leading batch
/// dimensions as `a` (else it is shared by every batch). Output [.., M, N].
pub fn matmul(
    ctx: &GpuContext,
    a: &Tensor,
    b: &Tensor,
    bias: Option<&Tensor>,
    trans_b: bool,
) -> Result<Tensor, GpuError> {
    matmul_residual(ctx, a, b, bias, trans_b, None)
}

/// `a . b (+ bias) (+ residual)` in one pass, `residual` shaped like the
/// output: a projection added back to the tokens it came from.
pub fn matmul_residual(
    ctx: &GpuContext,
    a: &Tensor,
    b: &Tensor,
    bias: Option<&Tensor>,
    trans_b: bool,
    residual: Option<&Tensor>,
) -> Result<Tensor, GpuError> {
    let g = GemmShape::checked(a, b, bias, trans_b, residual)?;
    let (m, n, k, batch) = (g.m, g.n, g.k, g.batch);
    let out = Tensor::output(
        ctx,
        &format!("matmul({}, {})", a.name, b.name),
        &g.out_shape,
        a.dtype,
    )?;
    let params = MatmulParams {
        m: m as u32,
        n: n as u32,
        k: k as u32,
        batch: batch as u32,
        a_batch_stride: (m * k) as u32,
        b_batch_stride: if g.b_batched { (k * n) as u32 } else { 0 },
        c_batch_stride: (m * n) as u32,
        trans_b: trans_b as u32,
        has_bias: bias.is_some() as u32,
        has_residual: residual.is_some() as u32,
        ..Default::default()
    };
    let bindings = super::gemm_bindings(
        (&a.buffer).into(),
        b,
        bias,
        (&out.buffer).into(),
        residual.map(|r| (&r.buffer).into()),
        None,
    );
    // Cooperative matrices where the device has them and the shape is made
    // of whole 16 x 16 blocks (8 deep); otherwise the tiled kernel.
    let coop = ctx.report.cooperative_matrix_enabled
        && a.dtype == DType::F32
        && b.q8_scales.is_none()
        && trans_b
        && !g.b_batched
        && m % 16 == 0
        && n % 16 == 0
        && k % 8 == 0;
    if coop {
        ctx.dispatch_work(
            &SPEC_COOP,
            ctx.path_for(a.dtype),
            &params,
            &bindings,
            [(n / 16) as u32, (m / 16) as u32, batch as u32],
            2 * (batch * m * n * k) as u64,
        )?;
        return Ok(out);
    }
    let spec = match (b.q8_scales.is_some(), k % 2 == 0) {
        (false, true) => &SPEC_ALIGNED,
        (false, false) => &SPEC,
        (true, true) => &SPEC_Q8_ALIGNED,
        (true, false) => &SPEC_Q8,
    };
    let rows = RowRuns { m, n, k, batch };
    rows.dispatch(ctx, spec, ctx.path_for(a.dtype), &params, &bindings)?;
    Ok(out)
}

/// A GEMM's sizes from its operands: `batch` products of [m, k] . [k, n],
/// B shared by the batch or one per item (`b_batched`).
struct GemmShape {
    m: usize,
    n: usize,
    k: usize,
    batch: usize,
    b_batched: bool,
    out_shape: Vec<usize>,
}

impl GemmShape {
    /// The shape of `a . b`, or why the operands do not make one.
    fn checked(
        a: &Tensor,
        b: &Tensor,
        bias: Option<&Tensor>,
        trans_b: bool,
        residual: Option<&Tensor>,
    ) -> Result<Self, GpuError> {
        super::plain("matmul", &[a])?;
        super::plain("matmul residual", residual.as_slice())?;
        super::plain("matmul bias", bias.as_slice())?;
        if b.q8_scales.is_some() && !trans_b {
            return Err(mismatch(
                "a q8 B only as a linear weight (trans_b)".into(),
                b.name.clone(),
            ));
        }
        if a.shape.len() < 2 || b.shape.len() < 2 {
            return Err(mismatch(
                "rank >= 2".into(),
                format!("{:?}, {:?}", a.shape, b.shape),
            ));
        }
        let (lead, mk) = a.shape.split_at(a.shape.len() - 2);
        let (m, k) = (mk[0], mk[1]);
        let batch: usize = lead.iter().product();
        let (b_lead, b_last) = b.shape.split_at(b.shape.len() - 2);
        let (bk, n) = if trans_b {
            (b_last[1], b_last[0])
        } else {
            (b_last[0], b_last[1])
        };
        if bk != k {
            return Err(mismatch(
                format!("inner dimension {k}"),
                format!("{bk} ({:?})", b.shape),
            ));
        }
        let b_batched = match b_lead.iter().product::<usize>() {
            1 if b_lead != lead => false,
            p if p == batch && b_lead == lead => batch > 1,
            _ => {
                return Err(mismatch(
                    format!("b batch {lead:?} or none"),
                    format!("{b_lead:?}"),
                ));
            }
        };
        if n % 2 != 0 {
            return Err(mismatch(
                "an even N (outputs are written in pairs)".into(),
                n.to_string(),
            ));
        }
        for t in [b].into_iter().chain(bias) {
            if t.dtype != a.dtype {
                return Err(mismatch(
                    format!("{:?} like a", a.dtype),
                    format!("{:?} {}", t.dtype, t.name),
                ));
            }
        }
        if let Some(bias) = bias
            && bias.numel() != n
        {
            return Err(mismatch(
                format!("bias of {n}"),
                format!("{:?}", bias.shape),
            ));
        }
        let mut out_shape = lead.to_vec();
        out_shape.extend([m, n]);
        if let Some(r) = residual
            && (r.shape != out_shape || r.dtype != a.dtype)
        {
            return Err(mismatch(
                format!("residual {out_shape:?} {:?}", a.dtype),
                format!("{:?} {:?}", r.shape, r.dtype),
            ));
        }
        Ok(Self {
            m,
            n,
            k,
            batch,
            b_batched,
            out_shape,
        })
    }
}

/// A GEMM's output rows, run as dispatches of whole row tiles within the
/// submission budget (one dispatch unless the product is large): `n`
/// columns per row (the weight's rows for GEGLU), `k` deep, per batch item.
struct RowRuns {
    m: usize,
    n: usize,
    k: usize,
    batch: usize,
}

impl RowRuns {
    fn dispatch(
        &self,
        ctx: &GpuContext,
        spec: &KernelSpec,
        path: crate::ComputePath,
        params: &MatmulParams,
        bindings: &[Binding],
    ) -> Result<(), GpuError> {
        let per_row = 2 * (self.batch * self.n * self.k) as u64;
        for rows in super::work_runs(ctx, self.m, TILE_M, per_row) {
            ctx.dispatch_work(
                spec,
                path,
                &MatmulParams {
                    m0: rows.start as u32,
                    ..*params
                },
                bindings,
                [
                    self.n.div_ceil(TILE_N) as u32,
                    rows.len().div_ceil(TILE_M) as u32,
                    self.batch as u32,
                ],
                per_row * rows.len() as u64,
            )?;
        }
        Ok(())
    }
}

/// Whether [`matmul_geglu`] takes this linear layer: F (half of the
/// weight's rows) a multiple of 64, K even.
pub fn geglu_fits(weight_shape: &[usize]) -> bool {
    matches!(weight_shape, [two_f, k] if two_f % 128 == 0 && k % 2 == 0)
}

/// `h * gelu(g)` where `[h | g] = a . w^T + bias` (diffusers' GEGLU
/// feed-forward projection), in one pass: `w` is [2F, K], the output
/// [.., M, F]; the [.., M, 2F] projection is never written.
pub fn matmul_geglu(
    ctx: &GpuContext,
    a: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
) -> Result<Tensor, GpuError> {
    super::plain("matmul_geglu", &[a])?;
    super::plain("matmul_geglu bias", bias.as_slice())?;
    if a.shape.len() < 2 || !geglu_fits(&w.shape) || w.shape[1] != a.shape[a.shape.len() - 1] {
        return Err(mismatch(
            "a [.., M, K] and w [2F, K] with F % 64 == 0, K even".into(),
            format!("{:?}, {:?}", a.shape, w.shape),
        ));
    }
    let (two_f, k) = (w.shape[0], w.shape[1]);
    let (lead, mk) = a.shape.split_at(a.shape.len() - 2);
    let m = mk[0];
    let batch: usize = lead.iter().product();
    if let Some(b) = bias
        && (b.numel() != two_f || b.dtype != a.dtype)
    {
        return Err(mismatch(
            format!("bias of {two_f}"),
            format!("{:?}", b.shape),
        ));
    }
    if w.dtype != a.dtype {
        return Err(mismatch(
            format!("{:?} like a", a.dtype),
            format!("{:?}", w.dtype),
        ));
    }
    let mut shape = lead.to_vec();
    shape.extend([m, two_f / 2]);
    let out = Tensor::output(
        ctx,
        &format!("geglu({}, {})", a.name, w.name),
        &shape,
        a.dtype,
    )?;
    let params = MatmulParams {
        m: m as u32,
        n: two_f as u32,
        k: k as u32,
        batch: batch as u32,
        a_batch_stride: (m * k) as u32,
        b_batch_stride: 0,
        c_batch_stride: (m * two_f / 2) as u32,
        trans_b: 1,
        has_bias: bias.is_some() as u32,
        ..Default::default()
    };
    let bindings = super::gemm_bindings(
        (&a.buffer).into(),
        w,
        bias,
        (&out.buffer).into(),
        None,
        None,
    );
    let spec = match w.q8_scales {
        None => &SPEC_GEGLU,
        Some(_) => &SPEC_Q8_GEGLU,
    };
    let rows = RowRuns {
        m,
        n: two_f,
        k,
        batch,
    };
    rows.dispatch(ctx, spec, ctx.path_for(a.dtype), &params, &bindings)?;
    Ok(out)
}
