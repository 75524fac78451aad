//! `scheduler_config.json` with each diffusers scheduler's own defaults.

use serde::Deserialize;

use super::SchedulerKind;
use crate::ModelError;

/// What the UNet's output is (`prediction_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prediction {
    /// The noise (SD 1.x, RoentGen).
    Epsilon,
    /// v = sqrt(a) eps - sqrt(1 - a) x0 (SD 2.x 768-px models).
    V,
}

/// How betas rise over the training timesteps (`beta_schedule`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BetaSchedule {
    Linear,
    /// Linear in sqrt(beta), squared (SD's).
    ScaledLinear,
}

impl BetaSchedule {
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "linear" => Some(BetaSchedule::Linear),
            "scaled_linear" => Some(BetaSchedule::ScaledLinear),
            _ => None,
        }
    }

    /// Beta at training step `i` of `n`.
    fn beta(self, start: f64, end: f64, i: usize, n: usize) -> f64 {
        let lin = |a: f64, b: f64| match n {
            1 => a,
            _ => a + (b - a) * i as f64 / (n - 1) as f64,
        };
        match self {
            BetaSchedule::Linear => lin(start, end),
            BetaSchedule::ScaledLinear => lin(start.sqrt(), end.sqrt()).powi(2),
        }
    }
}

/// Where the inference timesteps fall among the training ones
/// (`timestep_spacing`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestepSpacing {
    /// Multiples of T / n, plus `steps_offset` (SD v1's PNDM and DDIM).
    Leading,
    /// Evenly from 0 to T - 1, both ends included.
    Linspace,
    /// Back from T - 1 in steps of T / n.
    Trailing,
}

impl TimestepSpacing {
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "leading" => Some(TimestepSpacing::Leading),
            "linspace" => Some(TimestepSpacing::Linspace),
            "trailing" => Some(TimestepSpacing::Trailing),
            _ => None,
        }
    }

    /// The `points` timesteps every scheduler's `set_timesteps` spaces over
    /// `train` training steps, ascending: rounded half to even as numpy
    /// does, except a linspace kept in float32 when `float_linspace` (the
    /// Euler schedulers interpolate their sigmas there).
    pub fn timesteps(
        self,
        train: usize,
        points: usize,
        offset: usize,
        float_linspace: bool,
    ) -> Vec<f64> {
        let t = train as f64;
        match self {
            TimestepSpacing::Linspace => (0..points)
                .map(|i| {
                    let v = match points {
                        1 => 0.0,
                        _ => (t - 1.0) * i as f64 / (points - 1) as f64,
                    };
                    if float_linspace {
                        v as f32 as f64
                    } else {
                        v.round_ties_even()
                    }
                })
                .collect(),
            TimestepSpacing::Leading => {
                let ratio = train / points;
                (0..points).map(|i| (i * ratio + offset) as f64).collect()
            }
            // np.round(np.arange(T, 0, -T / n)) - 1, ascending.
            TimestepSpacing::Trailing => {
                let ratio = t / points as f64;
                (0..points)
                    .rev()
                    .map(|i| (t - i as f64 * ratio).round_ties_even() - 1.0)
                    .collect()
            }
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct SchedulerConfig {
    #[serde(rename = "_class_name", default)]
    pub class_name: Option<String>,
    #[serde(default = "default_t")]
    pub num_train_timesteps: usize,
    #[serde(default = "default_beta_start")]
    pub beta_start: f64,
    #[serde(default = "default_beta_end")]
    pub beta_end: f64,
    #[serde(default = "default_schedule")]
    pub beta_schedule: String,
    #[serde(default)]
    pub steps_offset: usize,
    /// Absent: PNDM's default is false, DDIM's true.
    #[serde(default)]
    pub set_alpha_to_one: Option<bool>,
    /// Absent: "leading" for PNDM and DDIM, "linspace" for the others.
    #[serde(default)]
    pub timestep_spacing: Option<String>,
    #[serde(default)]
    pub prediction_type: Option<String>,
    /// Absent: DDIM clips x0 (diffusers' default), to `clip_sample_range`.
    #[serde(default)]
    pub clip_sample: Option<bool>,
    #[serde(default = "default_clip_range")]
    pub clip_sample_range: f64,
    #[serde(default)]
    pub trained_betas: Option<serde_json::Value>,
    #[serde(default)]
    pub use_karras_sigmas: Option<bool>,
    #[serde(default)]
    pub thresholding: Option<bool>,
    #[serde(default)]
    pub rescale_betas_zero_snr: Option<bool>,
}

fn default_t() -> usize {
    1000
}
fn default_beta_start() -> f64 {
    0.0001
}
fn default_beta_end() -> f64 {
    0.02
}
fn default_clip_range() -> f64 {
    1.0
}
fn default_schedule() -> String {
    "linear".into()
}

impl SchedulerConfig {
    pub fn from_json(raw: &serde_json::Value) -> Result<Self, ModelError> {
        let bad = |what: String| ModelError::Config {
            component: "scheduler",
            what,
        };
        let c: Self = serde_json::from_value(raw.clone()).map_err(|e| bad(e.to_string()))?;
        // The tables are built per generation: a stranger's config must not
        // make them huge, and betas outside (0, 1) make every sigma NaN.
        if !(1..=100_000).contains(&c.num_train_timesteps) {
            return Err(bad(format!(
                "num_train_timesteps = {} is outside 1..=100000",
                c.num_train_timesteps
            )));
        }
        if c.steps_offset >= c.num_train_timesteps {
            return Err(bad(format!(
                "steps_offset = {} is too large",
                c.steps_offset
            )));
        }
        if !(c.beta_start > 0.0 && c.beta_start <= c.beta_end && c.beta_end < 1.0) {
            return Err(bad(format!(
                "betas {}..{} must satisfy 0 < beta_start <= beta_end < 1",
                c.beta_start, c.beta_end
            )));
        }
        Ok(c)
    }

    /// The sampler the model was saved with (PNDM if the class is unknown).
    pub fn default_kind(&self) -> SchedulerKind {
        self.class_name
            .as_deref()
            .and_then(SchedulerKind::from_class_name)
            .unwrap_or(SchedulerKind::Pndm)
    }

    pub(crate) fn check(&self, kind: SchedulerKind) -> Result<(), ModelError> {
        let refuse = |what: String| {
            Err(ModelError::Config {
                component: "scheduler",
                what,
            })
        };
        // Every sampler takes epsilon and v-prediction.
        if self.prediction().is_none() {
            return refuse(format!(
                "prediction_type {:?} (epsilon and v_prediction are supported)",
                self.prediction_type.as_deref().unwrap_or("")
            ));
        }
        if self.schedule().is_none() {
            return refuse(format!("beta_schedule {:?}", self.beta_schedule));
        }
        if self.trained_betas.as_ref().is_some_and(|v| !v.is_null()) {
            return refuse("trained_betas".into());
        }
        for (flag, name) in [
            (self.use_karras_sigmas, "use_karras_sigmas"),
            (self.thresholding, "thresholding"),
            (self.rescale_betas_zero_snr, "rescale_betas_zero_snr"),
        ] {
            if flag == Some(true) {
                return refuse(format!("{name} = true"));
            }
        }
        if !(self.clip_sample_range > 0.0 && self.clip_sample_range.is_finite()) {
            return refuse(format!(
                "clip_sample_range = {} must be positive",
                self.clip_sample_range
            ));
        }
        if self.spacing(kind).is_none() {
            return refuse(format!(
                "timestep_spacing {:?}",
                self.timestep_spacing.as_deref().unwrap_or("")
            ));
        }
        Ok(())
    }

    /// What the UNet predicts; None for a kind this build does not know.
    pub fn prediction(&self) -> Option<Prediction> {
        match self.prediction_type.as_deref() {
            None | Some("epsilon") => Some(Prediction::Epsilon),
            Some("v_prediction") => Some(Prediction::V),
            Some(_) => None,
        }
    }

    /// The spacing `kind` uses: the config's, else that scheduler's default
    /// ("leading" for PNDM and DDIM, "linspace" for the others); None for
    /// one this build does not know.
    pub fn spacing(&self, kind: SchedulerKind) -> Option<TimestepSpacing> {
        match self.timestep_spacing.as_deref() {
            Some(name) => TimestepSpacing::from_name(name),
            None => Some(match kind {
                SchedulerKind::Pndm | SchedulerKind::Ddim => TimestepSpacing::Leading,
                _ => TimestepSpacing::Linspace,
            }),
        }
    }

    /// The config's beta schedule; None for one this build does not know.
    pub fn schedule(&self) -> Option<BetaSchedule> {
        BetaSchedule::from_name(&self.beta_schedule)
    }

    /// `kind`'s spacing, once `check` has passed.
    pub(crate) fn checked_spacing(&self, kind: SchedulerKind) -> TimestepSpacing {
        self.spacing(kind).unwrap_or(TimestepSpacing::Leading)
    }

    /// `alphas_cumprod` over the training timesteps (`betas` as diffusers
    /// builds them: "scaled_linear" is linspace of sqrt(beta), squared).
    pub(crate) fn alphas_cumprod(&self) -> Vec<f64> {
        let n = self.num_train_timesteps;
        let schedule = self.schedule().unwrap_or(BetaSchedule::Linear);
        let mut acc = 1.0;
        (0..n)
            .map(|i| {
                acc *= 1.0 - schedule.beta(self.beta_start, self.beta_end, i, n);
                acc
            })
            .collect()
    }

    /// `sqrt((1 - a) / a)` per training timestep (the Euler/DPM sigmas).
    pub(crate) fn sigmas(&self) -> Vec<f64> {
        self.alphas_cumprod()
            .iter()
            .map(|a| ((1.0 - a) / a).sqrt())
            .collect()
    }
}
