//! (Worker side.) Everything the worker keeps between messages, in one
//! place: the device, the model and where it came from, the flags a running
//! batch or conversion reads, the radiograph open for editing. One per
//! worker thread, made on first use: wgpu's browser types are not `Send`,
//! so they live on this thread for the worker's lifetime, and every message
//! handler reaches them through [`with`] instead of a static of its own.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use roentgen_gpu::GpuContext;

use crate::editing::Open;
use crate::fetch::Source;
use crate::loader::{Emit, PageModel};

#[derive(Default)]
pub struct WorkerState {
    /// Made on the first load and kept until the browser loses it.
    pub context: Cell<Option<&'static GpuContext>>,
    pub model: RefCell<Option<Rc<PageModel>>>,
    /// How images name the loaded model (its URL or folder).
    pub label: RefCell<String>,
    /// Where the loaded model came from: a batch stopped by a lost device
    /// loads it from there again (from this browser's store, mostly).
    pub source: RefCell<Option<Source>>,
    /// Set when the device was lost, until a new one is made.
    pub lost: Cell<bool>,
    /// A batch is running: it carries on by itself after a lost device.
    pub busy: Cell<bool>,
    /// Where news goes; the lost-device callback, which wgpu requires to be
    /// `Send`, reaches the page through this.
    pub emit: RefCell<Option<Emit>>,
    /// The visitor asked the running batch to stop after its current step.
    pub cancel_run: Cell<bool>,
    /// The visitor asked the running conversion to stop after its tensor.
    pub cancel_conversion: Cell<bool>,
    /// The radiograph opened for editing.
    pub open: RefCell<Option<Open>>,
}

thread_local! {
    static STATE: WorkerState = WorkerState::default();
}

/// Runs `f` on this worker's state.
pub fn with<R>(f: impl FnOnce(&WorkerState) -> R) -> R {
    STATE.with(f)
}
