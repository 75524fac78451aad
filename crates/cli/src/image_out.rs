//! A generated image as the file the user asked for: PNG (RGB8, its
//! settings in text chunks, as the page's download) or DICOM (a Secondary
//! Capture marked synthetic, for teaching viewers; `roentgen_imaging::dicom_out`).

use std::path::Path;

use roentgen_model::demographics::Sex;
use roentgen_model::{Output, Request};

use crate::options::ImageFormat;

/// The format `--format` names, or the one `out`'s extension says (.dcm is
/// DICOM), else PNG.
pub fn format_for(asked: Option<ImageFormat>, out: &Path) -> ImageFormat {
    asked.unwrap_or_else(|| {
        match out
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
        {
            Some(e) if e == "dcm" => ImageFormat::Dicom,
            _ => ImageFormat::Png,
        }
    })
}

/// What the file says of the patient, when the prompt said it.
pub struct Patient {
    pub age: Option<u32>,
    pub sex: Option<Sex>,
}

pub fn encode(
    format: ImageFormat,
    out: &Output,
    text: &[(&'static str, String)],
    req: &Request,
    model: &str,
    patient: &Patient,
) -> anyhow::Result<Vec<u8>> {
    match format {
        ImageFormat::Png => {
            roentgen_model::png::encode_rgb8(out.width, out.height, &out.rgb8(), text)
                .map_err(anyhow::Error::msg)
        }
        ImageFormat::Dicom => {
            let gray = roentgen_imaging::dicom_out::gray_of_rgb(&out.rgb8());
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let (date, time) = roentgen_imaging::dicom_out::utc_date_time(now);
            roentgen_imaging::dicom_out::secondary_capture(
                &roentgen_imaging::dicom_out::SyntheticImage {
                    width: out.width,
                    height: out.height,
                    gray: &gray,
                    prompt: &req.prompt,
                    model,
                    settings: text,
                    age: patient.age,
                    sex: patient.sex.map(|s| match s {
                        Sex::Female => "F",
                        Sex::Male => "M",
                    }),
                    date: &date,
                    time: &time,
                    random: rand::random(),
                    software: concat!("roentgen ", env!("CARGO_PKG_VERSION")),
                },
            )
            .map_err(anyhow::Error::msg)
        }
    }
}
