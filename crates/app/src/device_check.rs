//! (Worker side.) "Check this device": before a model is downloaded (or
//! after it was converted), build its whole pipeline at its native size on
//! a second, dry-run device — every buffer, pipeline and bind group made,
//! every dispatch validated against this adapter's limits, nothing run —
//! from the manifest and tokenizer alone, and say whether it fits and how
//! much GPU memory it needs. The same code as `roentgen plan`.

use crate::news::Check;
use roentgen_gpu::{ContextOptions, DType, GpuContext};
use roentgen_model::GpuBackend;
use roentgen_model::plan::{manifest_only, plan};
use roentgen_weights::Manifest;

use crate::http::{self, Credentials};

/// Where the manifest comes from.
pub enum Target {
    Url { base: String, creds: Credentials },
    Stored(String),
}

async fn file(target: &Target, name: &str) -> Result<Vec<u8>, String> {
    match target {
        Target::Url { base, creds } => {
            http::bytes(
                &format!("{}{name}", roentgen_weights::folder_url(base)),
                creds,
            )
            .await
        }
        Target::Stored(model) => {
            let dir = crate::model_store::model_dir(model, false).await?;
            crate::model_store::read_file(&dir, name).await
        }
    }
}

/// The verdict, or why the model does not fit.
pub async fn check(target: Target) -> Result<Check, String> {
    let t0 = js_sys::Date::now();
    let manifest = Manifest::from_json(&String::from_utf8_lossy(
        &file(&target, "manifest.json").await?,
    ))
    .map_err(|e| format!("manifest.json: {e}"))?;
    let tokenizer = file(&target, &manifest.tokenizer).await?;
    let ctx = GpuContext::new(ContextOptions {
        dry_run: true,
        ..Default::default()
    })
    .await
    .map_err(|e| e.to_string())?;
    let result = async {
        let model = manifest_only(GpuBackend::new(&ctx, DType::F16), &manifest, &tokenizer)
            .map_err(|e| e.to_string())?;
        let (h, _) = model.default_latent_hw();
        let size = h * model.vae_scale();
        let report = plan(&ctx, &model, size, 2)
            .await
            .map_err(|e| format!("the {size}x{size} pipeline does not fit this adapter: {e}"))?;
        Ok::<_, String>(Check::Fits {
            fits: report.fits(),
            secs: (js_sys::Date::now() - t0) / 1e3,
            weights_bytes: report.weights_bytes,
        })
    }
    .await;
    // The dry run's buffers go with its device.
    ctx.device.destroy();
    result
}
