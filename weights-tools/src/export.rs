//! `weights-tools export`: a converted folder written back as a diffusers
//! folder (the layout RoentGen's authors distribute), e.g. to hand a model
//! to diffusers, or to make the converter's own inputs from a known model
//! (the browser test converts tiny-sd2 exported this way and must get
//! tiny-sd2 back, bit for bit).

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use anyhow::Context;
use roentgen_convert::diffusers_layout::{LayoutOptions, write};
use roentgen_weights::TensorDType;
use roentgen_weights::manifest::Extent;

fn read_extent(dir: &Path, file: &str, e: &Extent) -> anyhow::Result<Vec<u8>> {
    let path = dir.join(file);
    let mut f =
        std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
    f.seek(SeekFrom::Start(e.offset))?;
    let mut b = vec![0u8; e.length as usize];
    f.read_exact(&mut b)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(b)
}

/// Writes the converted folder `from` as a diffusers folder `out`.
pub fn export(from: &Path, out: &Path, options: LayoutOptions) -> anyhow::Result<usize> {
    let m = roentgen_weights::folder::verify_dir(from, |_, _, _| {})
        .with_context(|| format!("{} does not verify", from.display()))?;
    let tokenizer = std::fs::read_to_string(from.join(&m.tokenizer))
        .with_context(|| format!("reading {}", m.tokenizer))?;
    let table: Vec<(String, Vec<usize>)> = m
        .tensors
        .iter()
        .map(|t| (t.name.clone(), t.shape.clone()))
        .collect();
    let values = |i: usize| -> Vec<f32> {
        let t = &m.tensors[i];
        let data = read_extent(from, &m.shards[t.data.shard].file, &t.data)
            .expect("a verified shard reads");
        match t.dtype {
            TensorDType::F32 => data
                .chunks(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            TensorDType::F16 => data
                .chunks(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            TensorDType::Q8 => {
                let s = t.scale.as_ref().expect("q8 has scales");
                let scales =
                    read_extent(from, &m.shards[s.shard].file, s).expect("a verified shard reads");
                roentgen_weights::q8::dequantize(&data, &scales, t.shape[0])
            }
        }
    };
    write(out, &table, &values, &m.configs, &tokenizer, options)?;
    Ok(table.len())
}
