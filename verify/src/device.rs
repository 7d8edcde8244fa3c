//! Choosing the device the tensors run on, and naming it.

use candle_core::Device;

/// CUDA device 0 when the crate is built with the `cuda` feature and a GPU is
/// present; the CPU otherwise.
pub fn best() -> Device {
    if cfg!(feature = "cuda") {
        Device::cuda_if_available(0).unwrap_or(Device::Cpu)
    } else {
        Device::Cpu
    }
}

/// `cpu: <model name>` or `cuda: <GPU name>`.
pub fn describe(device: &Device) -> String {
    match device {
        Device::Cuda(_) => format!("cuda: {}", gpu_name().unwrap_or_else(|| "GPU 0".into())),
        _ => format!("cpu: {}", cpu_name()),
    }
}

fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, name)| name.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

/// The name `nvidia-smi` gives GPU 0; candle does not expose it.
fn gpu_name() -> Option<String> {
    let out = std::process::Command::new("nvidia-smi")
        .args(["--query-gpu=name", "--format=csv,noheader", "--id=0"])
        .output()
        .ok()?;
    let name = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_the_cpu() {
        if !cfg!(feature = "cuda") {
            let d = super::describe(&super::best());
            assert!(d.starts_with("cpu: ") && d.len() > 5, "{d}");
        }
    }
}
