//! AdamW (Loshchilov & Hutter) over named candle variables, with its state — both moments and
//! the step count — readable and restorable by name, so that a resumed fine-tuning run can
//! continue exactly where it stopped (the same idea as the board-game trainer in `arena`).

use std::cell::RefCell;
use std::collections::BTreeMap;

use candle_core::backend::BackendStorage;
use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, DType, Device, InplaceOp2, Layout, Tensor, Var, WithDType, bail};
use rayon::prelude::*;

use crate::llm::LlmError;

/// AdamW's settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamWConfig {
    pub learning_rate: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub epsilon: f64,
    /// Decoupled weight decay (multiplies the learning rate).
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    /// Learning rate 1e-3, betas 0.9 and 0.999, epsilon 1e-8, no weight decay.
    fn default() -> Self {
        AdamWConfig { learning_rate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weight_decay: 0.0 }
    }
}

/// One variable's moments, in its own float type.
#[derive(Clone, Debug)]
enum Moments {
    F32 { first: Vec<f32>, second: Vec<f32> },
    F64 { first: Vec<f64>, second: Vec<f64> },
}

impl Moments {
    fn zeros(var: &Var) -> Result<Self, LlmError> {
        let n = var.elem_count();
        match var.dtype() {
            DType::F32 => Ok(Moments::F32 { first: vec![0.0; n], second: vec![0.0; n] }),
            DType::F64 => Ok(Moments::F64 { first: vec![0.0; n], second: vec![0.0; n] }),
            other => Err(LlmError::BadRequest(format!("AdamW trains f32 or f64 variables, not {other:?}"))),
        }
    }

    /// `first` and `second` as tensors of `var`'s shape.
    fn tensors(&self, var: &Var) -> Result<(Tensor, Tensor), LlmError> {
        let device = &Device::Cpu;
        Ok(match self {
            Moments::F32 { first, second } => {
                (Tensor::from_slice(first, var.dims(), device)?, Tensor::from_slice(second, var.dims(), device)?)
            }
            Moments::F64 { first, second } => {
                (Tensor::from_slice(first, var.dims(), device)?, Tensor::from_slice(second, var.dims(), device)?)
            }
        })
    }

    /// Moments of `var`'s float type read from two tensors of its shape.
    fn from_tensors(first: &Tensor, second: &Tensor, var: &Var) -> Result<Self, LlmError> {
        let values = |t: &Tensor| t.to_dtype(var.dtype())?.flatten_all();
        let (first, second) = (values(first)?, values(second)?);
        match var.dtype() {
            DType::F32 => Ok(Moments::F32 { first: first.to_vec1()?, second: second.to_vec1()? }),
            DType::F64 => Ok(Moments::F64 { first: first.to_vec1()?, second: second.to_vec1()? }),
            other => Err(LlmError::BadRequest(format!("AdamW trains f32 or f64 variables, not {other:?}"))),
        }
    }
}

/// AdamW over a fixed list of named variables.
#[derive(Debug)]
pub struct AdamW {
    config: AdamWConfig,
    vars: Vec<(String, Var)>,
    moments: Vec<Moments>,
    steps: u64,
}

impl AdamW {
    /// Fresh moments (zero) for `vars`, which must be f32 or f64.
    pub fn new(vars: Vec<(String, Var)>, config: AdamWConfig) -> Result<Self, LlmError> {
        let moments = vars.iter().map(|(_, v)| Moments::zeros(v)).collect::<Result<Vec<_>, _>>()?;
        Ok(AdamW { config, vars, moments, steps: 0 })
    }

    pub fn config(&self) -> &AdamWConfig {
        &self.config
    }

    /// Changes the learning rate (a schedule).
    pub fn set_learning_rate(&mut self, learning_rate: f64) {
        self.config.learning_rate = learning_rate;
    }

    /// Steps taken.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// One update from `gradients` (from `loss.backward()`); a variable without a gradient is
    /// left alone, its moments too.
    ///
    /// Each variable is updated in place by one pass over its parameters, gradient and moments
    /// ([`FusedUpdate`], on rayon's pool): written as candle operations, the update allocated and
    /// traversed a full-size temporary a dozen times per variable, seconds per step when every
    /// weight of SmolLM2-135M trains.
    pub fn step(&mut self, gradients: &GradStore) -> Result<(), LlmError> {
        self.steps += 1;
        let c = self.config;
        let coefficients = Coefficients {
            beta1: c.beta1,
            beta2: c.beta2,
            inverse_correction1: 1.0 / (1.0 - c.beta1.powf(self.steps as f64)),
            inverse_correction2: 1.0 / (1.0 - c.beta2.powf(self.steps as f64)),
            epsilon: c.epsilon,
            learning_rate: c.learning_rate,
            decay: 1.0 - c.learning_rate * c.weight_decay,
        };
        for ((_, var), moments) in self.vars.iter().zip(self.moments.iter_mut()) {
            let Some(gradient) = gradients.get(var.as_tensor()) else { continue };
            let gradient = gradient.contiguous()?;
            let update = FusedUpdate { coefficients, moments: RefCell::new(moments) };
            var.as_tensor().inplace_op2(&gradient, &update)?;
        }
        Ok(())
    }

    /// The state by name: `m.{var}` and `v.{var}` (the moments) and `step` (a one-element f64
    /// tensor: exact up to 2^53 steps).
    pub fn state(&self) -> Result<BTreeMap<String, Tensor>, LlmError> {
        let mut state = BTreeMap::new();
        for ((name, var), moments) in self.vars.iter().zip(&self.moments) {
            let (first, second) = moments.tensors(var)?;
            state.insert(format!("m.{name}"), first);
            state.insert(format!("v.{name}"), second);
        }
        state.insert("step".to_string(), Tensor::new(&[self.steps as f64], &Device::Cpu)?);
        Ok(state)
    }

    /// Restores a [`AdamW::state`]: every entry must be there with its variable's shape.
    pub fn restore(&mut self, state: &BTreeMap<String, Tensor>) -> Result<(), LlmError> {
        let get = |key: String, like: &Var| -> Result<&Tensor, LlmError> {
            let tensor =
                state.get(&key).ok_or_else(|| LlmError::BadRequest(format!("the optimizer state has no {key}")))?;
            if tensor.dims() != like.dims() {
                return Err(LlmError::BadRequest(format!(
                    "the optimizer state's {key} has shape {:?}; the variable {:?}",
                    tensor.dims(),
                    like.dims()
                )));
            }
            Ok(tensor)
        };
        let mut moments = Vec::with_capacity(self.vars.len());
        for (name, var) in &self.vars {
            moments.push(Moments::from_tensors(get(format!("m.{name}"), var)?, get(format!("v.{name}"), var)?, var)?);
        }
        let steps = state
            .get("step")
            .and_then(|t| t.to_dtype(DType::F64).and_then(|t| t.flatten_all()?.to_vec1::<f64>()).ok())
            .and_then(|v| v.first().copied())
            .filter(|s| *s >= 0.0 && s.fract() == 0.0)
            .ok_or_else(|| LlmError::BadRequest("the optimizer state has no valid step count".to_string()))?;
        self.moments = moments;
        self.steps = steps as u64;
        Ok(())
    }
}

/// The step's numbers, shared by every variable.
#[derive(Clone, Copy, Debug)]
struct Coefficients {
    beta1: f64,
    beta2: f64,
    /// `1 / (1 - beta1^t)` and `1 / (1 - beta2^t)`: the bias corrections.
    inverse_correction1: f64,
    inverse_correction2: f64,
    epsilon: f64,
    learning_rate: f64,
    /// `1 - learning_rate × weight_decay`.
    decay: f64,
}

/// AdamW's update of one variable, in place: for each element, with the gradient `g`,
/// `m ← β₁m + (1-β₁)g`, `v ← β₂v + (1-β₂)g²`, `p ← p(1 - lr·wd) - lr·(m/c₁)/(√(v/c₂) + ε)`,
/// computed in the variable's own float type.
struct FusedUpdate<'a> {
    coefficients: Coefficients,
    /// The op is called through `&self`; the moments it advances are this variable's alone.
    moments: RefCell<&'a mut Moments>,
}

/// Elements per parallel task: large enough that a task's bookkeeping is negligible.
const CHUNK: usize = 1 << 15;

fn update<T: WithDType>(parameters: &mut [T], gradient: &[T], first: &mut [T], second: &mut [T], c: &Coefficients) {
    let [beta1, one_minus_beta1, beta2, one_minus_beta2, inverse1, inverse2, epsilon, learning_rate, decay] = [
        c.beta1,
        1.0 - c.beta1,
        c.beta2,
        1.0 - c.beta2,
        c.inverse_correction1,
        c.inverse_correction2,
        c.epsilon,
        c.learning_rate,
        c.decay,
    ]
    .map(T::from_f64);
    parameters
        .par_chunks_mut(CHUNK)
        .zip(gradient.par_chunks(CHUNK))
        .zip(first.par_chunks_mut(CHUNK))
        .zip(second.par_chunks_mut(CHUNK))
        .for_each(|(((p, g), m), v)| {
            for i in 0..p.len() {
                let g = g[i];
                m[i] = beta1 * m[i] + one_minus_beta1 * g;
                v[i] = beta2 * v[i] + one_minus_beta2 * (g * g);
                // The square root in f64 rounds to the same value as one in T (f32 or f64).
                let root = T::from_f64((v[i] * inverse2).to_f64().sqrt());
                p[i] = p[i] * decay - learning_rate * ((m[i] * inverse1) / (root + epsilon));
            }
        });
}

/// The contiguous elements `layout` describes.
fn elements<'a, T>(data: &'a [T], layout: &Layout) -> candle_core::Result<&'a [T]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => bail!("adamw-update: a non-contiguous tensor"),
    }
}

fn elements_mut<'a, T>(data: &'a mut [T], layout: &Layout) -> candle_core::Result<&'a mut [T]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&mut data[start..end]),
        None => bail!("adamw-update: a non-contiguous variable"),
    }
}

impl InplaceOp2 for FusedUpdate<'_> {
    fn name(&self) -> &'static str {
        "adamw-update"
    }

    fn cpu_fwd(
        &self,
        dst: &mut CpuStorage,
        dst_l: &Layout,
        gradient: &CpuStorage,
        gradient_l: &Layout,
    ) -> candle_core::Result<()> {
        let mut moments = self.moments.borrow_mut();
        let c = &self.coefficients;
        match (dst, gradient, &mut **moments) {
            (CpuStorage::F32(p), CpuStorage::F32(g), Moments::F32 { first, second }) => {
                let (p, g) = (elements_mut(p, dst_l)?, elements(g, gradient_l)?);
                if p.len() != g.len() || p.len() != first.len() {
                    bail!("adamw-update: {} parameters, {} gradients, {} moments", p.len(), g.len(), first.len())
                }
                update(p, g, first, second, c);
            }
            (CpuStorage::F64(p), CpuStorage::F64(g), Moments::F64 { first, second }) => {
                let (p, g) = (elements_mut(p, dst_l)?, elements(g, gradient_l)?);
                if p.len() != g.len() || p.len() != first.len() {
                    bail!("adamw-update: {} parameters, {} gradients, {} moments", p.len(), g.len(), first.len())
                }
                update(p, g, first, second, c);
            }
            (p, g, _) => {
                bail!("adamw-update: parameters {:?}, gradient {:?}: one float type expected", p.dtype(), g.dtype())
            }
        }
        Ok(())
    }
}
