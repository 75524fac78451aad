//! `weights-tools phantoms`: the demo model's training set, written for the
//! trainer (`demo-model/train.py`) to read with numpy alone: `images.npy`
//! (uint8, [count, size, size]) and `captions.jsonl` (one line per image:
//! seed, caption, the findings as the generator drew them, and the reader's
//! labels for them, whose questions `heads.json` lists).

use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// A `.npy` v1.0 header for a C-ordered uint8 array of `shape`.
pub fn npy_u8_header(shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut dict = format!("{{'descr': '|u1', 'fortran_order': False, 'shape': {shape}, }}");
    // Magic (6) + version (2) + length (2) + dict + newline, padded to 64.
    while (10 + dict.len() + 1) % 64 != 0 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// Writes phantoms `first_seed .. first_seed + count` at `size` into `out`,
/// on every core; `progress(done)` after each batch.
pub fn write(
    out: &Path,
    count: usize,
    size: usize,
    first_seed: u64,
    mut progress: impl FnMut(usize),
) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut images = std::io::BufWriter::new(std::fs::File::create(out.join("images.npy"))?);
    let mut captions = std::io::BufWriter::new(std::fs::File::create(out.join("captions.jsonl"))?);
    images.write_all(&npy_u8_header(&[count, size, size]))?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let batch = 64 * threads;
    let mut done = 0;
    while done < count {
        let n = batch.min(count - done);
        let chunk: Vec<(u64, roentgen_phantom::Phantom)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    s.spawn(move || {
                        (t..n)
                            .step_by(threads)
                            .map(|k| {
                                let seed = first_seed + (done + k) as u64;
                                (seed, roentgen_phantom::phantom(seed, size))
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            let mut all: Vec<_> = handles
                .into_iter()
                .flat_map(|h| h.join().expect("a phantom thread panicked"))
                .collect();
            all.sort_by_key(|(seed, _)| *seed);
            all
        });
        for (seed, ph) in chunk {
            images.write_all(&roentgen_phantom::to_u8(&ph.pixels))?;
            let line = serde_json::json!({
                "seed": seed,
                "caption": ph.caption,
                "findings": ph.study.findings,
                "labels": roentgen_phantom::labels::encode(&ph.study.findings),
            });
            writeln!(captions, "{line}")?;
        }
        done += n;
        progress(done);
    }
    images.flush()?;
    captions.flush()?;
    // The reader's questions, in the order of each line's "labels".
    let heads: Vec<_> = roentgen_phantom::labels::HEADS
        .iter()
        .map(|h| serde_json::json!({"name": h.name, "classes": h.classes}))
        .collect();
    std::fs::write(
        out.join("heads.json"),
        serde_json::to_string_pretty(&heads)?,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_headers_are_64_byte_aligned_and_name_the_shape() {
        let h = npy_u8_header(&[3, 128, 128]);
        assert_eq!(h.len() % 64, 0);
        let text = String::from_utf8_lossy(&h[10..]);
        assert!(text.contains("'shape': (3, 128, 128)"), "{text}");
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn a_set_holds_every_image_and_caption_in_seed_order() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), 5, 32, 100, |_| {}).unwrap();
        let bytes = std::fs::read(dir.path().join("images.npy")).unwrap();
        let header = npy_u8_header(&[5, 32, 32]).len();
        assert_eq!(bytes.len(), header + 5 * 32 * 32);
        let third = roentgen_phantom::to_u8(&roentgen_phantom::phantom(102, 32).pixels);
        assert_eq!(&bytes[header + 2 * 1024..header + 3 * 1024], &third[..]);
        let lines = std::fs::read_to_string(dir.path().join("captions.jsonl")).unwrap();
        let seeds: Vec<u64> = lines
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["seed"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(seeds, vec![100, 101, 102, 103, 104]);
    }
}
