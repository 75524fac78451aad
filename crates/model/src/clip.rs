//! transformers' `CLIPTextModel`: token + position embeddings, pre-norm
//! encoder layers with causal self-attention and quick_gelu MLPs, a final
//! layer norm. The last hidden state is SD's conditioning.

use crate::ModelError;
use crate::backend::{Backend, Unary};
use crate::config::TextConfig;
use crate::nn::{R, layer_norm, linear, linear_residual};
use crate::weights::Weights;

const P: &str = "text_encoder";

pub struct TextEncoder {
    pub cfg: TextConfig,
}

impl TextEncoder {
    pub fn new(cfg: TextConfig) -> Self {
        Self { cfg }
    }

    /// Hidden states [prompts, 77, hidden] for token ids (77 per prompt).
    pub fn forward<B: Backend>(&self, b: &B, w: &Weights<B>, ids: &[Vec<u32>]) -> R<B::Tensor> {
        let d = self.cfg.hidden_size;
        let (tok_shape, tok) = w.host(&format!("{P}.embeddings.token_embedding.weight"))?;
        let (pos_shape, pos) = w.host(&format!("{P}.embeddings.position_embedding.weight"))?;
        if tok_shape != [self.cfg.vocab_size, d] || pos_shape.get(1) != Some(&d) {
            return Err(ModelError::WeightShape {
                name: format!("{P}.embeddings"),
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
                let t = &tok[id * d..(id + 1) * d];
                let q = &pos[p * d..(p + 1) * d];
                x.extend(t.iter().zip(q).map(|(a, b)| a + b));
            }
        }
        let mut x = b.upload("clip embeddings", &[ids.len(), len, d], &x)?;
        let eps = self.cfg.layer_norm_eps;
        let heads = self.cfg.num_attention_heads;
        let scale = 1.0 / ((d / heads) as f32).sqrt();
        let act = match self.cfg.hidden_act.as_str() {
            "gelu" => Unary::Gelu,
            _ => Unary::QuickGelu,
        };
        for i in 0..self.cfg.num_hidden_layers {
            let p = format!("{P}.encoder.layers.{i}");
            let h = layer_norm(b, w, &format!("{p}.layer_norm1"), &x, eps)?;
            let q = linear(b, w, &format!("{p}.self_attn.q_proj"), &h)?;
            let k = linear(b, w, &format!("{p}.self_attn.k_proj"), &h)?;
            let v = linear(b, w, &format!("{p}.self_attn.v_proj"), &h)?;
            let a = b.attention(&q, &k, &v, heads, scale, true)?;
            x = linear_residual(b, w, &format!("{p}.self_attn.out_proj"), &a, &x)?;
            let h = layer_norm(b, w, &format!("{p}.layer_norm2"), &x, eps)?;
            let h = linear(b, w, &format!("{p}.mlp.fc1"), &h)?;
            let h = b.unary(act, &h)?;
            x = linear_residual(b, w, &format!("{p}.mlp.fc2"), &h, &x)?;
        }
        layer_norm(b, w, &format!("{P}.final_layer_norm"), &x, eps)
    }
}
