//! The converter's one error type. Every message names the file it is about
//! as the user knows it (`Folder::describe`: a path on disk, or the dropped
//! folder's name in the page), because the user's fix is always to that file.

use roentgen_model::ModelError;
use roentgen_weights::WeightsError;

/// What a diffusers folder holds, for messages that say what is missing.
pub const LAYOUT: &str = "a diffusers folder holds model_index.json, text_encoder/, unet/, vae/, \
                          tokenizer/ and scheduler/ (RoentGen as its authors distribute it)";

#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// Reading, opening or writing failed (the OS's or the browser's reason).
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    /// A file the diffusers layout needs is not in the folder.
    #[error("{path} is missing: {LAYOUT}")]
    Missing { path: String },
    #[error("{dir} has neither tokenizer.json nor vocab.json + merges.txt: {LAYOUT}")]
    NoTokenizer { dir: String },
    #[error("{dir} holds no .safetensors or .bin weights")]
    NoWeights { dir: String },
    /// A config or tokenizer file too big to be one (read whole, so capped).
    #[error("{path} is {size} bytes, more than a config or tokenizer can be")]
    TooLarge { path: String, size: u64 },
    /// A file's contents are not what its name says: not UTF-8 or JSON, not
    /// a safetensors file, a pickle that is not a plain state dict, not a
    /// CLIP vocabulary.
    #[error("{file}: {what}")]
    Malformed { file: String, what: String },
    #[error("{file}: {tensor} ({stored}) is not part of the architecture its config describes")]
    NotInArchitecture {
        file: String,
        tensor: String,
        stored: String,
    },
    #[error("{file}: {tensor} has shape {got:?}, the config needs {expected:?}")]
    ShapeMismatch {
        file: String,
        tensor: String,
        got: Vec<usize>,
        expected: Vec<usize>,
    },
    /// The configs describe something this project does not build.
    #[error(
        "this model's configs are not a Stable Diffusion 1.x or 2.x text-to-image model this page can run: {why}"
    )]
    Unsupported { why: ModelError },
    /// The folder is another kind of model, named by its own files.
    #[error("{what}; this page runs Stable Diffusion 1.x and 2.x models (RoentGen, RoentGen-v2)")]
    OtherFamily { what: String },
    /// Every weight read, but the table is not the configs' (some missing).
    #[error("the folder's weights do not match its configs: {why}")]
    Incomplete { why: ModelError },
    #[error(transparent)]
    Weights(#[from] WeightsError),
}

impl ConvertError {
    pub fn io(path: impl Into<String>, e: impl std::fmt::Display) -> Self {
        Self::Io {
            path: path.into(),
            reason: e.to_string(),
        }
    }

    /// What a failed read or write of `path` becomes, for `map_err`.
    pub fn at<E: std::fmt::Display>(path: &std::path::Path) -> impl Fn(E) -> Self + '_ {
        move |e| Self::io(path.display().to_string(), e)
    }

    pub fn malformed(file: impl Into<String>, what: impl Into<String>) -> Self {
        Self::Malformed {
            file: file.into(),
            what: what.into(),
        }
    }
}

pub type Result<T, E = ConvertError> = std::result::Result<T, E>;
