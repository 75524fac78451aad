//! Options that take one of a few words, as types. clap refuses a typo while
//! it parses the command line, before any file is read, and its message
//! lists the words it knows: no option is matched by hand after a model has
//! loaded, and none falls back silently.

use std::fmt;

use roentgen_gpu::DType;
use roentgen_imaging::Fit;
use roentgen_model::SchedulerKind;

/// The GPU's storage and arithmetic (`--precision`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Precision {
    /// Half the memory; what a real GPU runs.
    F16,
    /// Exact, for comparisons.
    F32,
}

impl Precision {
    pub fn dtype(self) -> DType {
        match self {
            Precision::F16 => DType::F16,
            Precision::F32 => DType::F32,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Precision::F16 => "f16",
            Precision::F32 => "f32",
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The file an image is written as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ImageFormat {
    /// RGB8 with the settings in text chunks.
    Png,
    /// A Secondary Capture marked synthetic, for DICOM viewers.
    Dicom,
}

impl ImageFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Png => "png",
            ImageFormat::Dicom => "dcm",
        }
    }
}

/// `--scheduler`: a sampler by the name links and goldens use.
pub fn scheduler(s: &str) -> Result<SchedulerKind, String> {
    SchedulerKind::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = SchedulerKind::ALL.iter().map(|k| k.name()).collect();
        format!("{s:?}: use {}", names.join(", "))
    })
}

/// `--fit`: how an edited image of another aspect ratio is made to fit.
pub fn fit(s: &str) -> Result<Fit, String> {
    Fit::from_name(s).ok_or_else(|| format!("{s:?}: use crop or pad"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn words_parse_and_typos_are_refused() {
        assert_eq!(Precision::from_str("f16", false), Ok(Precision::F16));
        assert_eq!(Precision::from_str("f32", false), Ok(Precision::F32));
        assert!(Precision::from_str("fp16", false).is_err());
        assert_eq!(Precision::F32.to_string(), "f32");
        for k in SchedulerKind::ALL {
            assert_eq!(scheduler(k.name()), Ok(k));
        }
        assert!(scheduler("pmdn").unwrap_err().contains("dpm++2m"));
        assert_eq!(fit("pad"), Ok(Fit::Pad));
        assert!(fit("stretch").is_err());
    }
}
