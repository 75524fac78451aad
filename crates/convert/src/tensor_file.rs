//! One weight file (`.safetensors` or PyTorch `.bin`), opened by reading its
//! table only; each tensor's bytes are read when asked for, so a file of
//! any size converts with one tensor in memory.

use std::io::{Read, Seek, SeekFrom};

use half::{bf16, f16};
use safetensors::Dtype;
use safetensors::tensor::Metadata;

use crate::error::{ConvertError, Result};
use crate::torch_bin::{BinTensor, Checkpoint};

/// What the table says of one tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorMeta {
    pub name: String,
    pub shape: Vec<usize>,
    /// Float tensors are converted; others (`position_ids`) are skipped.
    pub float: bool,
    /// Bytes its values take in the file.
    pub bytes: u64,
}

/// safetensors' own cap on a header (100 MB).
const MAX_HEADER: u64 = 100_000_000;

/// A `.safetensors` file: header parsed and checked against the file's size.
pub struct SafetensorsFile<R> {
    reader: R,
    /// The file as messages name it.
    file: String,
    data_start: u64,
    metadata: Metadata,
    tensors: Vec<TensorMeta>,
}

fn is_float(d: Dtype) -> bool {
    matches!(d, Dtype::F32 | Dtype::F16 | Dtype::BF16 | Dtype::F64)
}

impl<R: Read + Seek> SafetensorsFile<R> {
    /// Reads and checks the header of `file` (its name for messages).
    pub fn open(mut reader: R, file: &str, file_size: u64) -> Result<Self> {
        let bad =
            |what: String| ConvertError::malformed(file, format!("not a safetensors file: {what}"));
        let mut n = [0u8; 8];
        reader
            .read_exact(&mut n)
            .map_err(|_| bad("shorter than its 8-byte header length".into()))?;
        let n = u64::from_le_bytes(n);
        if n > MAX_HEADER || n.saturating_add(8) > file_size {
            return Err(bad(format!("a {n}-byte header in a {file_size}-byte file")));
        }
        let mut header = vec![0u8; n as usize];
        reader
            .read_exact(&mut header)
            .map_err(|_| bad("the header ends early".into()))?;
        let metadata: Metadata =
            serde_json::from_slice(&header).map_err(|e| bad(format!("header: {e}")))?;
        let data_start = 8 + n;
        if data_start + metadata.data_len() as u64 != file_size {
            return Err(bad(format!(
                "the header describes {} bytes of data, the file holds {}",
                metadata.data_len(),
                file_size - data_start
            )));
        }
        let mut tensors: Vec<TensorMeta> = metadata
            .tensors()
            .into_iter()
            .map(|(name, info)| TensorMeta {
                float: is_float(info.dtype),
                shape: info.shape.clone(),
                bytes: (info.data_offsets.1 - info.data_offsets.0) as u64,
                name,
            })
            .collect();
        tensors.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Self {
            reader,
            file: file.to_string(),
            data_start,
            metadata,
            tensors,
        })
    }

    /// The values of tensor `i` (of `tensors`) widened to f32; None if it is
    /// not a float tensor.
    pub fn read(&mut self, i: usize) -> Result<Option<Vec<f32>>> {
        let name = &self.tensors[i].name;
        let info = self.metadata.info(name).expect("named in the header");
        if !is_float(info.dtype) {
            return Ok(None);
        }
        let (start, end) = info.data_offsets;
        let mut bytes = vec![0u8; end - start];
        self.reader
            .seek(SeekFrom::Start(self.data_start + start as u64))
            .and_then(|_| self.reader.read_exact(&mut bytes))
            .map_err(|e| ConvertError::io(&self.file, format!("reading {name}: {e}")))?;
        Ok(to_f32(info.dtype, &bytes))
    }
}

/// Little-endian values of a float dtype, widened to f32.
pub fn to_f32(dtype: Dtype, data: &[u8]) -> Option<Vec<f32>> {
    Some(match dtype {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::F16 => data
            .chunks_exact(2)
            .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        Dtype::BF16 => data
            .chunks_exact(2)
            .map(|b| bf16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
            .collect(),
        _ => return None,
    })
}

/// Either kind of weight file.
pub enum TensorFile<R: Read + Seek> {
    Safetensors(SafetensorsFile<R>),
    Torch(Checkpoint<R>),
}

impl<R: Read + Seek> TensorFile<R> {
    /// Opens by the file name's extension: `.bin` is a PyTorch checkpoint,
    /// anything else safetensors. `file` is also what messages call it.
    pub fn open(reader: R, file: &str, size: u64) -> Result<Self> {
        Ok(if file.ends_with(".bin") {
            Self::Torch(Checkpoint::open(reader, file)?)
        } else {
            Self::Safetensors(SafetensorsFile::open(reader, file, size)?)
        })
    }

    /// The tensors, sorted by name.
    pub fn tensors(&self) -> &[TensorMeta] {
        match self {
            Self::Safetensors(f) => &f.tensors,
            Self::Torch(c) => c.tensors(),
        }
    }

    pub fn read(&mut self, i: usize) -> Result<Option<Vec<f32>>> {
        match self {
            Self::Safetensors(f) => f.read(i),
            Self::Torch(c) => c.read(i),
        }
    }

    /// Every tensor, read one after another.
    pub fn read_all(mut self) -> Result<Vec<BinTensor>> {
        (0..self.tensors().len())
            .map(|i| {
                let values = self.read(i)?;
                let t = &self.tensors()[i];
                Ok(BinTensor {
                    name: t.name.clone(),
                    shape: t.shape.clone(),
                    values,
                })
            })
            .collect()
    }
}

/// Every tensor of a `.safetensors` file's bytes (`file` names them in
/// messages), sorted by name.
pub fn read_safetensors(bytes: &[u8], file: &str) -> Result<Vec<BinTensor>> {
    TensorFile::Safetensors(SafetensorsFile::open(
        std::io::Cursor::new(bytes),
        file,
        bytes.len() as u64,
    )?)
    .read_all()
}
