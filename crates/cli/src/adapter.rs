//! `roentgen adapter`: the same report the page shows on load.

use anyhow::{Context, bail};
use roentgen_gpu::{ContextOptions, DType, GpuContext, selfcheck};

pub fn run(json: bool) -> anyhow::Result<()> {
    let ctx = pollster::block_on(GpuContext::new(ContextOptions::default()))
        .context("no GPU adapter (on a machine without a GPU, install mesa-vulkan-drivers)")?;
    let t0 = std::time::Instant::now();
    let clock = || t0.elapsed().as_secs_f64();
    let checks = pollster::block_on(selfcheck::run(&ctx, &[DType::F32, DType::F16], &clock))?;
    let r = &ctx.report;
    let l = &r.limits;
    if json {
        let v = serde_json::json!({
            "name": r.name, "backend": r.backend, "device_type": r.device_type, "driver": r.driver,
            "shader_f16_available": r.shader_f16_available,
            "limits": {
                "max_storage_buffer_binding_size": l.max_storage_buffer_binding_size,
                "max_buffer_size": l.max_buffer_size,
                "max_compute_workgroup_storage_size": l.max_compute_workgroup_storage_size,
                "max_compute_invocations_per_workgroup": l.max_compute_invocations_per_workgroup,
                "max_compute_workgroups_per_dimension": l.max_compute_workgroups_per_dimension,
            },
            "checks": checks.iter().map(|c| serde_json::json!({
                "kernel": c.kernel, "path": c.path.name(), "elements": c.elements,
                "max_abs_err": c.max_abs_err, "tolerance": c.tolerance, "ok": c.ok(),
                "seconds": c.seconds,
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "adapter: {} ({}, {}) {}",
            r.name, r.backend, r.device_type, r.driver
        );
        println!(
            "shader-f16: {}",
            if r.shader_f16_available { "yes" } else { "no" }
        );
        println!(
            "maxStorageBufferBindingSize: {}",
            l.max_storage_buffer_binding_size
        );
        println!("maxBufferSize: {}", l.max_buffer_size);
        println!(
            "maxComputeWorkgroupStorageSize: {}",
            l.max_compute_workgroup_storage_size
        );
        println!(
            "maxComputeInvocationsPerWorkgroup: {}",
            l.max_compute_invocations_per_workgroup
        );
        println!(
            "maxComputeWorkgroupsPerDimension: {}",
            l.max_compute_workgroups_per_dimension
        );
        for c in &checks {
            println!(
                "check {} [{}]: max |error| {:.2e} (tolerance {:.0e}), {:.2} s {}",
                c.kernel,
                c.path.name(),
                c.max_abs_err,
                c.tolerance,
                c.seconds,
                if c.ok() { "OK" } else { "FAILED" }
            );
        }
    }
    if !checks.iter().all(|c| c.ok()) {
        bail!("kernel self-check failed");
    }
    Ok(())
}
