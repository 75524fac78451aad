//! Every tensor an SD v1 model must have, with its shape, derived from the
//! configs the same way diffusers/transformers build their modules. The model
//! checks a weight table against it before any work, `weights-tools verify`
//! reports against it, and `weights-tools random` writes exactly it.

use crate::config::{TextConfig, UnetConfig, VaeConfig};

/// (name, shape) in table order.
pub type Table = Vec<(String, Vec<usize>)>;

struct T(Table);

impl T {
    fn add(&mut self, name: String, shape: &[usize]) {
        self.0.push((name, shape.to_vec()));
    }
    fn norm(&mut self, p: &str, c: usize) {
        self.add(format!("{p}.weight"), &[c]);
        self.add(format!("{p}.bias"), &[c]);
    }
    fn linear(&mut self, p: &str, out: usize, inp: usize, bias: bool) {
        self.add(format!("{p}.weight"), &[out, inp]);
        if bias {
            self.add(format!("{p}.bias"), &[out]);
        }
    }
    fn conv(&mut self, p: &str, out: usize, inp: usize, k: usize) {
        self.add(format!("{p}.weight"), &[out, inp, k, k]);
        self.add(format!("{p}.bias"), &[out]);
    }
    fn resnet(&mut self, p: &str, cin: usize, cout: usize, temb: Option<usize>) {
        self.norm(&format!("{p}.norm1"), cin);
        self.conv(&format!("{p}.conv1"), cout, cin, 3);
        if let Some(t) = temb {
            self.linear(&format!("{p}.time_emb_proj"), cout, t, true);
        }
        self.norm(&format!("{p}.norm2"), cout);
        self.conv(&format!("{p}.conv2"), cout, cout, 3);
        if cin != cout {
            self.conv(&format!("{p}.conv_shortcut"), cout, cin, 1);
        }
    }
    fn attention(&mut self, p: &str, c: usize, ctx: usize, qkv_bias: bool) {
        self.linear(&format!("{p}.to_q"), c, c, qkv_bias);
        self.linear(&format!("{p}.to_k"), c, ctx, qkv_bias);
        self.linear(&format!("{p}.to_v"), c, ctx, qkv_bias);
        self.linear(&format!("{p}.to_out.0"), c, c, true);
    }
    fn transformer(&mut self, p: &str, c: usize, depth: usize, cross: usize, linear: bool) {
        self.norm(&format!("{p}.norm"), c);
        let proj = |t: &mut Self, name: &str| {
            if linear {
                t.linear(&format!("{p}.{name}"), c, c, true);
            } else {
                t.conv(&format!("{p}.{name}"), c, c, 1);
            }
        };
        proj(self, "proj_in");
        for k in 0..depth {
            let q = format!("{p}.transformer_blocks.{k}");
            self.attention(&format!("{q}.attn1"), c, c, false);
            self.attention(&format!("{q}.attn2"), c, cross, false);
            self.linear(&format!("{q}.ff.net.0.proj"), 8 * c, c, true);
            self.linear(&format!("{q}.ff.net.2"), c, 4 * c, true);
            for n in ["norm1", "norm2", "norm3"] {
                self.norm(&format!("{q}.{n}"), c);
            }
        }
        proj(self, "proj_out");
    }
}

/// transformers' `CLIPTextModel` under `text_encoder.`.
pub fn text_encoder(c: &TextConfig) -> Table {
    let mut t = T(Vec::new());
    let d = c.hidden_size;
    t.add(
        "text_encoder.embeddings.token_embedding.weight".into(),
        &[c.vocab_size, d],
    );
    t.add(
        "text_encoder.embeddings.position_embedding.weight".into(),
        &[c.max_position_embeddings, d],
    );
    for i in 0..c.num_hidden_layers {
        let p = format!("text_encoder.encoder.layers.{i}");
        for proj in ["q_proj", "k_proj", "v_proj", "out_proj"] {
            t.linear(&format!("{p}.self_attn.{proj}"), d, d, true);
        }
        t.norm(&format!("{p}.layer_norm1"), d);
        t.norm(&format!("{p}.layer_norm2"), d);
        t.linear(&format!("{p}.mlp.fc1"), c.intermediate_size, d, true);
        t.linear(&format!("{p}.mlp.fc2"), d, c.intermediate_size, true);
    }
    t.norm("text_encoder.final_layer_norm", d);
    t.0
}

/// diffusers' `UNet2DConditionModel` under `unet.`.
pub fn unet(c: &UnetConfig) -> Table {
    let mut t = T(Vec::new());
    let ch = &c.block_out_channels;
    let n = ch.len();
    let temb = Some(c.time_embed_dim());
    let layers = c.layers_per_block.expand(n);
    let depth = c.transformer_layers_per_block.expand(n);
    let (cross, lin) = (c.cross_attention_dim, c.use_linear_projection);
    t.conv("unet.conv_in", ch[0], c.in_channels, 3);
    t.linear("unet.time_embedding.linear_1", 4 * ch[0], ch[0], true);
    t.linear("unet.time_embedding.linear_2", 4 * ch[0], 4 * ch[0], true);
    for i in 0..n {
        let p = format!("unet.down_blocks.{i}");
        let cin = if i == 0 { ch[0] } else { ch[i - 1] };
        for j in 0..layers[i] {
            let rin = if j == 0 { cin } else { ch[i] };
            t.resnet(&format!("{p}.resnets.{j}"), rin, ch[i], temb);
            if c.down_block_types[i] == "CrossAttnDownBlock2D" {
                t.transformer(&format!("{p}.attentions.{j}"), ch[i], depth[i], cross, lin);
            }
        }
        if i + 1 < n {
            t.conv(&format!("{p}.downsamplers.0.conv"), ch[i], ch[i], 3);
        }
    }
    let last = ch[n - 1];
    t.resnet("unet.mid_block.resnets.0", last, last, temb);
    t.transformer(
        "unet.mid_block.attentions.0",
        last,
        depth[n - 1],
        cross,
        lin,
    );
    t.resnet("unet.mid_block.resnets.1", last, last, temb);
    let rev: Vec<usize> = ch.iter().rev().copied().collect();
    for i in 0..n {
        let p = format!("unet.up_blocks.{i}");
        let level = n - 1 - i;
        let out = rev[i];
        let prev = if i == 0 { rev[0] } else { rev[i - 1] };
        let input = rev[(i + 1).min(n - 1)];
        let count = layers[level] + 1;
        for j in 0..count {
            let skip = if j == count - 1 { input } else { out };
            let rin = if j == 0 { prev } else { out };
            t.resnet(&format!("{p}.resnets.{j}"), rin + skip, out, temb);
            if c.up_block_types[i] == "CrossAttnUpBlock2D" {
                t.transformer(
                    &format!("{p}.attentions.{j}"),
                    out,
                    depth[level],
                    cross,
                    lin,
                );
            }
        }
        if i + 1 < n {
            t.conv(&format!("{p}.upsamplers.0.conv"), out, out, 3);
        }
    }
    t.norm("unet.conv_norm_out", ch[0]);
    t.conv("unet.conv_out", c.out_channels, ch[0], 3);
    t.0
}

/// The decoder half of diffusers' `AutoencoderKL` under `vae.`.
pub fn vae_decoder(c: &VaeConfig) -> Table {
    let mut t = T(Vec::new());
    let ch = &c.block_out_channels;
    let n = ch.len();
    let last = ch[n - 1];
    if c.use_post_quant_conv {
        t.conv(
            "vae.post_quant_conv",
            c.latent_channels,
            c.latent_channels,
            1,
        );
    }
    t.conv("vae.decoder.conv_in", last, c.latent_channels, 3);
    t.resnet("vae.decoder.mid_block.resnets.0", last, last, None);
    if c.mid_block_add_attention {
        let p = "vae.decoder.mid_block.attentions.0";
        t.norm(&format!("{p}.group_norm"), last);
        t.attention(p, last, last, true);
    }
    t.resnet("vae.decoder.mid_block.resnets.1", last, last, None);
    let rev: Vec<usize> = ch.iter().rev().copied().collect();
    for i in 0..n {
        let p = format!("vae.decoder.up_blocks.{i}");
        let prev = if i == 0 { rev[0] } else { rev[i - 1] };
        for j in 0..c.layers_per_block + 1 {
            let rin = if j == 0 { prev } else { rev[i] };
            t.resnet(&format!("{p}.resnets.{j}"), rin, rev[i], None);
        }
        if i + 1 < n {
            t.conv(&format!("{p}.upsamplers.0.conv"), rev[i], rev[i], 3);
        }
    }
    t.norm("vae.decoder.conv_norm_out", ch[0]);
    t.conv("vae.decoder.conv_out", c.out_channels, ch[0], 3);
    t.0
}

/// Whether a stored name belongs to the VAE encoder: optional in a model
/// (image-to-image needs it, text-to-image never runs it), all or none.
pub fn is_vae_encoder(name: &str) -> bool {
    name.starts_with("vae.encoder.") || name.starts_with("vae.quant_conv.")
}

/// The encoder half of diffusers' `AutoencoderKL` under `vae.`: conv_in,
/// down blocks (ResNets, then a stride-2 conv but on the last), the mid block,
/// norm + SiLU, conv_out to mean and log-variance, quant_conv.
pub fn vae_encoder(c: &VaeConfig) -> Table {
    let mut t = T(Vec::new());
    let ch = &c.block_out_channels;
    let n = ch.len();
    let last = ch[n - 1];
    let moments = 2 * c.latent_channels;
    t.conv("vae.encoder.conv_in", ch[0], c.in_channels, 3);
    for i in 0..n {
        let p = format!("vae.encoder.down_blocks.{i}");
        let cin = if i == 0 { ch[0] } else { ch[i - 1] };
        for j in 0..c.layers_per_block {
            let rin = if j == 0 { cin } else { ch[i] };
            t.resnet(&format!("{p}.resnets.{j}"), rin, ch[i], None);
        }
        if i + 1 < n {
            t.conv(&format!("{p}.downsamplers.0.conv"), ch[i], ch[i], 3);
        }
    }
    t.resnet("vae.encoder.mid_block.resnets.0", last, last, None);
    if c.mid_block_add_attention {
        let p = "vae.encoder.mid_block.attentions.0";
        t.norm(&format!("{p}.group_norm"), last);
        t.attention(p, last, last, true);
    }
    t.resnet("vae.encoder.mid_block.resnets.1", last, last, None);
    t.norm("vae.encoder.conv_norm_out", last);
    t.conv("vae.encoder.conv_out", moments, last, 3);
    if c.use_quant_conv {
        t.conv("vae.quant_conv", moments, moments, 1);
    }
    t.0
}

/// The text-to-image model's table (without the optional VAE encoder).
pub fn expected(text: &TextConfig, u: &UnetConfig, v: &VaeConfig) -> Table {
    let mut all = text_encoder(text);
    all.extend(unet(u));
    all.extend(vae_decoder(v));
    all
}

/// Differences between a weight table and the expected one, each naming the
/// tensor: missing, unexpected, or of another shape. Empty when they match.
pub fn compare<'a>(
    expected: &Table,
    actual: impl IntoIterator<Item = (&'a str, &'a [usize])>,
) -> Vec<String> {
    let want: std::collections::HashMap<&str, &[usize]> = expected
        .iter()
        .map(|(n, s)| (n.as_str(), s.as_slice()))
        .collect();
    let mut problems = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (name, shape) in actual {
        seen.insert(name.to_string());
        match want.get(name) {
            None => problems.push(format!("{name}: not part of this architecture")),
            Some(w) if *w != shape => {
                problems.push(format!("{name}: shape {shape:?}, the config needs {w:?}"))
            }
            _ => {}
        }
    }
    for (name, shape) in expected {
        if !seen.contains(name) {
            problems.push(format!("{name}: missing (shape {shape:?})"));
        }
    }
    problems
}
