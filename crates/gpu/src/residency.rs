//! What stays on the GPU between steps so that a diffusion step creates
//! nothing: op outputs come from a pool of idle buffers keyed by byte size
//! (a UNet call asks for the same sizes every step), read-back staging
//! buffers likewise, and bind groups are cached by (kernel, buffers, ranges).
//!
//! Reuse is safe without fences: a tensor returns its buffer only when it is
//! dropped, so no later op can name it, and every op recorded before the
//! drop runs before any op recorded after it (one queue; wgpu orders the
//! reads and writes between dispatches). Host writes into a reused buffer
//! (`queue.write_buffer`) would jump ahead of recorded but unsubmitted ops,
//! so callers flush first.
//!
//! Pooling pays only for work that repeats (the sampling loop); for a
//! one-shot phase (text encoder, VAE decode) idle buffers of sizes that
//! never come back would only add to the peak, so the pipeline turns reuse
//! off there ([`crate::GpuContext::reuse_buffers`]), which also frees the pool.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::kernel::PipelineKey;
use crate::memory::{Lease, MemoryMeter};

/// A pooled buffer with its share of the meter and its serial: creation
/// order. `take` hands out the oldest idle buffer of a size, so the same
/// graph gets the same buffers each step (whatever order they were dropped
/// in), and its bind groups come from the cache.
pub(crate) struct Pooled {
    pub buffer: wgpu::Buffer,
    pub lease: Lease,
    pub serial: u64,
}

/// A bind group is determined by its kernel, the uniform binding's size and
/// each storage binding's buffer and byte range.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct BindKey {
    pub pipeline: PipelineKey,
    pub uniform_size: u64,
    pub storage: Vec<(wgpu::Buffer, u64, u64)>,
}

pub(crate) struct Residency {
    /// Pool dropped outputs (on by default; see the module doc).
    reuse: std::sync::atomic::AtomicBool,
    pub memory: Arc<MemoryMeter>,
    idle: Mutex<HashMap<u64, Vec<Pooled>>>,
    next_serial: std::sync::atomic::AtomicU64,
    staging: Mutex<HashMap<u64, Vec<wgpu::Buffer>>>,
    bind_groups: Mutex<HashMap<BindKey, wgpu::BindGroup>>,
}

impl Default for Residency {
    fn default() -> Self {
        Self {
            reuse: true.into(),
            memory: Default::default(),
            idle: Default::default(),
            next_serial: Default::default(),
            staging: Default::default(),
            bind_groups: Default::default(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Residency {
    /// The serial of a buffer about to be made for the pool.
    pub fn next_serial(&self) -> u64 {
        self.next_serial
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// An idle buffer of exactly `bytes`.
    pub fn take(&self, bytes: u64) -> Option<Pooled> {
        if !self.reusing() {
            return None;
        }
        let mut all = lock(&self.idle);
        let list = all.get_mut(&bytes)?;
        let oldest = (0..list.len()).min_by_key(|&i| list[i].serial)?;
        let pooled = list.swap_remove(oldest);
        self.memory.note_idle(bytes, false);
        Some(pooled)
    }

    /// A dropped tensor's buffer: back to the pool when it came from there
    /// (`serial` Some), else (weights) released, with every bind group that
    /// named it.
    pub fn release(&self, buffer: &wgpu::Buffer, lease: Lease, serial: Option<u64>) {
        match serial.filter(|_| self.reusing()) {
            Some(serial) => {
                self.memory.note_idle(buffer.size(), true);
                lock(&self.idle)
                    .entry(buffer.size())
                    .or_default()
                    .push(Pooled {
                        buffer: buffer.clone(),
                        lease,
                        serial,
                    });
            }
            None => self.forget(std::slice::from_ref(buffer)),
        }
    }

    pub fn take_staging(&self, bytes: u64) -> Option<wgpu::Buffer> {
        lock(&self.staging).get_mut(&bytes)?.pop()
    }

    pub fn return_staging(&self, buffer: wgpu::Buffer) {
        lock(&self.staging)
            .entry(buffer.size())
            .or_default()
            .push(buffer);
    }

    /// The cached bind group for `key`, or the one `make` creates (cached).
    pub fn bind_group(
        &self,
        key: BindKey,
        make: impl FnOnce() -> wgpu::BindGroup,
    ) -> (wgpu::BindGroup, bool) {
        let mut cache = lock(&self.bind_groups);
        if let Some(bg) = cache.get(&key) {
            return (bg.clone(), false);
        }
        let bg = make();
        cache.insert(key, bg.clone());
        (bg, true)
    }

    /// Drops the cached bind groups that name any of `buffers`.
    fn forget(&self, buffers: &[wgpu::Buffer]) {
        lock(&self.bind_groups)
            .retain(|k, _| !k.storage.iter().any(|(b, _, _)| buffers.contains(b)));
    }

    fn reusing(&self) -> bool {
        self.reuse.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Turns pooling on or off; off frees the pool.
    pub fn set_reuse(&self, on: bool) {
        self.reuse.store(on, std::sync::atomic::Ordering::Relaxed);
        if !on {
            self.trim();
        }
    }

    /// Frees every idle buffer (and staging buffer) and the bind groups that
    /// named them. Returns the bytes freed.
    pub fn trim(&self) -> u64 {
        let idle: Vec<Pooled> = lock(&self.idle).drain().flat_map(|(_, v)| v).collect();
        lock(&self.staging).clear();
        let buffers: Vec<wgpu::Buffer> = idle.iter().map(|i| i.buffer.clone()).collect();
        self.forget(&buffers);
        let bytes = buffers.iter().map(|b| b.size()).sum();
        self.memory.note_idle(bytes, false);
        bytes
    }

    /// Cached bind groups (for tests and benchmarks).
    pub fn cached_bind_groups(&self) -> usize {
        lock(&self.bind_groups).len()
    }
}
