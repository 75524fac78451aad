//! transformers' `CLIPTextModel`: token + position embeddings, pre-norm
//! encoder layers with causal self-attention and quick_gelu MLPs, a final
//! layer norm. The last hidden state is SD's conditioning.

use crate::ModelError;
use crate::backend::{Backend, Unary};
use crate::config::TextConfig;
use crate::nn::{LayerNorm, Linear, R};
use crate::vb::{Param, Vb};
use crate::weights::Weights;

struct EncoderLayer {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    out_proj: Linear,
    layer_norm1: LayerNorm,
    layer_norm2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
}

pub struct TextEncoder {
    pub cfg: TextConfig,
    token_embedding: Param,
    position_embedding: Param,
    layers: Vec<EncoderLayer>,
    final_layer_norm: LayerNorm,
}

impl TextEncoder {
    pub fn new(cfg: TextConfig) -> Self {
        Self::build(&Vb::root().pp("text_encoder"), cfg)
    }

    pub fn build(vb: &Vb, cfg: TextConfig) -> Self {
        let d = cfg.hidden_size;
        let eps = cfg.layer_norm_eps;
        let e = vb.pp("embeddings");
        let token_embedding = e.param("token_embedding.weight", &[cfg.vocab_size, d]);
        let position_embedding = e.param(
            "position_embedding.weight",
            &[cfg.max_position_embeddings, d],
        );
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| {
                let p = vb.pp("encoder.layers").pp(i);
                let a = p.pp("self_attn");
                EncoderLayer {
                    q_proj: Linear::build(&a.pp("q_proj"), d, d, true),
                    k_proj: Linear::build(&a.pp("k_proj"), d, d, true),
                    v_proj: Linear::build(&a.pp("v_proj"), d, d, true),
                    out_proj: Linear::build(&a.pp("out_proj"), d, d, true),
                    layer_norm1: LayerNorm::build(&p.pp("layer_norm1"), d, eps),
                    layer_norm2: LayerNorm::build(&p.pp("layer_norm2"), d, eps),
                    fc1: Linear::build(&p.pp("mlp.fc1"), cfg.intermediate_size, d, true),
                    fc2: Linear::build(&p.pp("mlp.fc2"), d, cfg.intermediate_size, true),
                }
            })
            .collect();
        let final_layer_norm = LayerNorm::build(&vb.pp("final_layer_norm"), d, eps);
        Self {
            cfg,
            token_embedding,
            position_embedding,
            layers,
            final_layer_norm,
        }
    }

    /// Hidden states [prompts, 77, hidden] for token ids (77 per prompt).
    pub fn forward<B: Backend>(&self, b: &B, w: &Weights<B>, ids: &[Vec<u32>]) -> R<B::Tensor> {
        let d = self.cfg.hidden_size;
        let tok = w.host(self.token_embedding.name())?;
        let pos = w.host(self.position_embedding.name())?;
        let (tok_shape, pos_shape) = (tok.shape.as_slice(), pos.shape.as_slice());
        if tok_shape != [self.cfg.vocab_size, d] || pos_shape.get(1) != Some(&d) {
            return Err(ModelError::WeightShape {
                name: "text_encoder.embeddings".into(),
                expected: vec![self.cfg.vocab_size, d],
                got: tok_shape.to_vec(),
            });
        }
        let len = ids.first().map_or(0, |v| v.len());
        if len == 0 || len > pos_shape[0] || ids.iter().any(|v| v.len() != len) {
            return Err(ModelError::Input(format!(
                "token rows must all hold 1..={} ids",
                pos_shape[0]
            )));
        }
        // Gathered on the host: ids are known there, and the table is large.
        let mut x = Vec::with_capacity(ids.len() * len * d);
        for row in ids {
            for (p, &id) in row.iter().enumerate() {
                let id = id as usize;
                if id >= self.cfg.vocab_size {
                    return Err(ModelError::Input(format!(
                        "token id {id} outside the vocabulary"
                    )));
                }
                let (t, q) = (tok.row(id), pos.row(p));
                x.extend(t.iter().zip(&q).map(|(a, b)| a + b));
            }
        }
        let mut x = b.upload("clip embeddings", &[ids.len(), len, d], &x)?;
        let heads = self.cfg.num_attention_heads;
        let scale = 1.0 / ((d / heads) as f32).sqrt();
        let act = match self.cfg.hidden_act.as_str() {
            "gelu" => Unary::Gelu,
            _ => Unary::QuickGelu,
        };
        for l in &self.layers {
            let h = l.layer_norm1.forward(b, w, &x)?;
            let q = l.q_proj.forward(b, w, &h)?;
            let k = l.k_proj.forward(b, w, &h)?;
            let v = l.v_proj.forward(b, w, &h)?;
            let a = b.attention(&q, &k, &v, heads, scale, true)?;
            x = l.out_proj.forward_residual(b, w, &a, &x)?;
            let h = l.layer_norm2.forward(b, w, &x)?;
            let h = l.fc1.forward(b, w, &h)?;
            let h = b.unary(act, &h)?;
            x = l.fc2.forward_residual(b, w, &h, &x)?;
        }
        self.final_layer_norm.forward(b, w, &x)
    }
}
