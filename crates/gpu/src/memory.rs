//! Counts the bytes of GPU buffers our tensors hold, live and at peak, so
//! `roentgen plan` and the benchmarks can state what a pipeline allocates.
//! Idle buffers kept for reuse (residency.rs) count as held: the GPU holds
//! them. (wgpu frees a dropped buffer once the GPU is done with it.)

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct MemoryMeter {
    live: AtomicU64,
    peak: AtomicU64,
    largest: AtomicU64,
    idle: AtomicU64,
}

impl MemoryMeter {
    /// Bytes held now (tensors and idle buffers kept for reuse).
    pub fn live(&self) -> u64 {
        self.live.load(Ordering::Relaxed)
    }

    /// Of [`Self::live`], the bytes of idle buffers kept for reuse.
    pub fn idle(&self) -> u64 {
        self.idle.load(Ordering::Relaxed)
    }

    /// Most bytes held at once since creation or the last [`Self::reset_peak`].
    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }

    /// The largest single buffer seen.
    pub fn largest(&self) -> u64 {
        self.largest.load(Ordering::Relaxed)
    }

    pub fn reset_peak(&self) {
        self.peak.store(self.live(), Ordering::Relaxed);
    }

    pub(crate) fn lease(self: &Arc<Self>, bytes: u64) -> Lease {
        let now = self.live.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.peak.fetch_max(now, Ordering::Relaxed);
        self.largest.fetch_max(bytes, Ordering::Relaxed);
        Lease {
            meter: self.clone(),
            bytes,
        }
    }

    /// `bytes` of held buffers went idle in the pool (`true`), or left it,
    /// reused or freed (`false`; a freed buffer's lease drops separately).
    pub(crate) fn note_idle(&self, bytes: u64, idle: bool) {
        if idle {
            self.idle.fetch_add(bytes, Ordering::Relaxed);
        } else {
            self.idle.fetch_sub(bytes, Ordering::Relaxed);
        }
    }
}

/// One buffer's share of the meter, returned when the buffer is freed.
#[derive(Debug)]
pub struct Lease {
    meter: Arc<MemoryMeter>,
    bytes: u64,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.meter.live.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}
