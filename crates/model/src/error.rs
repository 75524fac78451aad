//! What can go wrong between a weight folder and an image.

use roentgen_gpu::GpuError;
use roentgen_weights::WeightsError;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Gpu(#[from] GpuError),
    #[error(transparent)]
    Weights(#[from] WeightsError),
    #[error("{component} config: {what}")]
    Config {
        component: &'static str,
        what: String,
    },
    #[error("the weights have no tensor {name} (is the folder a converted SD v1 model?)")]
    MissingTensor { name: String },
    #[error("the weights do not match the configs ({} problems): {}", problems.len(), problems.iter().take(5).cloned().collect::<Vec<_>>().join("; "))]
    Architecture { problems: Vec<String> },
    #[error("tensor {name}: shape {got:?}, the config needs {expected:?}")]
    WeightShape {
        name: String,
        expected: Vec<usize>,
        got: Vec<usize>,
    },
    #[error("tensor {name}: {dtype} weights are not supported by this build")]
    UnsupportedDType { name: String, dtype: String },
    #[error("{op}: expected {expected}, got {got}")]
    Shape {
        op: &'static str,
        expected: String,
        got: String,
    },
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("{0}")]
    Input(String),
    #[error("cancelled")]
    Cancelled,
}

pub(crate) fn check_reshape(from: &[usize], to: &[usize]) -> Result<(), ModelError> {
    if from.iter().product::<usize>() != to.iter().product::<usize>() {
        return Err(ModelError::Shape {
            op: "reshape",
            expected: format!("{} values", from.iter().product::<usize>()),
            got: format!("{to:?}"),
        });
    }
    Ok(())
}
