//! The pickle stack machine of a `torch.save` checkpoint, over an opcode
//! enum with one method per opcode (as candle's `pickle.rs` reads them).
//! It knows only what a plain tensor state dict needs; every other opcode
//! and every global outside `ALLOWED` is refused by name, and nothing is
//! ever called. Its limits (nesting depth, how much memo copying) keep a
//! hostile file from exhausting the stack or memory.

use std::collections::HashMap;

use super::{Elem, OrWhy, Why};

#[derive(Clone, Debug)]
pub(super) enum Value {
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
pub(super) struct TensorRef {
    pub(super) key: String,
    pub(super) elem: Elem,
    /// Elements of the whole storage the tensor views.
    pub(super) storage_numel: usize,
    pub(super) offset: usize,
    pub(super) shape: Vec<usize>,
    pub(super) stride: Vec<usize>,
}

const ALLOWED: &[&str] = &[
    "collections.OrderedDict",
    "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_parameter",
];

/// Containers nest at most this deep (a state dict needs 4): deeper values
/// would make dropping or printing them recurse off the stack.
const MAX_DEPTH: usize = 32;

/// The opcodes a state dict's pickle (protocol 2 to 4) uses; the byte of
/// each is pickle's own.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Proto,
    Frame,
    Stop,
    Mark,
    None,
    NewTrue,
    NewFalse,
    BinInt1,
    BinInt2,
    BinInt,
    Long1,
    BinFloat,
    BinUnicode,
    ShortBinUnicode,
    Global,
    BinPut,
    LongBinPut,
    Memoize,
    BinGet,
    LongBinGet,
    EmptyTuple,
    Tuple,
    /// TUPLE1, TUPLE2, TUPLE3: that many items off the stack.
    TupleN(usize),
    EmptyDict,
    EmptyList,
    SetItem,
    SetItems,
    Append,
    Appends,
    Build,
    BinPersId,
    Reduce,
}

impl Op {
    fn of(byte: u8) -> Option<Op> {
        Some(match byte {
            0x80 => Op::Proto,
            0x95 => Op::Frame,
            b'.' => Op::Stop,
            b'(' => Op::Mark,
            b'N' => Op::None,
            0x88 => Op::NewTrue,
            0x89 => Op::NewFalse,
            b'K' => Op::BinInt1,
            b'M' => Op::BinInt2,
            b'J' => Op::BinInt,
            0x8a => Op::Long1,
            b'G' => Op::BinFloat,
            b'X' => Op::BinUnicode,
            0x8c => Op::ShortBinUnicode,
            b'c' => Op::Global,
            b'q' => Op::BinPut,
            b'r' => Op::LongBinPut,
            0x94 => Op::Memoize,
            b'h' => Op::BinGet,
            b'j' => Op::LongBinGet,
            b')' => Op::EmptyTuple,
            b't' => Op::Tuple,
            0x85..=0x87 => Op::TupleN((byte - 0x84) as usize),
            b'}' => Op::EmptyDict,
            b']' => Op::EmptyList,
            b's' => Op::SetItem,
            b'u' => Op::SetItems,
            b'a' => Op::Append,
            b'e' => Op::Appends,
            b'b' => Op::Build,
            b'Q' => Op::BinPersId,
            b'R' => Op::Reduce,
            _ => return None,
        })
    }
}

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

/// Takes the cost of copying `v` from `budget`, or refuses.
fn charge(budget: &mut usize, v: &Value) -> Why<()> {
    *budget = budget
        .checked_sub(nodes(v))
        .why("the pickle copies memoized values far more than a state dict does: refused")?;
    Ok(())
}

/// Runs the allowed subset of pickle; returns the top value.
pub(super) fn unpickle(data: &[u8]) -> Why<Value> {
    let mut m = Machine {
        data,
        pos: 0,
        stack: Vec::new(),
        memo: HashMap::new(),
        // Memo puts and gets copy values; a few bytes of GETs of a big
        // value could otherwise copy it without end. A real state dict
        // copies a handful of small values per tensor.
        copy_budget: 4 * data.len() + 4096,
    };
    loop {
        let byte = m.take(1)?[0];
        let op = Op::of(byte).why_with(|| {
            format!("pickle opcode 0x{byte:02x} is not part of a plain state dict: refused")
        })?;
        if let Some(top) = m.step(op)? {
            return Ok(top);
        }
    }
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    memo: HashMap<u32, Value>,
    copy_budget: usize,
}

impl<'a> Machine<'a> {
    /// Runs one opcode; `Some` is the pickle's value, at STOP.
    fn step(&mut self, op: Op) -> Why<Option<Value>> {
        match op {
            Op::Proto => drop(self.take(1)?),
            Op::Frame => drop(self.take(8)?),
            Op::Stop => return self.pop().map(Some),
            Op::Mark => self.stack.push(Value::Mark),
            Op::None => self.stack.push(Value::None),
            Op::NewTrue | Op::NewFalse => self.stack.push(Value::Bool),
            Op::BinInt1 => self.int(1)?,
            Op::BinInt2 => self.int(2)?,
            Op::BinInt => self.int(4)?,
            Op::Long1 => self.long1()?,
            Op::BinFloat => {
                self.take(8)?;
                self.stack.push(Value::Float);
            }
            Op::BinUnicode => {
                let n = self.u32()? as usize;
                self.string(n)?;
            }
            Op::ShortBinUnicode => {
                let n = self.take(1)?[0] as usize;
                self.string(n)?;
            }
            Op::Global => self.global()?,
            Op::BinPut => {
                let k = self.take(1)?[0] as u32;
                self.put(k, "BINPUT")?;
            }
            Op::LongBinPut => {
                let k = self.u32()?;
                self.put(k, "LONG_BINPUT")?;
            }
            Op::Memoize => self.put(self.memo.len() as u32, "MEMOIZE")?,
            Op::BinGet => {
                let k = self.take(1)?[0] as u32;
                self.get(k, "BINGET")?;
            }
            Op::LongBinGet => {
                let k = self.u32()?;
                self.get(k, "LONG_BINGET")?;
            }
            Op::EmptyTuple => self.stack.push(Value::Tuple(Vec::new())),
            Op::Tuple => {
                let items = self.pop_mark()?;
                self.push_tuple(items)?;
            }
            Op::TupleN(n) => {
                let at = self
                    .stack
                    .len()
                    .checked_sub(n)
                    .why("pickle stack underflow")?;
                let items = self.stack.split_off(at);
                self.push_tuple(items)?;
            }
            Op::EmptyDict => self.stack.push(Value::Dict(Vec::new())),
            Op::EmptyList => self.stack.push(Value::List(Vec::new())),
            Op::SetItem => {
                let v = self.pop()?;
                let k = self.pop()?;
                self.set_items(vec![k, v])?;
            }
            Op::SetItems => {
                let items = self.pop_mark()?;
                self.set_items(items)?;
            }
            Op::Append => {
                let item = self.pop()?;
                self.append(vec![item])?;
            }
            Op::Appends => {
                let items = self.pop_mark()?;
                self.append(items)?;
            }
            // BUILD: state for the object below (OrderedDict's `_metadata`): ignored.
            Op::Build => drop(self.pop()?),
            Op::BinPersId => self.persistent_id()?,
            Op::Reduce => self.reduce()?,
        }
        Ok(None)
    }

    fn take(&mut self, n: usize) -> Why<&'a [u8]> {
        let s = self
            .data
            .get(self.pos..self.pos + n)
            .why("the pickle ends early")?;
        self.pos += n;
        Ok(s)
    }

    fn u32(&mut self) -> Why<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn pop(&mut self) -> Why<Value> {
        self.stack.pop().why("pickle stack underflow")
    }

    /// The items above the topmost MARK, which goes too.
    fn pop_mark(&mut self) -> Why<Vec<Value>> {
        let m = self
            .stack
            .iter()
            .rposition(|v| matches!(v, Value::Mark))
            .why("pickle MARK missing")?;
        let items = self.stack.split_off(m + 1);
        self.stack.pop();
        Ok(items)
    }

    /// BININT1, BININT2 (unsigned) and BININT (signed), `n` bytes.
    fn int(&mut self, n: usize) -> Why<()> {
        let b = self.take(n)?;
        let v = match n {
            1 => b[0] as i64,
            2 => u16::from_le_bytes([b[0], b[1]]) as i64,
            _ => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64,
        };
        self.stack.push(Value::Int(v));
        Ok(())
    }

    /// LONG1: a little-endian two's-complement integer of up to 8 bytes.
    fn long1(&mut self) -> Why<()> {
        let n = self.take(1)?[0] as usize;
        let b = self.take(n)?;
        if n > 8 {
            return Err(format!("pickle LONG1 of {n} bytes"));
        }
        let mut v = [0u8; 8];
        v[..n].copy_from_slice(b);
        if n > 0 && b[n - 1] & 0x80 != 0 {
            v[n..].fill(0xff);
        }
        self.stack.push(Value::Int(i64::from_le_bytes(v)));
        Ok(())
    }

    fn string(&mut self, n: usize) -> Why<()> {
        let s = std::str::from_utf8(self.take(n)?).why("pickle string is not UTF-8")?;
        self.stack.push(Value::Str(s.to_string()));
        Ok(())
    }

    /// A newline-ended line of GLOBAL's operand.
    fn line(&mut self) -> Why<String> {
        let rest = &self.data[self.pos..];
        let end = rest
            .iter()
            .position(|&c| c == b'\n')
            .why("GLOBAL without newline")?;
        let s = String::from_utf8_lossy(&rest[..end]).to_string();
        self.pos += end + 1;
        Ok(s)
    }

    /// GLOBAL: only the allowed callables and torch's storage types.
    fn global(&mut self) -> Why<()> {
        let (module, name) = (self.line()?, self.line()?);
        let full = format!("{module}.{name}");
        let storage = module == "torch" && Elem::from_storage(&name).is_some();
        if !storage && !ALLOWED.contains(&full.as_str()) {
            return Err(format!(
                "the pickle names {full}: refused (only a plain tensor state dict is read; \
                 nothing in the file is executed)"
            ));
        }
        self.stack.push(Value::Global(full));
        Ok(())
    }

    /// Memo puts and gets copy the value, each charged to the budget.
    fn put(&mut self, k: u32, op: &str) -> Why<()> {
        let top = self
            .stack
            .last()
            .why_with(|| format!("{op} on empty stack"))?;
        charge(&mut self.copy_budget, top)?;
        self.memo.insert(k, top.clone());
        Ok(())
    }

    fn get(&mut self, k: u32, op: &str) -> Why<()> {
        let v = self
            .memo
            .get(&k)
            .why_with(|| format!("{op} of an unknown memo"))?;
        charge(&mut self.copy_budget, v)?;
        self.stack.push(v.clone());
        Ok(())
    }

    fn push_tuple(&mut self, items: Vec<Value>) -> Why<()> {
        nest(&items)?;
        self.stack.push(Value::Tuple(items));
        Ok(())
    }

    /// SETITEM, SETITEMS: key-value pairs into the dict below.
    fn set_items(&mut self, items: Vec<Value>) -> Why<()> {
        nest(&items)?;
        let Some(Value::Dict(d)) = self.stack.last_mut() else {
            return Err("pickle SETITEM on something not a dict".to_string());
        };
        let mut items = items.into_iter();
        while let (Some(k), Some(v)) = (items.next(), items.next()) {
            d.push((k, v));
        }
        Ok(())
    }

    /// APPEND, APPENDS: items onto the list below.
    fn append(&mut self, items: Vec<Value>) -> Why<()> {
        nest(&items)?;
        let Some(Value::List(l)) = self.stack.last_mut() else {
            return Err("pickle APPEND on something not a list".to_string());
        };
        l.extend(items);
        Ok(())
    }

    /// BINPERSID: ("storage", type, key, location, numel) names a storage
    /// file of the zip.
    fn persistent_id(&mut self) -> Why<()> {
        let pid = self.pop()?;
        let Value::Tuple(t) = pid else {
            return Err(format!("unexpected persistent id {pid:?}"));
        };
        let [
            Value::Str(kind),
            Value::Global(g),
            Value::Str(key),
            _,
            numel,
        ] = t.as_slice()
        else {
            return Err(format!("unexpected persistent id {t:?}"));
        };
        if kind != "storage" {
            return Err(format!("unexpected persistent id {t:?}"));
        }
        let name = g.rsplit('.').next().unwrap_or("");
        let elem = Elem::from_storage(name).why_with(|| format!("storage type {g}"))?;
        self.stack.push(Value::Storage {
            key: key.clone(),
            elem,
            numel: usize_of(numel)?,
        });
        Ok(())
    }

    /// REDUCE: one of the three allowed callables on its arguments.
    fn reduce(&mut self) -> Why<()> {
        let args = self.pop()?;
        let callable = self.pop()?;
        let Value::Tuple(args) = args else {
            return Err("REDUCE without an argument tuple".to_string());
        };
        let v = match callable {
            Value::Global(g) if g == "collections.OrderedDict" => Value::Dict(Vec::new()),
            Value::Global(g) if g == "torch._utils._rebuild_tensor_v2" => rebuild_tensor(&args)?,
            Value::Global(g) if g == "torch._utils._rebuild_parameter" => {
                args.into_iter()
                    .next()
                    .why("_rebuild_parameter without a tensor")?
            }
            other => return Err(format!("REDUCE of {other:?} refused")),
        };
        self.stack.push(v);
        Ok(())
    }
}

/// `_rebuild_tensor_v2(storage, offset, shape, stride, ...)`: a view of a
/// storage, kept as where its elements are.
fn rebuild_tensor(args: &[Value]) -> Why<Value> {
    let [
        Value::Storage { key, elem, numel },
        offset,
        shape,
        stride,
        ..,
    ] = args
    else {
        return Err("_rebuild_tensor_v2 with unexpected arguments".to_string());
    };
    Ok(Value::Tensor(TensorRef {
        key: key.clone(),
        elem: *elem,
        storage_numel: *numel,
        offset: usize_of(offset)?,
        shape: usizes(shape)?,
        stride: usizes(stride)?,
    }))
}
