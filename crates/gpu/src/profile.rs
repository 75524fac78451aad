//! Where a step's time goes, by kernel family: each dispatch is submitted
//! alone and timed (by the GPU's timestamp queries where the adapter offers
//! them, else by the wall time of its submission), then summed per shader
//! file. One dispatch per submission serializes the host and the GPU, so a
//! profiled step is slower than a real one; the shares are what it is for.

use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};

use crate::GpuContext;
use crate::kernel::SubmitTiming;

/// A query set of two timestamps (a pass's start and end) and the buffers
/// they are resolved into and read back through.
pub(crate) struct Timestamps {
    pub(crate) query_set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    read: wgpu::Buffer,
    /// Nanoseconds per timestamp tick (read natively only: the browser's
    /// readback cannot be waited on, so it never makes these).
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    period_ns: f64,
}

impl Timestamps {
    pub(crate) fn new(device: &wgpu::Device, queue: &wgpu::Queue) -> Self {
        let buffer = |label, usage| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: 16,
                usage,
                mapped_at_creation: false,
            })
        };
        Self {
            query_set: device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("profile timestamps"),
                ty: wgpu::QueryType::Timestamp,
                count: 2,
            }),
            resolve: buffer(
                "profile timestamps resolved",
                wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            ),
            read: buffer(
                "profile timestamps read",
                wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            ),
            period_ns: queue.get_timestamp_period() as f64,
        }
    }

    /// Records the copy of the pass's two timestamps to the readable buffer.
    pub(crate) fn resolve(&self, encoder: &mut wgpu::CommandEncoder) {
        encoder.resolve_query_set(&self.query_set, 0..2, &self.resolve, 0);
        encoder.copy_buffer_to_buffer(&self.resolve, 0, &self.read, 0, 16);
    }

    /// The stamped pass's GPU time in seconds, once its submission is done
    /// (natively: the caller waited for it).
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn read(&self, device: &wgpu::Device) -> Option<f64> {
        let slice = self.read.slice(..);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        let _ = device.poll(wgpu::PollType::wait_indefinitely());
        rx.recv().ok()?.ok()?;
        let ticks = {
            let bytes = slice.get_mapped_range().ok()?;
            let t: &[u64] = bytemuck::cast_slice(&bytes);
            t[1].saturating_sub(t[0])
        };
        self.read.unmap();
        Some(ticks as f64 * self.period_ns / 1e9)
    }
}

/// How the dispatches were timed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Timer {
    /// The GPU's timestamp queries around each dispatch's pass.
    GpuTimestamps,
    /// No timestamp queries here: the wall time from each one-dispatch
    /// submission to its completion (host overhead included).
    SubmissionWallTime,
}

/// One kernel family's part of the profiled work.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FamilyRow {
    /// The shader file: "matmul", "conv2d+q8+aligned", ...
    pub family: String,
    pub dispatches: u32,
    pub ms: f64,
    /// Of the profile's total time.
    pub share: f64,
    /// Declared arithmetic over its time (0 for kernels that declare none).
    pub gflops: f64,
    /// Bytes its dispatches bind (read and written) over its time.
    pub gbps: f64,
}

/// A profile: the rows, largest time first, and how they were timed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub adapter: String,
    pub timer: Timer,
    pub total_ms: f64,
    pub dispatches: u32,
    pub rows: Vec<FamilyRow>,
}

impl Profile {
    /// Sums one-dispatch submissions by family.
    pub fn from_timings(adapter: &str, timings: &[SubmitTiming]) -> Self {
        let timer = match timings.iter().all(|t| t.gpu_secs.is_some()) && !timings.is_empty() {
            true => Timer::GpuTimestamps,
            false => Timer::SubmissionWallTime,
        };
        let mut rows: Vec<(String, u32, f64, u64, u64)> = Vec::new();
        for t in timings {
            let secs = match timer {
                Timer::GpuTimestamps => t.gpu_secs.unwrap_or(t.secs),
                Timer::SubmissionWallTime => t.secs,
            };
            let i = match rows.iter().position(|r| r.0 == t.family) {
                Some(i) => i,
                None => {
                    rows.push((t.family.to_string(), 0, 0.0, 0, 0));
                    rows.len() - 1
                }
            };
            let r = &mut rows[i];
            (r.1, r.2, r.3, r.4) = (r.1 + t.dispatches, r.2 + secs, r.3 + t.flops, r.4 + t.bytes);
        }
        let total: f64 = rows.iter().map(|r| r.2).sum();
        let per_sec = |n: u64, s: f64| if s > 0.0 { n as f64 / s / 1e9 } else { 0.0 };
        let mut rows: Vec<FamilyRow> = rows
            .into_iter()
            .map(|(family, dispatches, secs, flops, bytes)| FamilyRow {
                family,
                dispatches,
                ms: secs * 1e3,
                share: if total > 0.0 { secs / total } else { 0.0 },
                gflops: per_sec(flops, secs),
                gbps: per_sec(bytes, secs),
            })
            .collect();
        rows.sort_by(|a, b| b.ms.total_cmp(&a.ms));
        Profile {
            adapter: adapter.to_string(),
            timer,
            total_ms: total * 1e3,
            dispatches: rows.iter().map(|r| r.dispatches).sum(),
            rows,
        }
    }
}

/// The table a person reads: one line per family, largest first.
impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "profile on {}: {} dispatches, {:.1} ms, timed by {}",
            self.adapter,
            self.dispatches,
            self.total_ms,
            match self.timer {
                Timer::GpuTimestamps => "GPU timestamp queries",
                Timer::SubmissionWallTime =>
                    "the wall time of one-dispatch submissions (timestamp queries not offered)",
            }
        )?;
        writeln!(
            f,
            "{:<22} {:>10} {:>10} {:>7} {:>9} {:>8}",
            "kernel family", "dispatches", "ms", "share", "GFLOP/s", "GB/s"
        )?;
        for r in &self.rows {
            writeln!(
                f,
                "{:<22} {:>10} {:>10.2} {:>6.1}% {:>9.2} {:>8.2}",
                r.family,
                r.dispatches,
                r.ms,
                100.0 * r.share,
                r.gflops,
                r.gbps
            )?;
        }
        Ok(())
    }
}

impl GpuContext {
    /// From now on (`on`) each dispatch is its own submission, stamped
    /// where timestamp queries are offered, until called with false. With
    /// [`GpuContext::time_submissions`] each logged submission is then one
    /// dispatch.
    pub fn set_profiling(&self, on: bool) {
        self.flush();
        self.profiling.store(on, Ordering::Relaxed);
    }

    /// Runs `work` with every dispatch timed alone, and sums the times by
    /// kernel family. In the browser the queue is awaited; natively the
    /// host waits for each submission, so nothing here is pending.
    pub async fn profile_async<R>(&self, work: impl FnOnce() -> R) -> (R, Profile) {
        self.set_profiling(true);
        #[cfg(target_arch = "wasm32")]
        let _ = self.time_submissions(true).await;
        #[cfg(not(target_arch = "wasm32"))]
        let _ = self.time_submissions(true);
        let out = work();
        self.flush();
        #[cfg(target_arch = "wasm32")]
        let timings = self.time_submissions(false).await;
        #[cfg(not(target_arch = "wasm32"))]
        let timings = self.time_submissions(false);
        self.set_profiling(false);
        (out, Profile::from_timings(&self.report.label(), &timings))
    }

    /// [`GpuContext::profile_async`] for native callers.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn profile<R>(&self, work: impl FnOnce() -> R) -> (R, Profile) {
        pollster::block_on(self.profile_async(work))
    }
}
