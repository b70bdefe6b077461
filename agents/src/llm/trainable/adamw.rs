//! AdamW (Loshchilov & Hutter) over named candle variables, with its state — both moments and
//! the step count — readable and restorable by name, so that a resumed fine-tuning run can
//! continue exactly where it stopped (the same idea as the board-game trainer in `arena`).

use std::collections::BTreeMap;

use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var};

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

/// AdamW over a fixed list of named variables.
#[derive(Debug)]
pub struct AdamW {
    config: AdamWConfig,
    vars: Vec<(String, Var)>,
    first: Vec<Tensor>,
    second: Vec<Tensor>,
    steps: u64,
}

impl AdamW {
    /// Fresh moments (zero) for `vars`.
    pub fn new(vars: Vec<(String, Var)>, config: AdamWConfig) -> Result<Self, LlmError> {
        let zeros = |var: &Var| Tensor::zeros(var.dims(), var.dtype(), &Device::Cpu);
        let first = vars.iter().map(|(_, v)| zeros(v)).collect::<Result<Vec<_>, _>>()?;
        let second = vars.iter().map(|(_, v)| zeros(v)).collect::<Result<Vec<_>, _>>()?;
        Ok(AdamW { config, vars, first, second, steps: 0 })
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
    pub fn step(&mut self, gradients: &GradStore) -> Result<(), LlmError> {
        self.steps += 1;
        let c = self.config;
        let correction1 = 1.0 - c.beta1.powf(self.steps as f64);
        let correction2 = 1.0 - c.beta2.powf(self.steps as f64);
        for (k, (_, var)) in self.vars.iter().enumerate() {
            let Some(gradient) = gradients.get(var.as_tensor()) else { continue };
            let m = ((&self.first[k] * c.beta1)? + (gradient * (1.0 - c.beta1))?)?;
            let v = ((&self.second[k] * c.beta2)? + (gradient.sqr()? * (1.0 - c.beta2))?)?;
            let update = ((&m / correction1)? / ((&v / correction2)?.sqrt()? + c.epsilon)?)?;
            let decayed = (var.as_tensor() * (1.0 - c.learning_rate * c.weight_decay))?;
            var.set(&(decayed - (update * c.learning_rate)?)?)?;
            self.first[k] = m;
            self.second[k] = v;
        }
        Ok(())
    }

    /// The state by name: `m.{var}` and `v.{var}` (the moments) and `step` (a one-element f64
    /// tensor: exact up to 2^53 steps).
    pub fn state(&self) -> Result<BTreeMap<String, Tensor>, LlmError> {
        let mut state = BTreeMap::new();
        for (k, (name, _)) in self.vars.iter().enumerate() {
            state.insert(format!("m.{name}"), self.first[k].clone());
            state.insert(format!("v.{name}"), self.second[k].clone());
        }
        state.insert("step".to_string(), Tensor::new(&[self.steps as f64], &Device::Cpu)?);
        Ok(state)
    }

    /// Restores a [`AdamW::state`]: every entry must be there with its variable's shape.
    pub fn restore(&mut self, state: &BTreeMap<String, Tensor>) -> Result<(), LlmError> {
        let get = |key: String, like: &Var| -> Result<Tensor, LlmError> {
            let tensor =
                state.get(&key).ok_or_else(|| LlmError::BadRequest(format!("the optimizer state has no {key}")))?;
            if tensor.dims() != like.dims() {
                return Err(LlmError::BadRequest(format!(
                    "the optimizer state's {key} has shape {:?}; the variable {:?}",
                    tensor.dims(),
                    like.dims()
                )));
            }
            Ok(tensor.to_dtype(like.dtype())?)
        };
        let mut first = Vec::with_capacity(self.vars.len());
        let mut second = Vec::with_capacity(self.vars.len());
        for (name, var) in &self.vars {
            first.push(get(format!("m.{name}"), var)?);
            second.push(get(format!("v.{name}"), var)?);
        }
        let steps = state
            .get("step")
            .and_then(|t| t.to_dtype(DType::F64).and_then(|t| t.flatten_all()?.to_vec1::<f64>()).ok())
            .and_then(|v| v.first().copied())
            .filter(|s| *s >= 0.0 && s.fract() == 0.0)
            .ok_or_else(|| LlmError::BadRequest("the optimizer state has no valid step count".to_string()))?;
        self.first = first;
        self.second = second;
        self.steps = steps as u64;
        Ok(())
    }
}
