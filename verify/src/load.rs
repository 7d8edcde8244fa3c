//! Loading the checked files with candle and checking every float is finite.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};

use crate::checks::CheckedFile;
use crate::outcome::{Result, Stop, first_line};
use crate::run_log::RunLog;

/// The tensors of a revision, on the device, floats in the run dtype.
pub struct LoadedTensors {
    pub tensors: HashMap<String, Tensor>,
}

/// Reads every file, moves its tensors to `device` (floats as `run_dtype`)
/// and checks each float is finite.
pub fn load_all(
    files: &[CheckedFile],
    device: &Device,
    run_dtype: DType,
    log: &mut RunLog,
) -> Result<LoadedTensors> {
    let mut tensors = HashMap::new();
    for file in files {
        let bytes = std::fs::read(&file.path)
            .map_err(|e| Stop::error(format!("cannot read `{}`: {e}", file.name)))?;
        let loaded = candle_core::safetensors::load_buffer(&bytes, device).map_err(|e| {
            Stop::failed(format!(
                "`{}` cannot be loaded: {}",
                file.name,
                first_line(&e.to_string())
            ))
        })?;
        drop(bytes);
        let mut names: Vec<_> = loaded.into_iter().collect();
        names.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, tensor) in names {
            let tensor = if tensor.dtype().is_float() {
                let t = tensor
                    .to_dtype(run_dtype)
                    .map_err(|e| Stop::failed(format!("tensor `{name}`: {e}")))?;
                check_finite(&name, &t)?;
                t
            } else {
                tensor
            };
            if tensors.insert(name.clone(), tensor).is_some() {
                return Err(Stop::failed(format!(
                    "tensor `{name}` appears in more than one file"
                )));
            }
        }
        log.note(format!("loaded `{}`: all floats finite", file.name));
    }
    Ok(LoadedTensors { tensors })
}

/// Fails with the first NaN or infinity of a float tensor.
pub fn check_finite(name: &str, t: &Tensor) -> Result<()> {
    let probe = || -> candle_core::Result<bool> {
        // x - x is exactly 0 for a finite x and NaN otherwise, so one sum tells.
        let zeros = t
            .sub(t)?
            .to_dtype(DType::F32)?
            .sum_all()?
            .to_scalar::<f32>()?;
        Ok(zeros == 0.0)
    };
    if probe().map_err(|e| Stop::failed(format!("tensor `{name}` cannot be checked: {e}")))? {
        return Ok(());
    }
    let values = t
        .flatten_all()
        .and_then(|t| t.to_dtype(DType::F32))
        .and_then(|t| t.to_vec1::<f32>())
        .map_err(|e| Stop::failed(format!("tensor `{name}` cannot be checked: {e}")))?;
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => {
            let what = if values[i].is_nan() {
                "NaN"
            } else if values[i] > 0.0 {
                "+inf"
            } else {
                "-inf"
            };
            Err(Stop::failed(format!(
                "tensor `{name}` holds {what} at index {i}"
            )))
        }
        None => Ok(()),
    }
}

/// Checks the outputs of a forward pass are finite.
pub fn check_output(what: &str, t: &Tensor) -> Result<()> {
    check_finite(what, t).map_err(|stop| match stop {
        Stop::Failed(r) => Stop::Failed(r.replacen("tensor", "output", 1)),
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_nan() {
        let t = Tensor::new(&[1.0f32, 2.0, f32::NAN, f32::INFINITY], &Device::Cpu).unwrap();
        assert_eq!(
            check_finite("x", &t),
            Err(Stop::failed("tensor `x` holds NaN at index 2"))
        );
        let t = Tensor::new(&[1.0f32, f32::NEG_INFINITY], &Device::Cpu).unwrap();
        assert_eq!(
            check_finite("x", &t),
            Err(Stop::failed("tensor `x` holds -inf at index 1"))
        );
        let t = Tensor::new(&[1.0f32, 2.0], &Device::Cpu).unwrap();
        assert_eq!(check_finite("x", &t), Ok(()));
    }
}
