//! float32 `.npy` files (NumPy format 1.0/2.0), the latents exchange format
//! with diffusers (`np.save("x.npy", latents.numpy())`).

use anyhow::{Context, bail};
use std::path::Path;

/// Reads a little-endian float32 C-order array: (shape, values).
pub fn read_f32(path: &Path) -> anyhow::Result<(Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    parse_f32(&bytes).with_context(|| format!("{} is not a float32 .npy array", path.display()))
}

pub fn parse_f32(bytes: &[u8]) -> anyhow::Result<(Vec<usize>, Vec<f32>)> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        bail!("no .npy magic");
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => bail!("unsupported .npy version {v}"),
    };
    let header = bytes
        .get(start..start + header_len)
        .context("header longer than the file")?;
    let header = std::str::from_utf8(header).context("header is not text")?;
    let field = |key: &str| -> anyhow::Result<&str> {
        let quoted = format!("'{key}'");
        let at = header
            .find(&quoted)
            .with_context(|| format!("header has no {key}"))?;
        Ok(header[at + quoted.len()..].trim_start_matches([':', ' ']))
    };
    let descr = field("descr")?;
    if !descr.starts_with("'<f4'") {
        bail!(
            "dtype {} (float32 '<f4' needed)",
            descr.split(',').next().unwrap_or("")
        );
    }
    if !field("fortran_order")?.starts_with("False") {
        bail!("Fortran-ordered arrays are not supported");
    }
    let shape_text = field("shape")?;
    let inner = shape_text
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .context("malformed shape")?;
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().context("malformed shape"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let data = &bytes[start + header_len..];
    let expected = shape.iter().try_fold(4usize, |n, &d| n.checked_mul(d));
    if expected != Some(data.len()) {
        bail!(
            "{} data bytes for shape {shape:?} ({} expected)",
            data.len(),
            expected.map_or("more than 2^64".into(), |n| n.to_string())
        );
    }
    let values = data
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok((shape, values))
}

pub fn encode_f32(shape: &[usize], values: &[f32]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_text = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_text}, }}");
    // Pad so the data starts on a 64-byte boundary, ending in a newline.
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

pub fn write_f32(path: &Path, shape: &[usize], values: &[f32]) -> anyhow::Result<()> {
    std::fs::write(path, encode_f32(shape, values))
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let v: Vec<f32> = (0..24).map(|i| i as f32 * 0.5 - 3.0).collect();
        let bytes = encode_f32(&[1, 4, 2, 3], &v);
        assert_eq!(bytes.len() % 16, 0, "header padded");
        assert_eq!(parse_f32(&bytes).unwrap(), (vec![1, 4, 2, 3], v.clone()));
        let mut f64_header = bytes.clone();
        let at = f64_header.windows(3).position(|w| w == b"<f4").unwrap();
        f64_header[at + 2] = b'8';
        assert!(
            parse_f32(&f64_header)
                .unwrap_err()
                .to_string()
                .contains("<f8")
        );
        assert!(
            parse_f32(&bytes[..bytes.len() - 4]).is_err(),
            "truncated data"
        );
        assert!(parse_f32(b"not numpy").is_err());
    }

    /// Latents files come from anyone (`--latents`): mutated headers,
    /// lengths and shapes are refused with a message (rules: crates/fuzz).
    #[test]
    fn mutated_files_are_refused_with_a_message() {
        let corpus = vec![
            encode_f32(&[1, 4, 2, 3], &[0.5; 24]),
            encode_f32(&[3], &[1.0, 2.0, 3.0]),
            std::fs::read(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../tests/goldens/tiny-sd2/init_latents.npy"
            ))
            .unwrap(),
        ];
        let target = roentgen_fuzz::Target::new("npy", corpus);
        let report = roentgen_fuzz::fuzz(target, |bytes| parse_f32(bytes).into());
        assert!(
            report.accepted >= 3 && report.refused > report.cases / 2,
            "{report:?}"
        );
        // A shape whose element count overflows once panicked (debug) or
        // wrapped (release) before the length check.
        let huge = encode_f32(&[1 << 32, 1 << 32, 2], &[0.5; 24]);
        let err = parse_f32(&huge).unwrap_err().to_string();
        assert!(err.contains("more than 2^64"), "{err}");
    }
}
