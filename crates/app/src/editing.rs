//! (Worker side.) The radiograph open for editing: read from the chosen
//! file here, decoded and kept in this worker (it is never sent anywhere),
//! shown to the page as the model will see it, and turned into an edit's
//! input with the mask the page painted over it.

use base64::Engine;
use roentgen_imaging::{Fit, Grayscale};
use roentgen_model::png::EditedFrom;

use crate::loader::PageModel;
use crate::protocol::FromWorker;
use crate::worker_state;

/// The open file: its name, its grey values as read, and those values
/// fitted to the size of the model that showed it (kept so that each edit
/// does not resize a full-size radiograph again; a model of another size,
/// loaded in between, fits it anew).
pub struct Open {
    name: String,
    image: Grayscale,
    fit: Fit,
    fitted: Grayscale,
}

impl Open {
    fn fitted(&mut self, w: usize, h: usize) -> &Grayscale {
        if (self.fitted.width, self.fitted.height) != (w, h) {
            self.fitted = roentgen_imaging::fit(&self.image, w, h, self.fit);
        }
        &self.fitted
    }
}

/// What an edit needs from the open image.
pub struct EditInput {
    /// [3, H, W] in [-1, 1] at the model's size.
    pub image: Vec<f32>,
    pub mask: Option<Vec<f32>>,
    /// `EditSource::blend`: the original outside the mask, when asked.
    pub blend: Option<Vec<f32>>,
    pub from: EditedFrom,
}

fn read_file(file: &web_sys::File) -> Result<Vec<u8>, String> {
    let reader = web_sys::FileReaderSync::new().map_err(|e| format!("{e:?}"))?;
    let buf = reader
        .read_as_array_buffer(file)
        .map_err(|e| format!("reading {}: {e:?}", file.name()))?;
    Ok(js_sys::Uint8Array::new(&buf).to_vec())
}

fn model_size(model: &PageModel) -> (usize, usize) {
    let (h, w) = model.default_latent_hw();
    (h * model.vae_scale(), w * model.vae_scale())
}

/// Reads and decodes `file`, keeps it, and returns what the page shows.
pub fn open(file: &web_sys::File, fit: Fit, model: &PageModel) -> Result<FromWorker, String> {
    let name = file.name();
    let bytes = read_file(file)?;
    let image = roentgen_imaging::decode(&bytes, &name).map_err(|e| e.to_string())?;
    let (h, w) = model_size(model);
    let fitted = roentgen_imaging::fit(&image, w, h, fit);
    let rgb: Vec<u8> = fitted
        .values
        .iter()
        .flat_map(|v| [(v * 255.0).round() as u8; 3])
        .collect();
    let png = roentgen_model::png::encode_rgb8(w, h, &rgb, &[])?;
    let event = FromWorker::EditImage {
        src: format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(png)
        ),
        width: w,
        height: h,
        name: name.clone(),
        read_as: format!("{}x{} {}", image.width, image.height, image.source),
    };
    worker_state::with(|state| {
        *state.open.borrow_mut() = Some(Open {
            name,
            image,
            fit,
            fitted,
        })
    });
    Ok(event)
}

/// The open image at the model's size and the mask (`width` x `height`
/// bytes, non-zero = change) at the latent grid, and with `keep_outside` the
/// weight that puts the original back outside it.
pub fn input(
    model: &PageModel,
    strength: f64,
    mask: Option<(&str, usize, usize)>,
    keep_outside: bool,
) -> Result<EditInput, String> {
    worker_state::with(|state| {
        let mut o = state.open.borrow_mut();
        let open = o
            .as_mut()
            .ok_or("open a radiograph first (PNG, JPEG or DICOM)")?;
        let (h, w) = model_size(model);
        let image = roentgen_imaging::to_model_input(open.fitted(w, h), model.vae.cfg.in_channels);
        let latent = model.default_latent_hw();
        let painted = match mask {
            Some((b64, mw, mh)) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|e| format!("the mask: {e}"))?;
                if bytes.len() != mw * mh || mw == 0 || mh == 0 {
                    return Err(format!(
                        "the mask holds {} values, not {mw}x{mh}",
                        bytes.len()
                    ));
                }
                Some(Grayscale {
                    width: mw,
                    height: mh,
                    values: bytes.iter().map(|&b| (b > 0) as u8 as f32).collect(),
                    source: String::new(),
                })
            }
            None => None,
        };
        let (mask, (blend, feather)) = match painted {
            Some(m) => {
                let m = roentgen_imaging::edit_mask(&m, (w, h), latent, keep_outside);
                (Some(m.latent), m.blend.unzip())
            }
            None => (None, (None, None)),
        };
        Ok(EditInput {
            image,
            from: EditedFrom {
                image: open.name.clone(),
                read_as: open.image.source.clone(),
                strength,
                mask: mask.as_ref().map(|_| "painted in the page".to_string()),
                blend_feather: feather,
            },
            mask,
            blend,
        })
    })
}
