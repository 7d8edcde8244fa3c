//! A candle `VarBuilder` backend over the loaded tensors that turns a model
//! that does not fit its config into a sentence instead of a panic.
//!
//! candle-transformers' loaders `unwrap` some lookups, so a missing tensor or
//! a wrong shape could panic inside them. This backend never errors: it
//! records the first problems and hands back a zero tensor of the expected
//! shape (broadcast, so it costs no memory), and the caller fails the run with
//! the recorded reason once loading returns.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use candle_core::{DType, Device, Result, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{Init, VarBuilder};

/// What the model code asked for that the files did not hold.
#[derive(Default)]
pub struct Misfits {
    pub problems: Vec<String>,
}

struct FittingBackend {
    tensors: HashMap<String, Tensor>,
    misfits: Arc<Mutex<Misfits>>,
}

/// A `VarBuilder` over `tensors`, and the record of what did not fit.
pub fn var_builder(
    tensors: HashMap<String, Tensor>,
    dtype: DType,
    device: &Device,
) -> (VarBuilder<'static>, Arc<Mutex<Misfits>>) {
    let misfits = Arc::new(Mutex::new(Misfits::default()));
    let backend = FittingBackend {
        tensors,
        misfits: misfits.clone(),
    };
    (
        VarBuilder::from_backend(Box::new(backend), dtype, device.clone()),
        misfits,
    )
}

/// The reason to fail with, if anything did not fit.
pub fn verdict(misfits: &Mutex<Misfits>) -> Option<String> {
    let m = misfits.lock().unwrap_or_else(|p| p.into_inner());
    let first = m.problems.first()?;
    Some(match m.problems.len() {
        1 => first.clone(),
        n => format!("{first} (and {} more tensors do not fit)", n - 1),
    })
}

fn dims(shape: &Shape) -> String {
    format!("{:?}", shape.dims())
}

impl FittingBackend {
    fn record(&self, problem: String) {
        let mut m = self.misfits.lock().unwrap_or_else(|p| p.into_inner());
        if m.problems.len() < 100 {
            m.problems.push(problem);
        }
    }

    fn stand_in(shape: Shape, dtype: DType, dev: &Device) -> Result<Tensor> {
        Tensor::zeros((), dtype, dev)?.broadcast_as(shape)
    }
}

impl SimpleBackend for FittingBackend {
    fn get(&self, shape: Shape, name: &str, _: Init, dtype: DType, dev: &Device) -> Result<Tensor> {
        match self.tensors.get(name) {
            None => {
                self.record(format!(
                    "config.json implies a tensor `{name}` of shape {} that no file holds",
                    dims(&shape)
                ));
                Self::stand_in(shape, dtype, dev)
            }
            Some(t) if t.shape() != &shape => {
                self.record(format!(
                    "tensor `{name}` has shape {} but config.json implies {}",
                    dims(t.shape()),
                    dims(&shape)
                ));
                Self::stand_in(shape, dtype, dev)
            }
            Some(t) => t.to_dtype(dtype)?.to_device(dev),
        }
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> Result<Tensor> {
        match self.tensors.get(name) {
            Some(t) => t.to_dtype(dtype)?.to_device(dev),
            None => candle_core::bail!("no tensor `{name}`"),
        }
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }
}
