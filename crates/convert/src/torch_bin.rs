//! PyTorch `.bin` checkpoints (`torch.save(state_dict)`: a zip holding a
//! pickle and one raw file per storage), read without executing anything.
//!
//! The pickle is interpreted by a small stack machine that knows only what a
//! plain tensor state dict needs: dicts/OrderedDicts, tuples, lists, strings,
//! numbers, and three callables — `collections.OrderedDict`,
//! `torch._utils._rebuild_tensor_v2` and `torch._utils._rebuild_parameter` —
//! plus the `torch.*Storage` type markers. Any other global (e.g. `os.system`)
//! or opcode is refused with an error naming it; nothing is ever called.

use std::collections::HashMap;
use std::io::{Read, Seek};
use std::path::Path;

use half::{bf16, f16};

use crate::error::{ConvertError, Result};
use crate::tensor_file::TensorMeta;

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

#[derive(Clone, Debug)]
enum Value {
    Mark,
    None,
    Bool,
    Int(i64),
    Float,
    Str(String),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    /// An allowed global, "module.name".
    Global(String),
    Storage {
        key: String,
        elem: Elem,
        /// Elements, as the persistent id declares them.
        numel: usize,
    },
    Tensor(TensorRef),
}

#[derive(Clone, Debug)]
struct TensorRef {
    key: String,
    elem: Elem,
    /// Elements of the whole storage the tensor views.
    storage_numel: usize,
    offset: usize,
    shape: Vec<usize>,
    stride: Vec<usize>,
}

const ALLOWED: &[&str] = &[
    "collections.OrderedDict",
    "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_parameter",
];

/// Containers nest at most this deep (a state dict needs 4): deeper values
/// would make dropping or printing them recurse off the stack.
const MAX_DEPTH: usize = 32;

fn depth(v: &Value) -> usize {
    match v {
        Value::Tuple(items) | Value::List(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Dict(pairs) => {
            1 + pairs
                .iter()
                .map(|(k, v)| depth(k).max(depth(v)))
                .max()
                .unwrap_or(0)
        }
        _ => 1,
    }
}

/// Refuses to put `items` into a container if that nests too deep.
fn nest<'v>(items: impl IntoIterator<Item = &'v Value>) -> Why<()> {
    if items.into_iter().map(depth).max().unwrap_or(0) >= MAX_DEPTH {
        return Err(format!(
            "the pickle nests containers more than {MAX_DEPTH} deep: refused"
        ));
    }
    Ok(())
}

/// Values in a tree (what copying it costs).
fn nodes(v: &Value) -> usize {
    match v {
        Value::Tuple(items) | Value::List(items) => 1 + items.iter().map(nodes).sum::<usize>(),
        Value::Dict(pairs) => {
            1 + pairs
                .iter()
                .map(|(k, v)| nodes(k) + nodes(v))
                .sum::<usize>()
        }
        _ => 1,
    }
}

fn usize_of(v: &Value) -> Why<usize> {
    match v {
        Value::Int(i) if *i >= 0 => Ok(*i as usize),
        other => Err(format!("expected a size, found {other:?}")),
    }
}

fn usizes(v: &Value) -> Why<Vec<usize>> {
    match v {
        Value::Tuple(items) | Value::List(items) => items.iter().map(usize_of).collect(),
        other => Err(format!("expected a tuple of sizes, found {other:?}")),
    }
}

/// Runs the allowed subset of pickle; returns the top value.
fn unpickle(data: &[u8]) -> Why<Value> {
    let mut stack: Vec<Value> = Vec::new();
    let mut memo: HashMap<u32, Value> = HashMap::new();
    let mut pos = 0usize;
    // Memo puts and gets copy values; a few bytes of GETs of a big value
    // could otherwise copy it without end. A real state dict copies a
    // handful of small values per tensor.
    let mut copy_budget = 4 * data.len() + 4096;
    let mut copy = |v: &Value| -> Why<Value> {
        copy_budget = copy_budget
            .checked_sub(nodes(v))
            .why("the pickle copies memoized values far more than a state dict does: refused")?;
        Ok(v.clone())
    };
    let take = |pos: &mut usize, n: usize| -> Why<&[u8]> {
        let s = data.get(*pos..*pos + n).why("the pickle ends early")?;
        *pos += n;
        Ok(s)
    };
    let pop = |stack: &mut Vec<Value>| stack.pop().why("pickle stack underflow");
    let pop_mark = |stack: &mut Vec<Value>| -> Why<Vec<Value>> {
        let m = stack
            .iter()
            .rposition(|v| matches!(v, Value::Mark))
            .why("pickle MARK missing")?;
        let items = stack.split_off(m + 1);
        stack.pop();
        Ok(items)
    };
    loop {
        let op = *take(&mut pos, 1)?.first().expect("one byte");
        match op {
            0x80 => {
                take(&mut pos, 1)?; // PROTO
            }
            0x95 => {
                take(&mut pos, 8)?; // FRAME
            }
            b'.' => return pop(&mut stack),
            b'(' => stack.push(Value::Mark),
            b'N' => stack.push(Value::None),
            0x88 => stack.push(Value::Bool),
            0x89 => stack.push(Value::Bool),
            b'K' => stack.push(Value::Int(take(&mut pos, 1)?[0] as i64)),
            b'M' => {
                let b = take(&mut pos, 2)?;
                stack.push(Value::Int(u16::from_le_bytes([b[0], b[1]]) as i64));
            }
            b'J' => {
                let b = take(&mut pos, 4)?;
                stack.push(Value::Int(
                    i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64
                ));
            }
            0x8a => {
                let n = take(&mut pos, 1)?[0] as usize;
                let b = take(&mut pos, n)?;
                if n > 8 {
                    return Err(format!("pickle LONG1 of {n} bytes"));
                }
                let mut v = [0u8; 8];
                v[..n].copy_from_slice(b);
                if n > 0 && b[n - 1] & 0x80 != 0 {
                    v[n..].fill(0xff);
                }
                stack.push(Value::Int(i64::from_le_bytes(v)));
            }
            b'G' => {
                take(&mut pos, 8)?;
                stack.push(Value::Float);
            }
            b'X' | 0x8c => {
                let n = if op == b'X' {
                    let b = take(&mut pos, 4)?;
                    u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
                } else {
                    take(&mut pos, 1)?[0] as usize
                };
                let s =
                    std::str::from_utf8(take(&mut pos, n)?).why("pickle string is not UTF-8")?;
                stack.push(Value::Str(s.to_string()));
            }
            b'c' => {
                let mut line = || -> Why<String> {
                    let end = data[pos..]
                        .iter()
                        .position(|&c| c == b'\n')
                        .why("GLOBAL without newline")?;
                    let s = String::from_utf8_lossy(&data[pos..pos + end]).to_string();
                    pos += end + 1;
                    Ok(s)
                };
                let (module, name) = (line()?, line()?);
                let full = format!("{module}.{name}");
                let storage = module == "torch" && Elem::from_storage(&name).is_some();
                if !storage && !ALLOWED.contains(&full.as_str()) {
                    return Err(format!(
                        "the pickle names {full}: refused (only a plain tensor state dict is read; \
                         nothing in the file is executed)"
                    ));
                }
                stack.push(Value::Global(full));
            }
            b'q' => {
                let k = take(&mut pos, 1)?[0] as u32;
                memo.insert(k, copy(stack.last().why("BINPUT on empty stack")?)?);
            }
            b'r' => {
                let b = take(&mut pos, 4)?;
                let k = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                memo.insert(k, copy(stack.last().why("LONG_BINPUT on empty stack")?)?);
            }
            0x94 => {
                let k = memo.len() as u32;
                memo.insert(k, copy(stack.last().why("MEMOIZE on empty stack")?)?);
            }
            b'h' => {
                let k = take(&mut pos, 1)?[0] as u32;
                stack.push(copy(memo.get(&k).why("BINGET of an unknown memo")?)?);
            }
            b'j' => {
                let b = take(&mut pos, 4)?;
                let k = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                stack.push(copy(memo.get(&k).why("LONG_BINGET of an unknown memo")?)?);
            }
            b')' => stack.push(Value::Tuple(Vec::new())),
            b't' => {
                let items = pop_mark(&mut stack)?;
                nest(&items)?;
                stack.push(Value::Tuple(items));
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                if stack.len() < n {
                    return Err("pickle stack underflow".to_string());
                }
                let items = stack.split_off(stack.len() - n);
                nest(&items)?;
                stack.push(Value::Tuple(items));
            }
            b'}' => stack.push(Value::Dict(Vec::new())),
            b']' => stack.push(Value::List(Vec::new())),
            b's' | b'u' => {
                let items = if op == b's' {
                    let v = pop(&mut stack)?;
                    let k = pop(&mut stack)?;
                    vec![k, v]
                } else {
                    pop_mark(&mut stack)?
                };
                nest(&items)?;
                match stack.last_mut() {
                    Some(Value::Dict(d)) => {
                        for pair in items.chunks(2) {
                            if let [k, v] = pair {
                                d.push((k.clone(), v.clone()));
                            }
                        }
                    }
                    _ => return Err("pickle SETITEM on something not a dict".to_string()),
                }
            }
            b'a' | b'e' => {
                let items = if op == b'a' {
                    vec![pop(&mut stack)?]
                } else {
                    pop_mark(&mut stack)?
                };
                nest(&items)?;
                match stack.last_mut() {
                    Some(Value::List(l)) => l.extend(items),
                    _ => return Err("pickle APPEND on something not a list".to_string()),
                }
            }
            b'b' => {
                // BUILD: state for the object below (OrderedDict's `_metadata`): ignored.
                pop(&mut stack)?;
            }
            b'Q' => {
                let pid = pop(&mut stack)?;
                let Value::Tuple(t) = pid else {
                    return Err(format!("unexpected persistent id {pid:?}"));
                };
                match t.as_slice() {
                    [
                        Value::Str(kind),
                        Value::Global(g),
                        Value::Str(key),
                        _,
                        numel,
                    ] if kind == "storage" => {
                        let name = g.rsplit('.').next().unwrap_or("");
                        let elem =
                            Elem::from_storage(name).why_with(|| format!("storage type {g}"))?;
                        stack.push(Value::Storage {
                            key: key.clone(),
                            elem,
                            numel: usize_of(numel)?,
                        });
                    }
                    other => return Err(format!("unexpected persistent id {other:?}")),
                }
            }
            b'R' => {
                let args = pop(&mut stack)?;
                let callable = pop(&mut stack)?;
                let Value::Tuple(args) = args else {
                    return Err("REDUCE without an argument tuple".to_string());
                };
                let v = match callable {
                    Value::Global(g) if g == "collections.OrderedDict" => Value::Dict(Vec::new()),
                    Value::Global(g) if g == "torch._utils._rebuild_tensor_v2" => {
                        let [
                            Value::Storage { key, elem, numel },
                            offset,
                            shape,
                            stride,
                            ..,
                        ] = args.as_slice()
                        else {
                            return Err("_rebuild_tensor_v2 with unexpected arguments".to_string());
                        };
                        Value::Tensor(TensorRef {
                            key: key.clone(),
                            elem: *elem,
                            storage_numel: *numel,
                            offset: usize_of(offset)?,
                            shape: usizes(shape)?,
                            stride: usizes(stride)?,
                        })
                    }
                    Value::Global(g) if g == "torch._utils._rebuild_parameter" => args
                        .into_iter()
                        .next()
                        .why("_rebuild_parameter without a tensor")?,
                    other => return Err(format!("REDUCE of {other:?} refused")),
                };
                stack.push(v);
            }
            other => {
                return Err(format!(
                    "pickle opcode 0x{other:02x} is not part of a plain state dict: refused"
                ));
            }
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
