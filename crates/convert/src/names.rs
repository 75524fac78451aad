//! Naming variants, fixed here once, never at run time: transformers 4's
//! `text_model.` prefix, old VAE attention names (`query/key/value/proj_attn`)
//! and 1x1-convolution attention weights.

/// The diffusers name as this project stores it, or None to drop the tensor
/// (the VAE encoder when asked to).
pub fn normalize_name(component: &str, name: &str, keep_encoder: bool) -> Option<String> {
    if component == "vae"
        && !keep_encoder
        && (name.starts_with("encoder.") || name.starts_with("quant_conv."))
    {
        return None;
    }
    let mut n = name.to_string();
    // transformers 4 saves CLIPTextModel under `text_model.`; transformers 5
    // without it. One spelling in our format: without.
    if component == "text_encoder"
        && let Some(rest) = n.strip_prefix("text_model.")
    {
        n = rest.to_string();
    }
    if component == "vae" && n.contains(".attentions.") {
        for (old, new) in [
            (".query.", ".to_q."),
            (".key.", ".to_k."),
            (".value.", ".to_v."),
            (".proj_attn.", ".to_out.0."),
        ] {
            n = n.replace(old, new);
        }
    }
    Some(format!("{component}.{n}"))
}

pub use roentgen_model::arch::is_vae_encoder;

/// Attention projections saved as 1x1 convolutions become linear weights.
pub fn normalize_shape(name: &str, shape: &[usize]) -> Vec<usize> {
    let is_attn_proj = [
        ".to_q.weight",
        ".to_k.weight",
        ".to_v.weight",
        ".to_out.0.weight",
    ]
    .iter()
    .any(|s| name.ends_with(s));
    if is_attn_proj && shape.len() == 4 && shape[2] == 1 && shape[3] == 1 {
        return shape[..2].to_vec();
    }
    shape.to_vec()
}
