//! The diffusers/transformers configs the graph is built from, read from the
//! manifest (which holds them verbatim). Anything this graph does not
//! implement is refused here, by name, rather than silently ignored.

use serde::Deserialize;
use serde_json::Value;

use crate::ModelError;

/// An `int | [int, ...]` config field, expanded per block.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum PerBlock {
    One(usize),
    Each(Vec<usize>),
}

impl PerBlock {
    pub fn expand(&self, blocks: usize) -> Vec<usize> {
        match self {
            PerBlock::One(v) => vec![*v; blocks],
            PerBlock::Each(v) => v.clone(),
        }
    }
}

/// transformers' `CLIPTextConfig`.
#[derive(Clone, Debug, Deserialize)]
pub struct TextConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "default_ln_eps")]
    pub layer_norm_eps: f32,
    #[serde(default = "default_act")]
    pub hidden_act: String,
}

fn default_ln_eps() -> f32 {
    1e-5
}
fn default_act() -> String {
    "quick_gelu".into()
}

/// diffusers' `UNet2DConditionModel` config (the fields SD v1 uses).
#[derive(Clone, Debug, Deserialize)]
pub struct UnetConfig {
    pub in_channels: usize,
    pub out_channels: usize,
    pub block_out_channels: Vec<usize>,
    pub down_block_types: Vec<String>,
    pub up_block_types: Vec<String>,
    #[serde(default = "default_mid")]
    pub mid_block_type: Option<String>,
    pub layers_per_block: PerBlock,
    #[serde(default = "default_heads")]
    pub attention_head_dim: PerBlock,
    #[serde(default)]
    pub num_attention_heads: Option<PerBlock>,
    #[serde(default = "default_one")]
    pub transformer_layers_per_block: PerBlock,
    pub cross_attention_dim: usize,
    #[serde(default = "default_groups")]
    pub norm_num_groups: usize,
    #[serde(default = "default_ln_eps")]
    pub norm_eps: f32,
    #[serde(default = "default_true")]
    pub flip_sin_to_cos: bool,
    #[serde(default)]
    pub freq_shift: f32,
    #[serde(default)]
    pub use_linear_projection: bool,
    /// SD 2.1 (768) sets it: attention scores in f32 under fp16. Our
    /// attention kernel keeps scores, softmax and sums in f32 on every path,
    /// so it is honoured whatever it says.
    #[serde(default)]
    pub upcast_attention: bool,
    #[serde(default = "default_one_f")]
    pub mid_block_scale_factor: f32,
    #[serde(default)]
    pub sample_size: Option<usize>,
}

fn default_mid() -> Option<String> {
    Some("UNetMidBlock2DCrossAttn".into())
}
fn default_heads() -> PerBlock {
    PerBlock::One(8)
}
fn default_one() -> PerBlock {
    PerBlock::One(1)
}
fn default_groups() -> usize {
    32
}
fn default_true() -> bool {
    true
}
fn default_one_f() -> f32 {
    1.0
}

/// diffusers' `AutoencoderKL` config (decoder side).
#[derive(Clone, Debug, Deserialize)]
pub struct VaeConfig {
    #[serde(default = "default_latent")]
    pub latent_channels: usize,
    #[serde(default = "default_rgb")]
    pub in_channels: usize,
    #[serde(default = "default_rgb")]
    pub out_channels: usize,
    pub block_out_channels: Vec<usize>,
    /// The encoder's blocks; absent in some configs (then all
    /// `DownEncoderBlock2D`, diffusers' only encoder block).
    #[serde(default)]
    pub down_block_types: Vec<String>,
    pub up_block_types: Vec<String>,
    #[serde(default = "default_one_u")]
    pub layers_per_block: usize,
    #[serde(default = "default_groups")]
    pub norm_num_groups: usize,
    #[serde(default = "default_scaling")]
    pub scaling_factor: f32,
    #[serde(default = "default_true")]
    pub use_quant_conv: bool,
    #[serde(default = "default_true")]
    pub use_post_quant_conv: bool,
    #[serde(default = "default_true")]
    pub mid_block_add_attention: bool,
}

fn default_latent() -> usize {
    4
}
fn default_rgb() -> usize {
    3
}
fn default_one_u() -> usize {
    1
}
fn default_scaling() -> f32 {
    0.18215
}

/// Refuses a field whose value changes the graph in a way this build does not
/// implement (SD v2/XL features), naming it; absent or null passes.
fn refuse_unless(
    component: &'static str,
    raw: &Value,
    field: &str,
    allowed: &[Value],
) -> Result<(), ModelError> {
    match raw.get(field) {
        None | Some(Value::Null) => Ok(()),
        Some(v) if allowed.contains(v) => Ok(()),
        Some(v) => Err(ModelError::Config {
            component,
            what: format!("{field} = {v} is not supported (SD v1.x and 2.x graphs only)"),
        }),
    }
}

/// Sizes a stranger's config may ask for: generous for any SD v1.x-shaped
/// model, small enough that building the graph's tables cannot exhaust
/// memory or time. Zero is refused too (it divides).
fn within(
    component: &'static str,
    field: &str,
    values: &[usize],
    max: usize,
) -> Result<(), ModelError> {
    match values.iter().find(|&&v| v == 0 || v > max) {
        None => Ok(()),
        Some(v) => Err(ModelError::Config {
            component,
            what: format!("{field} = {v} is outside 1..={max}"),
        }),
    }
}

fn parse<T: for<'de> Deserialize<'de>>(
    component: &'static str,
    raw: &Value,
) -> Result<T, ModelError> {
    serde_json::from_value(raw.clone()).map_err(|e| ModelError::Config {
        component,
        what: e.to_string(),
    })
}

impl TextConfig {
    pub fn from_json(raw: &Value) -> Result<Self, ModelError> {
        let c: Self = parse("text_encoder", raw)?;
        let t = "text_encoder";
        within(t, "vocab_size", &[c.vocab_size], 1 << 20)?;
        within(t, "hidden_size", &[c.hidden_size], 8192)?;
        within(t, "intermediate_size", &[c.intermediate_size], 32768)?;
        within(t, "num_hidden_layers", &[c.num_hidden_layers], 64)?;
        within(t, "num_attention_heads", &[c.num_attention_heads], 128)?;
        within(
            t,
            "max_position_embeddings",
            &[c.max_position_embeddings],
            4096,
        )?;
        if !matches!(c.hidden_act.as_str(), "quick_gelu" | "gelu") {
            return Err(ModelError::Config {
                component: "text_encoder",
                what: format!("hidden_act {:?} is not supported", c.hidden_act),
            });
        }
        if c.num_attention_heads == 0 || !c.hidden_size.is_multiple_of(c.num_attention_heads) {
            return Err(ModelError::Config {
                component: "text_encoder",
                what: "hidden_size must divide into num_attention_heads".into(),
            });
        }
        Ok(c)
    }
}

impl UnetConfig {
    pub fn from_json(raw: &Value) -> Result<Self, ModelError> {
        let s = |v: &str| Value::String(v.into());
        refuse_unless("unet", raw, "time_embedding_type", &[s("positional")])?;
        refuse_unless("unet", raw, "resnet_time_scale_shift", &[s("default")])?;
        refuse_unless("unet", raw, "act_fn", &[s("silu")])?;
        refuse_unless("unet", raw, "class_embed_type", &[])?;
        refuse_unless("unet", raw, "addition_embed_type", &[])?;
        refuse_unless("unet", raw, "encoder_hid_dim", &[])?;
        refuse_unless("unet", raw, "time_cond_proj_dim", &[])?;
        refuse_unless("unet", raw, "only_cross_attention", &[Value::Bool(false)])?;
        refuse_unless("unet", raw, "dual_cross_attention", &[Value::Bool(false)])?;
        refuse_unless("unet", raw, "center_input_sample", &[Value::Bool(false)])?;
        refuse_unless("unet", raw, "conv_in_kernel", &[Value::from(3)])?;
        refuse_unless("unet", raw, "conv_out_kernel", &[Value::from(3)])?;
        refuse_unless("unet", raw, "downsample_padding", &[Value::from(1)])?;
        refuse_unless(
            "unet",
            raw,
            "resnet_out_scale_factor",
            &[Value::from(1.0), Value::from(1)],
        )?;
        let c: Self = parse("unet", raw)?;
        let n = c.block_out_channels.len();
        let bad = |what: String| ModelError::Config {
            component: "unet",
            what,
        };
        if n == 0 || c.down_block_types.len() != n || c.up_block_types.len() != n {
            return Err(bad("block_out_channels, down_block_types and up_block_types must have one entry per level".into()));
        }
        within("unet", "levels", &[n], 6)?;
        within("unet", "block_out_channels", &c.block_out_channels, 8192)?;
        within("unet", "in_channels", &[c.in_channels], 64)?;
        within("unet", "out_channels", &[c.out_channels], 64)?;
        within("unet", "layers_per_block", &c.layers_per_block.expand(n), 8)?;
        within("unet", "attention heads", &c.heads(), 256)?;
        within(
            "unet",
            "transformer_layers_per_block",
            &c.transformer_layers_per_block.expand(n),
            16,
        )?;
        within(
            "unet",
            "cross_attention_dim",
            &[c.cross_attention_dim],
            8192,
        )?;
        within("unet", "norm_num_groups", &[c.norm_num_groups], 1024)?;
        within("unet", "sample_size", &[c.sample_size.unwrap_or(64)], 512)?;
        for t in &c.down_block_types {
            if !matches!(t.as_str(), "CrossAttnDownBlock2D" | "DownBlock2D") {
                return Err(bad(format!("down block {t:?} is not supported")));
            }
        }
        for t in &c.up_block_types {
            if !matches!(t.as_str(), "CrossAttnUpBlock2D" | "UpBlock2D") {
                return Err(bad(format!("up block {t:?} is not supported")));
            }
        }
        if c.mid_block_type.as_deref() != Some("UNetMidBlock2DCrossAttn") {
            return Err(bad(format!(
                "mid block {:?} is not supported (SD v1 uses UNetMidBlock2DCrossAttn)",
                c.mid_block_type
            )));
        }
        if c.mid_block_scale_factor != 1.0 {
            return Err(bad("mid_block_scale_factor other than 1".into()));
        }
        for (name, v) in [
            ("layers_per_block", c.layers_per_block.expand(n)),
            ("attention heads", c.heads()),
            (
                "transformer_layers_per_block",
                c.transformer_layers_per_block.expand(n),
            ),
        ] {
            if v.len() != n {
                return Err(bad(format!("{name} must have {n} entries")));
            }
        }
        for (ch, h) in c.block_out_channels.iter().zip(c.heads()) {
            if h == 0 || !ch.is_multiple_of(h) || !ch.is_multiple_of(c.norm_num_groups) {
                return Err(bad(format!(
                    "{ch} channels do not split into {h} heads and {} groups",
                    c.norm_num_groups
                )));
            }
        }
        Ok(c)
    }

    /// Heads per level. SD v1 configs name the head count `attention_head_dim`
    /// (a diffusers naming slip it keeps for compatibility).
    pub fn heads(&self) -> Vec<usize> {
        let n = self.block_out_channels.len();
        self.num_attention_heads
            .as_ref()
            .unwrap_or(&self.attention_head_dim)
            .expand(n)
    }

    pub fn time_embed_dim(&self) -> usize {
        self.block_out_channels[0] * 4
    }
}

impl VaeConfig {
    pub fn from_json(raw: &Value) -> Result<Self, ModelError> {
        refuse_unless("vae", raw, "shift_factor", &[])?;
        refuse_unless("vae", raw, "latents_mean", &[])?;
        let c: Self = parse("vae", raw)?;
        if c.block_out_channels.is_empty() || c.up_block_types.len() != c.block_out_channels.len() {
            return Err(ModelError::Config {
                component: "vae",
                what: "one up block per block_out_channels entry".into(),
            });
        }
        let v = "vae";
        within(v, "levels", &[c.block_out_channels.len()], 6)?;
        within(v, "block_out_channels", &c.block_out_channels, 4096)?;
        within(v, "latent_channels", &[c.latent_channels], 64)?;
        within(v, "in_channels", &[c.in_channels], 16)?;
        within(v, "out_channels", &[c.out_channels], 16)?;
        within(v, "layers_per_block", &[c.layers_per_block], 8)?;
        within(v, "norm_num_groups", &[c.norm_num_groups], 1024)?;
        for t in &c.up_block_types {
            if t != "UpDecoderBlock2D" {
                return Err(ModelError::Config {
                    component: "vae",
                    what: format!("up block {t:?} is not supported"),
                });
            }
        }
        let n = c.block_out_channels.len();
        if !c.down_block_types.is_empty() && c.down_block_types.len() != n {
            return Err(ModelError::Config {
                component: "vae",
                what: "one down block per block_out_channels entry".into(),
            });
        }
        for t in &c.down_block_types {
            if t != "DownEncoderBlock2D" {
                return Err(ModelError::Config {
                    component: "vae",
                    what: format!("down block {t:?} is not supported"),
                });
            }
        }
        Ok(c)
    }
}
