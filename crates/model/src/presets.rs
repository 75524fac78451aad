//! Report sentences for common findings, worded as MIMIC-CXR impressions are
//! (RoentGen was fine-tuned on them) and as the demo model's phantom captions
//! are (each sentence is one the phantom generator writes, which
//! crates/phantom/tests/presets.rs holds), so a first-time user starts from
//! text the model knows. Each pairs with a "without" sentence for the
//! compare view. Here rather than in the page's crate so that test can read them.

/// (label, prompt, the same study without the finding).
pub const PRESETS: &[(&str, &str, &str)] = &[
    (
        "Pleural effusion, left, small",
        "Small left pleural effusion.",
        "No pleural effusion.",
    ),
    (
        "Pleural effusion, right, moderate",
        "Moderate right pleural effusion.",
        "No pleural effusion.",
    ),
    (
        "Pleural effusion, bilateral, large",
        "Large bilateral pleural effusions.",
        "No pleural effusion.",
    ),
    (
        "Pneumothorax, left apical, small",
        "Small left apical pneumothorax.",
        "No pneumothorax.",
    ),
    (
        "Pneumothorax, right, large",
        "Large right pneumothorax.",
        "No pneumothorax.",
    ),
    ("Cardiomegaly", "Cardiomegaly.", "Heart size is normal."),
    (
        "Pulmonary edema",
        "Pulmonary edema.",
        "No acute cardiopulmonary process.",
    ),
    (
        "Consolidation, right lower lobe",
        "Right lower lobe consolidation.",
        "No focal consolidation.",
    ),
    (
        "Atelectasis, bibasilar",
        "Bibasilar atelectasis.",
        "The lungs are clear.",
    ),
    (
        "Support devices",
        "Endotracheal tube in place. Right internal jugular central line in place.",
        "No acute cardiopulmonary process.",
    ),
    (
        "Normal",
        "No acute cardiopulmonary process.",
        "No acute cardiopulmonary process.",
    ),
];
