//! PyTorch `.bin` checkpoints (`torch.save(state_dict)`: a zip holding a
//! pickle and one raw file per storage), read without executing anything.
//!
//! The pickle is interpreted by a small stack machine that knows only what a
//! plain tensor state dict needs: dicts/OrderedDicts, tuples, lists, strings,
//! numbers, and three callables — `collections.OrderedDict`,
//! `torch._utils._rebuild_tensor_v2` and `torch._utils._rebuild_parameter` —
//! plus the `torch.*Storage` type markers. Any other global (e.g. `os.system`)
//! or opcode is refused with an error naming it; nothing is ever called.

mod pickle;

use std::io::{Read, Seek};
use std::path::Path;

use half::{bf16, f16};

use crate::error::{ConvertError, Result};
use crate::tensor_file::TensorMeta;
use pickle::{TensorRef, Value, unpickle};

/// A state dict's pickle is names and shapes: a few MB at most.
const MAX_PICKLE: u64 = 256 << 20;

/// Inside the reader a failure is its reason; the public functions tie it
/// to the file (`ConvertError::Malformed`).
type Why<T> = std::result::Result<T, String>;

trait OrWhy<T> {
    fn why(self, what: &str) -> Why<T>;
    fn why_with(self, what: impl FnOnce() -> String) -> Why<T>;
}

impl<T> OrWhy<T> for Option<T> {
    fn why(self, what: &str) -> Why<T> {
        self.ok_or_else(|| what.to_string())
    }
    fn why_with(self, what: impl FnOnce() -> String) -> Why<T> {
        self.ok_or_else(what)
    }
}

impl<T, E: std::fmt::Display> OrWhy<T> for std::result::Result<T, E> {
    fn why(self, what: &str) -> Why<T> {
        self.map_err(|e| format!("{what}: {e}"))
    }
    fn why_with(self, what: impl FnOnce() -> String) -> Why<T> {
        self.map_err(|e| format!("{}: {e}", what()))
    }
}

/// Element types a storage may hold.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Elem {
    F32,
    F16,
    BF16,
    F64,
    I64,
    I32,
    U8,
    Bool,
}

impl Elem {
    fn from_storage(name: &str) -> Option<Self> {
        Some(match name {
            "FloatStorage" => Elem::F32,
            "HalfStorage" => Elem::F16,
            "BFloat16Storage" => Elem::BF16,
            "DoubleStorage" => Elem::F64,
            "LongStorage" => Elem::I64,
            "IntStorage" => Elem::I32,
            "ByteStorage" => Elem::U8,
            "BoolStorage" => Elem::Bool,
            _ => return None,
        })
    }
    fn size(self) -> usize {
        match self {
            Elem::F32 | Elem::I32 => 4,
            Elem::F16 | Elem::BF16 => 2,
            Elem::F64 | Elem::I64 => 8,
            Elem::U8 | Elem::Bool => 1,
        }
    }
    fn is_float(self) -> bool {
        matches!(self, Elem::F32 | Elem::F16 | Elem::BF16 | Elem::F64)
    }
    fn read(self, b: &[u8]) -> f32 {
        match self {
            Elem::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            Elem::F16 => f16::from_le_bytes([b[0], b[1]]).to_f32(),
            Elem::BF16 => bf16::from_le_bytes([b[0], b[1]]).to_f32(),
            Elem::F64 => f64::from_le_bytes(b[..8].try_into().expect("8 bytes")) as f32,
            _ => 0.0,
        }
    }
}

/// One tensor of a checkpoint: its values widened to f32, or `None` for
/// integer/bool tensors (buffers such as `position_ids`).
#[derive(Clone, Debug)]
pub struct BinTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Option<Vec<f32>>,
}

/// Reads every tensor of a `torch.save` zip checkpoint, sorted by name.
pub fn read(path: &Path) -> Result<Vec<BinTensor>> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(ConvertError::at(path))?;
    read_from(std::io::BufReader::new(file), &name)
}

/// Where a tensor's last element lies in its storage, or None when the
/// arithmetic overflows (so no honest checkpoint has it).
fn last_index(t: &TensorRef) -> Option<usize> {
    t.shape
        .iter()
        .zip(&t.stride)
        .try_fold(t.offset, |at, (&n, &s)| {
            at.checked_add((n - 1).checked_mul(s)?)
        })
}

/// The same, from any seekable bytes (a file, or a buffer in memory) that
/// messages call `file`.
pub fn read_from(reader: impl Read + Seek, file: &str) -> Result<Vec<BinTensor>> {
    crate::tensor_file::TensorFile::Torch(Checkpoint::open(reader, file)?).read_all()
}

/// A checkpoint opened by reading its pickle only; each tensor's storage is
/// read when the tensor is (the last storage is kept, for tensors that
/// share one).
pub struct Checkpoint<R: Read + Seek> {
    zip: zip::ZipArchive<R>,
    /// The file as messages name it.
    file: String,
    prefix: String,
    /// Sorted by name; `refs[i]` is None for a non-float tensor.
    metas: Vec<TensorMeta>,
    refs: Vec<Option<TensorRef>>,
    storage: Option<(String, Vec<u8>)>,
}

/// Checked before anything is allocated: the tensor lies inside its storage
/// and has no more elements than the storage (an expanded view is not
/// something a state dict holds). Returns its element count.
fn check(name: &str, t: &TensorRef) -> Why<usize> {
    if t.stride.len() != t.shape.len() {
        return Err(format!(
            "{name}: {} strides for {} dimensions",
            t.stride.len(),
            t.shape.len()
        ));
    }
    let n = t
        .shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|&n| n <= t.storage_numel)
        .why_with(|| {
            format!(
                "{name}: shape {:?} has more elements than its storage ({})",
                t.shape, t.storage_numel
            )
        })?;
    if n > 0 && last_index(t).is_none_or(|last| last >= t.storage_numel) {
        return Err(format!(
            "{name}: shape {:?} strides {:?} offset {} reach past its storage of {} elements",
            t.shape, t.stride, t.offset, t.storage_numel
        ));
    }
    Ok(n)
}

impl<R: Read + Seek> Checkpoint<R> {
    /// Reads the pickle of `file` (its name for messages) and checks every
    /// tensor against its storage; reads no storage.
    pub fn open(reader: R, file: &str) -> Result<Self> {
        Self::open_why(reader, file).map_err(|what| ConvertError::malformed(file, what))
    }

    fn open_why(reader: R, file: &str) -> Why<Self> {
        let mut zip = zip::ZipArchive::new(reader)
            .why("not a zip checkpoint (only torch.save's zip format since PyTorch 1.6 is read)")?;
        let pkl_name = zip
            .file_names()
            .find(|n| n.ends_with("/data.pkl") || *n == "data.pkl")
            .map(str::to_string)
            .why("no data.pkl inside")?;
        let prefix = pkl_name.strip_suffix("data.pkl").unwrap_or("").to_string();
        let pkl = read_entry(&mut zip, &pkl_name, None)?;
        let top = unpickle(&pkl).map_err(|e| format!("{pkl_name}: {e}"))?;
        let Value::Dict(items) = top else {
            return Err("the pickle is not a state dict".to_string());
        };
        let mut all = Vec::new();
        for (k, v) in items {
            let (Value::Str(name), Value::Tensor(t)) = (k, v) else {
                continue;
            };
            let float = t.elem.is_float();
            let n = if float { check(&name, &t)? } else { 0 };
            let meta = TensorMeta {
                name,
                shape: t.shape.clone(),
                float,
                bytes: (n * t.elem.size()) as u64,
            };
            all.push((meta, float.then_some(t)));
        }
        all.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        let (metas, refs) = all.into_iter().unzip();
        Ok(Self {
            zip,
            file: file.to_string(),
            prefix,
            metas,
            refs,
            storage: None,
        })
    }

    /// The tensors, sorted by name.
    pub fn tensors(&self) -> &[TensorMeta] {
        &self.metas
    }

    /// The values of tensor `i` widened to f32; None if not a float tensor.
    pub fn read(&mut self, i: usize) -> Result<Option<Vec<f32>>> {
        self.read_why(i)
            .map_err(|what| ConvertError::malformed(&self.file, what))
    }

    fn read_why(&mut self, i: usize) -> Why<Option<Vec<f32>>> {
        let Some(t) = &self.refs[i] else {
            return Ok(None);
        };
        let name = &self.metas[i].name;
        let size = t.elem.size();
        if self.storage.as_ref().is_none_or(|(k, _)| *k != t.key) {
            self.storage = None;
            let entry = format!("{}data/{}", self.prefix, t.key);
            let bytes = t
                .storage_numel
                .checked_mul(size)
                .why_with(|| format!("storage {} is too large", t.key))?;
            let data = read_entry(&mut self.zip, &entry, Some(bytes))?;
            self.storage = Some((t.key.clone(), data));
        }
        let bytes = &self.storage.as_ref().expect("just read").1;
        let n = self.metas[i].bytes as usize / size;
        let mut values = Vec::with_capacity(n);
        let mut index = vec![0usize; t.shape.len()];
        for _ in 0..n {
            let at = t.offset
                + index
                    .iter()
                    .zip(&t.stride)
                    .map(|(i, s)| i * s)
                    .sum::<usize>();
            let b = bytes
                .get(at * size..(at + 1) * size)
                .why_with(|| format!("{name}: reads past its storage"))?;
            values.push(t.elem.read(b));
            for d in (0..index.len()).rev() {
                index[d] += 1;
                if index[d] < t.shape[d] {
                    break;
                }
                index[d] = 0;
            }
        }
        Ok(Some(values))
    }
}

/// One zip entry's bytes: stored uncompressed, as torch.save writes them (so
/// no entry can inflate beyond the file), and exactly `expected` bytes when
/// the pickle says how many.
fn read_entry(
    zip: &mut zip::ZipArchive<impl Read + Seek>,
    name: &str,
    expected: Option<usize>,
) -> Why<Vec<u8>> {
    let mut entry = zip
        .by_name(name)
        .why_with(|| format!("{name} missing from the checkpoint"))?;
    if entry.compression() != zip::CompressionMethod::Stored {
        return Err(format!(
            "{name} is compressed ({:?}); torch.save stores entries uncompressed",
            entry.compression()
        ));
    }
    if let Some(n) = expected
        && entry.size() != n as u64
    {
        return Err(format!(
            "{name}: {} bytes, the pickle says {n}",
            entry.size()
        ));
    }
    let mut bytes = Vec::new();
    match expected {
        // One read of the known size: in the page each read is a slice of
        // the dropped file, so a storage comes in one piece.
        Some(n) => {
            bytes.resize(n, 0);
            entry
                .read_exact(&mut bytes)
                .why_with(|| format!("{name} ends early"))?;
        }
        None => {
            entry
                .take(MAX_PICKLE)
                .read_to_end(&mut bytes)
                .why_with(|| format!("reading {name}"))?;
        }
    }
    Ok(bytes)
}
