//! The model on the CPU reference ops (f64 accumulation, f32 storage): the
//! arithmetic the GPU kernels are checked against, applied to the whole graph.
//! Slow, but needs no adapter.

use roentgen_gpu::reference::{self, conv2d::Conv2dShape};
use roentgen_weights::TensorDType;

use super::{Backend, Binary, Padding, TimestepConfig, Unary, Update};
use crate::ModelError;

/// A host tensor: row-major f32 values and their shape.
#[derive(Clone, Debug, PartialEq)]
pub struct CpuTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct CpuBackend;

fn shape_error(op: &'static str, expected: impl Into<String>, got: &[usize]) -> ModelError {
    ModelError::Shape {
        op,
        expected: expected.into(),
        got: format!("{got:?}"),
    }
}

fn tensor(shape: Vec<usize>, data: Vec<f32>) -> CpuTensor {
    debug_assert_eq!(shape.iter().product::<usize>(), data.len());
    CpuTensor { shape, data }
}

impl Backend for CpuBackend {
    type Tensor = CpuTensor;

    fn describe(&self) -> String {
        "cpu f32 (reference ops)".into()
    }

    fn upload(&self, name: &str, shape: &[usize], data: &[f32]) -> Result<CpuTensor, ModelError> {
        if shape.iter().product::<usize>() != data.len() {
            return Err(shape_error(
                "upload",
                format!("{} values for {name}", data.len()),
                shape,
            ));
        }
        Ok(tensor(shape.to_vec(), data.to_vec()))
    }

    fn upload_weight(
        &self,
        name: &str,
        shape: &[usize],
        dtype: TensorDType,
        bytes: &[u8],
    ) -> Result<CpuTensor, ModelError> {
        self.upload(name, shape, &crate::weights::decode(dtype, bytes, name)?)
    }

    fn shape<'a>(&self, t: &'a CpuTensor) -> &'a [usize] {
        &t.shape
    }

    fn reshape(&self, mut t: CpuTensor, shape: &[usize]) -> Result<CpuTensor, ModelError> {
        crate::error::check_reshape(&t.shape, shape)?;
        t.shape = shape.to_vec();
        Ok(t)
    }

    async fn read(&self, t: &CpuTensor) -> Result<Vec<f32>, ModelError> {
        Ok(t.data.clone())
    }

    fn linear(
        &self,
        x: &CpuTensor,
        w: &CpuTensor,
        b: Option<&CpuTensor>,
    ) -> Result<CpuTensor, ModelError> {
        let k = *x.shape.last().unwrap_or(&0);
        let [n, wk] = <[usize; 2]>::try_from(w.shape.as_slice())
            .map_err(|_| shape_error("linear", "weight [N, K]", &w.shape))?;
        if wk != k || k == 0 {
            return Err(shape_error("linear", format!("input [.., {wk}]"), &x.shape));
        }
        let m = x.data.len() / k;
        let out = reference::matmul::matmul(
            &x.data,
            &w.data,
            b.map(|b| b.data.as_slice()),
            1,
            m,
            k,
            n,
            true,
            false,
        );
        let mut shape = x.shape.clone();
        *shape.last_mut().unwrap() = n;
        Ok(tensor(shape, out))
    }

    fn conv2d(
        &self,
        x: &CpuTensor,
        w: &CpuTensor,
        b: Option<&CpuTensor>,
        stride: usize,
        pad: Padding,
    ) -> Result<CpuTensor, ModelError> {
        let [batch, cin, h, wd] = <[usize; 4]>::try_from(x.shape.as_slice())
            .map_err(|_| shape_error("conv2d", "x [N, C, H, W]", &x.shape))?;
        let [cout, wcin, kh, kw] = <[usize; 4]>::try_from(w.shape.as_slice())
            .map_err(|_| shape_error("conv2d", "w [Co, Ci, KH, KW]", &w.shape))?;
        if wcin != cin {
            return Err(shape_error(
                "conv2d",
                format!("weight for {cin} channels"),
                &w.shape,
            ));
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
        let out = reference::conv2d::conv2d(&x.data, &w.data, b.map(|b| b.data.as_slice()), s);
        Ok(tensor(vec![batch, cout, oh, ow], out))
    }

    fn group_norm(
        &self,
        x: &CpuTensor,
        gamma: &CpuTensor,
        beta: &CpuTensor,
        groups: usize,
        eps: f32,
        silu: bool,
    ) -> Result<CpuTensor, ModelError> {
        let c = *x
            .shape
            .get(1)
            .ok_or_else(|| shape_error("group_norm", "[N, C, ...]", &x.shape))?;
        if groups == 0 || !c.is_multiple_of(groups) || gamma.data.len() != c {
            return Err(shape_error(
                "group_norm",
                format!("C divisible by {groups}"),
                &x.shape,
            ));
        }
        let hw = x.shape[2..].iter().product();
        let out = reference::norms::group_norm(
            &x.data,
            &gamma.data,
            &beta.data,
            c,
            hw,
            groups,
            eps,
            silu,
        );
        Ok(tensor(x.shape.clone(), out))
    }

    fn layer_norm(
        &self,
        x: &CpuTensor,
        gamma: &CpuTensor,
        beta: &CpuTensor,
        eps: f32,
    ) -> Result<CpuTensor, ModelError> {
        let d = *x.shape.last().unwrap_or(&0);
        if d == 0 || gamma.data.len() != d {
            return Err(shape_error(
                "layer_norm",
                format!("[.., {}]", gamma.data.len()),
                &x.shape,
            ));
        }
        let out = reference::norms::layer_norm(&x.data, &gamma.data, &beta.data, d, eps);
        Ok(tensor(x.shape.clone(), out))
    }

    fn attention(
        &self,
        q: &CpuTensor,
        k: &CpuTensor,
        v: &CpuTensor,
        heads: usize,
        scale: f32,
        causal: bool,
    ) -> Result<CpuTensor, ModelError> {
        let [b, lq, inner] = <[usize; 3]>::try_from(q.shape.as_slice())
            .map_err(|_| shape_error("attention", "q [B, L, H*d]", &q.shape))?;
        let [kb, lk, k_inner] = <[usize; 3]>::try_from(k.shape.as_slice())
            .map_err(|_| shape_error("attention", "k [B, L, H*d]", &k.shape))?;
        if kb != b
            || k_inner != inner
            || v.shape != k.shape
            || heads == 0
            || !inner.is_multiple_of(heads)
        {
            return Err(shape_error(
                "attention",
                format!("k, v [{b}, Lk, {inner}]"),
                &k.shape,
            ));
        }
        let out = reference::attention::attention(
            &q.data,
            &k.data,
            &v.data,
            b,
            lq,
            lk,
            heads,
            inner / heads,
            scale,
            causal,
        );
        Ok(tensor(q.shape.clone(), out))
    }

    fn attention_maps(
        &self,
        q: &CpuTensor,
        k: &CpuTensor,
        heads: usize,
        scale: f32,
        item: usize,
    ) -> Result<CpuTensor, ModelError> {
        let [b, lq, inner] = <[usize; 3]>::try_from(q.shape.as_slice())
            .map_err(|_| shape_error("attention_maps", "q [B, N, H*d]", &q.shape))?;
        if k.shape.len() != 3
            || k.shape[0] != b
            || k.shape[2] != inner
            || heads == 0
            || !inner.is_multiple_of(heads)
            || item >= b
        {
            return Err(shape_error(
                "attention_maps",
                format!("k [{b}, M, {inner}], item < {b}"),
                &k.shape,
            ));
        }
        let lk = k.shape[1];
        let out = reference::attention::attention_maps(
            &q.data,
            &k.data,
            lq,
            lk,
            heads,
            inner / heads,
            scale,
            item,
        );
        Ok(tensor(vec![lk, lq], out))
    }

    fn unary(&self, op: Unary, x: &CpuTensor) -> Result<CpuTensor, ModelError> {
        Ok(tensor(
            x.shape.clone(),
            reference::elementwise::unary(op, &x.data),
        ))
    }

    fn binary(&self, op: Binary, a: &CpuTensor, b: &CpuTensor) -> Result<CpuTensor, ModelError> {
        if a.shape != b.shape {
            return Err(shape_error("binary", format!("{:?}", a.shape), &b.shape));
        }
        Ok(tensor(
            a.shape.clone(),
            reference::elementwise::binary(op, &a.data, &b.data),
        ))
    }

    fn geglu(&self, x: &CpuTensor) -> Result<CpuTensor, ModelError> {
        let two_f = *x.shape.last().unwrap_or(&0);
        if two_f == 0 || !two_f.is_multiple_of(2) {
            return Err(shape_error("geglu", "[.., 2F]", &x.shape));
        }
        let mut shape = x.shape.clone();
        *shape.last_mut().unwrap() = two_f / 2;
        Ok(tensor(
            shape,
            reference::elementwise::geglu(&x.data, two_f / 2),
        ))
    }

    fn add_channel_bias(&self, x: &CpuTensor, bias: &CpuTensor) -> Result<CpuTensor, ModelError> {
        if x.shape.len() < 2 || bias.shape != x.shape[..2] {
            return Err(shape_error("add_channel_bias", "bias [N, C]", &bias.shape));
        }
        let hw = x.shape[2..].iter().product();
        Ok(tensor(
            x.shape.clone(),
            reference::elementwise::add_channel_bias(&x.data, &bias.data, hw),
        ))
    }

    fn upsample_nearest2x(&self, x: &CpuTensor) -> Result<CpuTensor, ModelError> {
        let [n, c, h, w] = <[usize; 4]>::try_from(x.shape.as_slice())
            .map_err(|_| shape_error("upsample", "[N, C, H, W]", &x.shape))?;
        Ok(tensor(
            vec![n, c, 2 * h, 2 * w],
            reference::layout::upsample_nearest2x(&x.data, h, w),
        ))
    }

    fn concat_channels(&self, a: &CpuTensor, b: &CpuTensor) -> Result<CpuTensor, ModelError> {
        if a.shape.len() < 2
            || b.shape.len() != a.shape.len()
            || a.shape[0] != b.shape[0]
            || a.shape[2..] != b.shape[2..]
        {
            return Err(shape_error(
                "concat",
                format!("like {:?} but C", a.shape),
                &b.shape,
            ));
        }
        let (n, ca, cb) = (a.shape[0], a.shape[1], b.shape[1]);
        let hw = a.shape[2..].iter().product();
        let mut shape = a.shape.clone();
        shape[1] = ca + cb;
        Ok(tensor(
            shape,
            reference::layout::concat_channels(&a.data, &b.data, n, ca, cb, hw),
        ))
    }

    fn transpose(&self, x: &CpuTensor) -> Result<CpuTensor, ModelError> {
        let [b, r, c] = <[usize; 3]>::try_from(x.shape.as_slice())
            .map_err(|_| shape_error("transpose", "[B, R, C]", &x.shape))?;
        Ok(tensor(
            vec![b, c, r],
            reference::layout::transpose(&x.data, b, r, c),
        ))
    }

    fn timestep_embedding(
        &self,
        t: f32,
        rows: usize,
        cfg: TimestepConfig,
    ) -> Result<CpuTensor, ModelError> {
        Ok(tensor(
            vec![rows, cfg.dim],
            reference::timestep::timestep_embedding(t, rows, cfg),
        ))
    }

    fn step(
        &self,
        eps: &CpuTensor,
        x: &CpuTensor,
        guidance: Option<f32>,
        update: Update<'_, CpuTensor>,
    ) -> Result<(CpuTensor, CpuTensor), ModelError> {
        use reference::scheduler::{clamp, combine, guided};
        let n = x.data.len();
        if eps.data.len() != if guidance.is_some() { 2 * n } else { n } {
            return Err(shape_error(
                "scheduler",
                format!("eps for {:?}", x.shape),
                &eps.shape,
            ));
        }
        let e = guided(&eps.data, guidance);
        let x0 = &x.data;
        let (new_x, aux) = match update {
            Update::CfgOnly => (x0.clone(), e),
            Update::Ddim { c0, c1 } => (combine(&[(x0, c0), (&e, c1)]), e),
            Update::DdimClipped(c) => {
                let pred = clamp(&combine(&[(x0, c.a_x), (&e, c.a_e)]), c.clip);
                (combine(&[(x0, c.c_x), (&pred, c.c_x0), (&e, c.c_e)]), e)
            }
            Update::Euler { dt } => (combine(&[(x0, 1.0), (&e, dt)]), e),
            Update::EulerAncestral {
                c_x,
                dt,
                sigma_up,
                noise,
            } => (combine(&[(x0, c_x), (&e, dt), (&noise.data, sigma_up)]), e),
            Update::Pndm { c0, c1, w, history } => {
                let mixed = combine(&[
                    (&e, w[0]),
                    (&history[0].data, w[1]),
                    (&history[1].data, w[2]),
                    (&history[2].data, w[3]),
                ]);
                (combine(&[(x0, c0), (&mixed, c1)]), e)
            }
            Update::DpmSolver2M {
                a_x,
                a_e,
                c0,
                c1,
                c_prev,
                prev_x0,
            } => {
                let pred = combine(&[(x0, a_x), (&e, a_e)]);
                (
                    combine(&[(x0, c0), (&pred, c1), (&prev_x0.data, c_prev)]),
                    pred,
                )
            }
        };
        Ok((tensor(x.shape.clone(), new_x), tensor(x.shape.clone(), aux)))
    }
}
