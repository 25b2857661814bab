//! What this build runs with: the kernel level, the CPU's vector extensions, the
//! features compiled in, worker threads (`gaussmix --version`, `gaussmix info --system`).
//!
//! This module depends on nothing else in the crate.

use serde_json::{json, Value};

/// This build and machine: version, kernel level (and whether `GAUSSMIX_KERNEL` pins
/// it), the CPU's vector extensions, the features compiled in, worker threads, target.
pub fn system_info() -> Value {
    let mut cpu: Vec<&str> = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            cpu.push("avx512f");
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            cpu.push("avx2");
        }
        if std::arch::is_x86_feature_detected!("fma") {
            cpu.push("fma");
        }
    }
    let mut features: Vec<&str> = Vec::new();
    if cfg!(feature = "parquet") {
        features.push("parquet");
    }
    let pinned = std::env::var("GAUSSMIX_KERNEL")
        .ok()
        .filter(|v| !v.trim().is_empty());
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "kernel": gaussmix::kernel_level(),
        "kernel_pinned": pinned,
        "cpu_features": cpu,
        "features": features,
        "threads": rayon::current_num_threads(),
        "target": format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS),
    })
}

/// The text of `gaussmix --version`: version, kernel level, features, threads.
pub fn version_text() -> String {
    let s = system_info();
    let field = |k: &str| s.get(k).cloned().unwrap_or(serde_json::Value::Null);
    let list = |k: &str| {
        field(k)
            .as_array()
            .map(|v| {
                v.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    let pinned = match field("kernel_pinned").as_str() {
        Some(p) => format!(" (GAUSSMIX_KERNEL={p})"),
        None => " (best on this CPU; GAUSSMIX_KERNEL pins one)".to_string(),
    };
    format!(
        "{}\nkernels: {}{pinned}\nCPU: {}\nfeatures: {}\nthreads: {}\ntarget: {}",
        env!("CARGO_PKG_VERSION"),
        field("kernel").as_str().unwrap_or("?"),
        match list("cpu_features") {
            l if l.is_empty() => "no vector extensions used".to_string(),
            l => l,
        },
        match list("features") {
            l if l.is_empty() => "none".to_string(),
            l => l,
        },
        field("threads"),
        field("target").as_str().unwrap_or("?"),
    )
}
