//! Counts of what the host asks of the GPU API: every buffer, bind group
//! and dispatch is a driver call natively and a message to the GPU process
//! in a browser, so a diffusion step should create nothing and dispatch as
//! little as it can. `roentgen bench unet` prints these per UNet call.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct GpuStats {
    pub(crate) dispatches: AtomicU64,
    pub(crate) buffers_created: AtomicU64,
    pub(crate) buffer_bytes_created: AtomicU64,
    pub(crate) bind_groups_created: AtomicU64,
    pub(crate) submits: AtomicU64,
    /// Bytes of the bindings dispatches write (their outputs): what fusing
    /// ops saves shows here.
    pub(crate) bytes_written: AtomicU64,
    /// Host time spent inside `dispatch_3d` (validation, caches, recording).
    pub(crate) dispatch_host_ns: AtomicU64,
    /// Arithmetic the GEMM-like dispatches declared (`dispatch_work`).
    pub(crate) flops: AtomicU64,
    /// The most FLOPs one submission, and one dispatch, carried since the
    /// last [`GpuStats::take_peaks`].
    pub(crate) submit_flops_peak: AtomicU64,
    pub(crate) dispatch_flops_peak: AtomicU64,
}

/// The largest submission and dispatch, in FLOPs, over some stretch of work.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct WorkPeaks {
    pub submit_flops: u64,
    pub dispatch_flops: u64,
}

/// A snapshot of [`GpuStats`]; subtract two to count what happened between.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    pub dispatches: u64,
    pub buffers_created: u64,
    pub buffer_bytes_created: u64,
    pub bind_groups_created: u64,
    pub submits: u64,
    pub bytes_written: u64,
    pub dispatch_host_ns: u64,
    pub flops: u64,
}

impl GpuStats {
    pub fn snapshot(&self) -> Counters {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Counters {
            dispatches: r(&self.dispatches),
            buffers_created: r(&self.buffers_created),
            buffer_bytes_created: r(&self.buffer_bytes_created),
            bind_groups_created: r(&self.bind_groups_created),
            submits: r(&self.submits),
            bytes_written: r(&self.bytes_written),
            dispatch_host_ns: r(&self.dispatch_host_ns),
            flops: r(&self.flops),
        }
    }

    /// The peaks since the last call, reset to nothing (flush first: a
    /// batch still being recorded is not yet a submission).
    pub fn take_peaks(&self) -> WorkPeaks {
        WorkPeaks {
            submit_flops: self.submit_flops_peak.swap(0, Ordering::Relaxed),
            dispatch_flops: self.dispatch_flops_peak.swap(0, Ordering::Relaxed),
        }
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// One buffer of `bytes` was created.
    pub(crate) fn buffer_created(&self, bytes: u64) {
        Self::add(&self.buffers_created, 1);
        Self::add(&self.buffer_bytes_created, bytes);
    }
}

impl Counters {
    /// What happened between `earlier` and this snapshot.
    pub fn since(&self, earlier: &Counters) -> Counters {
        Counters {
            dispatches: self.dispatches - earlier.dispatches,
            buffers_created: self.buffers_created - earlier.buffers_created,
            buffer_bytes_created: self.buffer_bytes_created - earlier.buffer_bytes_created,
            bind_groups_created: self.bind_groups_created - earlier.bind_groups_created,
            submits: self.submits - earlier.submits,
            bytes_written: self.bytes_written - earlier.bytes_written,
            dispatch_host_ns: self.dispatch_host_ns - earlier.dispatch_host_ns,
            flops: self.flops - earlier.flops,
        }
    }

    /// Host microseconds per dispatch.
    pub fn host_us_per_dispatch(&self) -> f64 {
        self.dispatch_host_ns as f64 / 1e3 / self.dispatches.max(1) as f64
    }
}

/// Host time natively; in the browser it is not measured here (the page
/// times whole steps instead), so `dispatch_host_ns` stays 0 there.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn now() -> std::time::Instant {
    std::time::Instant::now()
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn nanos_since(t: std::time::Instant) -> u64 {
    t.elapsed().as_nanos() as u64
}

#[cfg(target_arch = "wasm32")]
pub(crate) fn now() -> u64 {
    0
}

#[cfg(target_arch = "wasm32")]
pub(crate) fn nanos_since(_: u64) -> u64 {
    0
}
