//! q8: int8 weights with one f16 scale per output channel (dimension 0).
//! Halves an f16 download; linear and conv weights only (norms, biases and
//! embeddings stay f16, where int8 would cost too much accuracy for too few
//! bytes). Symmetric: `w = q * scale`, `scale = max|w| / 127` per channel.

use half::f16;

/// Whether a tensor is stored as q8 in a q8 conversion.
pub fn eligible(name: &str, shape: &[usize]) -> bool {
    shape.len() >= 2 && !name.contains("embedding")
}

/// (int8 bytes, f16 scale bytes) for `values` with `rows` output channels.
pub fn quantize(values: &[f32], rows: usize) -> (Vec<u8>, Vec<u8>) {
    let per = values.len() / rows.max(1);
    let mut q = Vec::with_capacity(values.len());
    let mut scales = Vec::with_capacity(rows * 2);
    for row in values.chunks(per.max(1)) {
        let max = row.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let scale = f16::from_f32(max / 127.0);
        let s = scale.to_f32();
        scales.extend_from_slice(&scale.to_le_bytes());
        q.extend(row.iter().map(|v| {
            let x = if s > 0.0 {
                (v / s).round().clamp(-127.0, 127.0)
            } else {
                0.0
            };
            x as i8 as u8
        }));
    }
    (q, scales)
}

/// The f32 weights a q8 tensor stands for.
pub fn dequantize(data: &[u8], scales: &[u8], rows: usize) -> Vec<f32> {
    let per = data.len() / rows.max(1);
    data.chunks(per.max(1))
        .zip(scales.chunks_exact(2))
        .flat_map(|(row, s)| {
            let s = f16::from_le_bytes([s[0], s[1]]).to_f32();
            row.iter().map(move |&b| b as i8 as f32 * s)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_within_half_a_step_per_channel() {
        let rows = 3;
        let v: Vec<f32> = (0..rows * 50)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) * if i < 50 { 0.001 } else { 0.3 })
            .collect();
        let (q, s) = quantize(&v, rows);
        assert_eq!((q.len(), s.len()), (v.len(), rows * 2));
        let back = dequantize(&q, &s, rows);
        for (r, (a, b)) in v.chunks(50).zip(back.chunks(50)).enumerate() {
            let max = a.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            let step = max / 127.0;
            for (x, y) in a.iter().zip(b) {
                assert!(
                    (x - y).abs() <= step * 0.51 + 1e-3 * step,
                    "row {r}: {x} vs {y}"
                );
            }
        }
        assert_eq!(
            dequantize(&quantize(&[0.0; 4], 2).0, &quantize(&[0.0; 4], 2).1, 2),
            vec![0.0; 4]
        );
        assert!(eligible("unet.conv_in.weight", &[320, 4, 3, 3]));
        assert!(!eligible("unet.conv_in.bias", &[320]));
        assert!(!eligible(
            "text_encoder.embeddings.token_embedding.weight",
            &[49408, 768]
        ));
    }
}
