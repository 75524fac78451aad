//! Builds the model's modules once from its configs, walking weight names
//! by prefix the way candle's `VarBuilder` does: each module asks for its
//! parameters by local name and shape, and the builder records the full
//! name and shape. What it records is the expected-tensor table (checked
//! against a manifest before any weight is read, written by `weights-tools
//! random`), so the topology is written once, in the modules' `build`.

use std::cell::RefCell;
use std::fmt::Display;
use std::rc::Rc;

use crate::arch::Table;

/// A parameter's full weight name, resolved when the module was built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param(String);

impl Param {
    pub fn name(&self) -> &str {
        &self.0
    }
}

/// A position in the weight-name tree, sharing one table.
#[derive(Clone)]
pub struct Vb {
    prefix: String,
    table: Rc<RefCell<Table>>,
}

impl Vb {
    /// The root of a fresh table.
    pub fn root() -> Self {
        Self {
            prefix: String::new(),
            table: Rc::new(RefCell::new(Vec::new())),
        }
    }

    /// The sub-tree `name` ("unet", "down_blocks", 0, ...).
    pub fn pp(&self, name: impl Display) -> Self {
        let prefix = match self.prefix.as_str() {
            "" => name.to_string(),
            p => format!("{p}.{name}"),
        };
        Self {
            prefix,
            table: self.table.clone(),
        }
    }

    /// The parameter `name` here, of `shape`.
    pub fn param(&self, name: &str, shape: &[usize]) -> Param {
        let full = self.pp(name).prefix;
        self.table.borrow_mut().push((full.clone(), shape.to_vec()));
        Param(full)
    }

    /// Everything recorded under this builder's root, in build order.
    pub fn table(&self) -> Table {
        self.table.borrow().clone()
    }
}
