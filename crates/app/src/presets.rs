//! Report sentences for common findings, worded as MIMIC-CXR impressions are
//! (RoentGen was fine-tuned on them), so a first-time user starts from text
//! the model knows. Each pairs with a "without" sentence for the compare view.

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
    (
        "Cardiomegaly",
        "Moderate cardiomegaly.",
        "Normal heart size.",
    ),
    (
        "Pulmonary edema",
        "Moderate pulmonary edema.",
        "No pulmonary edema.",
    ),
    (
        "Consolidation, right lower lobe",
        "Right lower lobe consolidation concerning for pneumonia.",
        "Lungs are clear.",
    ),
    (
        "Atelectasis, bibasilar",
        "Bibasilar atelectasis.",
        "Lungs are clear.",
    ),
    (
        "Support devices",
        "Endotracheal tube terminates 4 cm above the carina. Right internal jugular central venous catheter tip in the mid SVC.",
        "No support devices.",
    ),
    (
        "Normal",
        "No acute cardiopulmonary process.",
        "No acute cardiopulmonary process.",
    ),
];
