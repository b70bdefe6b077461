//! Policy-value networks (candle, CPU, f32): an observation tensor in, policy logits over the
//! game's actions and a value in [-1, 1] (the player to move's view) out.
//!
//! Two architectures, both described by a small serializable [`Architecture`] recorded in every
//! checkpoint: `mlp(hidden=H,layers=L)` for any observation shape, and
//! `resnet(channels=C,blocks=B,norm=true|false)`, a small residual conv net (3×3 convolutions) for
//! `[planes, rows, columns]` observations with AlphaZero's policy and value heads.
//!
//! The resnet's normalisation (`norm=true`) is a layer norm per position over all of a
//! convolution's outputs (every cell and channel), with a learned scale and shift per channel,
//! after every convolution. Batch norm would make a position's output depend on its batch (or on
//! running statistics that differ between training and search); a per-position norm computes the
//! same in training and in search, so inference stays batch-invariant.
//!
//! Two forward passes:
//! - [`Network::forward`]: candle over a whole batch `[N, observation_size]` → (logits `[N, A]`,
//!   values `[N]`), differentiable — what training uses.
//! - [`InferenceNet::infer`] (module [`inference`]): search's forward pass over a frozen copy of
//!   the weights, with kernels whose result for a position does not depend on the batch (see
//!   there for why not candle).
//!
//! # Threads
//! candle-core 0.11 parallelises on the CPU in three ways (read from its source):
//! 1. matrix products: `gemm` with `Parallelism::Rayon(n)`, `n` from `utils::get_num_threads()`
//!    (`RAYON_NUM_THREADS`, else `num_cpus::get_physical()`, which re-reads `/proc/cpuinfo` on
//!    every call), run as rayon tasks in the *current* rayon pool (the global one outside any);
//! 2. convolutions: `into_par_iter()` over the images, also in the current rayon pool;
//! 3. element-wise operations on at least 65,536 elements: candle's own global "barrier pool" of
//!    `CANDLE_NUM_THREADS` (default: physical cores) − 1 spinning workers, outside rayon.
//!
//! Search never runs candle: [`InferenceNet`] computes in the thread that calls it, so inference
//! uses exactly the threads of its evaluators (see `crate::evaluator`). Training does run candle:
//! run it inside a rayon pool of the threads it may use (`pool.install`), which bounds (1) and (2),
//! and set `RAYON_NUM_THREADS` and `CANDLE_NUM_THREADS` in the environment of the process (before
//! candle first runs) to bound (3) and to spare the `/proc/cpuinfo` read per matrix product.

pub mod inference;

use std::fmt;

use candle_core::{D, Device, Tensor, Var};
use candle_nn::{Conv2d, Conv2dConfig, Linear};
use games::{GameFacts, ParamDef, ParamKind, Params, Spec};
use rand::Rng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

pub use inference::{InferenceNet, Kernels, Scratch};

/// Errors from building or running a network.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// An architecture spec that does not parse or has bad parameters.
    #[error("bad architecture `{spec}`: {reason}")]
    BadArchitecture { spec: String, reason: String },
    /// An architecture that cannot take this game's observations.
    #[error("architecture `{architecture}` does not fit game `{game}`: {reason}")]
    Incompatible { architecture: String, game: String, reason: String },
    /// A parameter tensor the network needs is missing from its source.
    #[error("tensor `{name}` is missing (expected shape {expected:?})")]
    MissingTensor { name: String, expected: Vec<usize> },
    /// A parameter tensor with the wrong shape.
    #[error("tensor `{name}` has shape {found:?}, the architecture needs {expected:?}")]
    ShapeMismatch { name: String, expected: Vec<usize>, found: Vec<usize> },
    /// Input of the wrong size.
    #[error("bad input: {0}")]
    BadInput(String),
    /// An error inside candle.
    #[error("tensor operation failed: {0}")]
    Candle(#[from] candle_core::Error),
}

/// The shape of a network: what a checkpoint records to rebuild it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Architecture {
    /// Fully connected: `layers` hidden layers of `hidden` units (ReLU), then the two heads.
    Mlp { hidden: usize, layers: usize },
    /// A 3×3 conv stem to `channels` planes, `blocks` residual blocks (two 3×3 convs each), and
    /// AlphaZero's heads (policy: 1×1 conv to 2 planes, then linear; value: 1×1 conv to 1 plane,
    /// linear to `channels` units, linear to 1, tanh). Needs `[planes, rows, columns]` observations.
    /// `norm`: a per-position layer norm after every convolution.
    Resnet {
        channels: usize,
        blocks: usize,
        #[serde(default)]
        norm: bool,
    },
}

const MLP_PARAMS: &[ParamDef] = &[
    ParamDef {
        name: "hidden",
        kind: ParamKind::Int { min: 1, max: 4096 },
        default: "64",
        doc: "units per hidden layer",
    },
    ParamDef { name: "layers", kind: ParamKind::Int { min: 0, max: 32 }, default: "2", doc: "hidden layers" },
];

const RESNET_PARAMS: &[ParamDef] = &[
    ParamDef { name: "channels", kind: ParamKind::Int { min: 1, max: 512 }, default: "32", doc: "planes in the trunk" },
    ParamDef { name: "blocks", kind: ParamKind::Int { min: 0, max: 64 }, default: "2", doc: "residual blocks" },
    ParamDef {
        name: "norm",
        kind: ParamKind::Bool,
        default: "false",
        doc: "a per-position layer norm after every convolution",
    },
];

impl Architecture {
    /// Reads `mlp(hidden=64,layers=2)` or `resnet(channels=32,blocks=2)` (missing sizes take
    /// their defaults).
    pub fn parse(text: &str) -> Result<Architecture, NetworkError> {
        let bad = |reason: String| NetworkError::BadArchitecture { spec: text.to_string(), reason };
        let spec = Spec::parse(text).map_err(|e| bad(e.to_string()))?;
        let size = |params: &Params, name: &str| params.int(name) as usize;
        match spec.name.as_str() {
            "mlp" => {
                let params =
                    Params::from_spec("architecture `mlp`", MLP_PARAMS, &spec).map_err(|e| bad(e.to_string()))?;
                Ok(Architecture::Mlp { hidden: size(&params, "hidden"), layers: size(&params, "layers") })
            }
            "resnet" => {
                let params =
                    Params::from_spec("architecture `resnet`", RESNET_PARAMS, &spec).map_err(|e| bad(e.to_string()))?;
                Ok(Architecture::Resnet {
                    channels: size(&params, "channels"),
                    blocks: size(&params, "blocks"),
                    norm: params.bool("norm"),
                })
            }
            other => Err(bad(format!(
                "unknown architecture `{other}`; known: mlp(hidden,layers), resnet(channels,blocks,norm)"
            ))),
        }
    }

    /// Checks that the architecture can take `facts`' observations and produce its actions.
    pub fn check_fits(&self, facts: &GameFacts) -> Result<(), NetworkError> {
        let incompatible = |reason: String| NetworkError::Incompatible {
            architecture: self.to_string(),
            game: facts.name.to_string(),
            reason,
        };
        if facts.num_distinct_actions == 0 {
            return Err(incompatible("the game has no discrete actions to score".to_string()));
        }
        if facts.observation_size() == 0 {
            return Err(incompatible("the game has an empty observation tensor".to_string()));
        }
        if let Architecture::Resnet { .. } = self
            && facts.observation_shape.len() != 3
        {
            return Err(incompatible(format!(
                "a resnet needs [planes, rows, columns] observations, the game's are {:?}; use mlp(...)",
                facts.observation_shape
            )));
        }
        Ok(())
    }
}

impl fmt::Display for Architecture {
    /// The canonical spec, e.g. `resnet(channels=32,blocks=2)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Architecture::Mlp { hidden, layers } => write!(f, "mlp(hidden={hidden},layers={layers})"),
            Architecture::Resnet { channels, blocks, norm: false } => {
                write!(f, "resnet(channels={channels},blocks={blocks})")
            }
            Architecture::Resnet { channels, blocks, norm: true } => {
                write!(f, "resnet(channels={channels},blocks={blocks},norm=true)")
            }
        }
    }
}

/// How a freshly initialised parameter is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// Uniform in `[-bound, bound]`.
    Uniform { bound: f32 },
    /// Every element zero (biases).
    Zeros,
    /// Every element one (a norm's scale).
    Ones,
}

/// Where a network's parameters come from while it is being built: fresh seeded values, or
/// tensors read from a file. Each parameter the network asks for becomes a `Var` (trainable).
pub trait ParameterSource {
    /// The parameter `name` of `shape`; `init` says how a fresh one is drawn.
    fn parameter(&mut self, name: &str, shape: &[usize], init: Init) -> Result<Var, NetworkError>;
}

/// Fresh parameters drawn from a seeded RNG, in the order the network asks for them, so the same
/// seed gives bit-identical weights on every platform (candle's own initialisers are unseeded).
#[derive(Debug)]
pub struct SeededInit {
    rng: Xoshiro256PlusPlus,
}

impl SeededInit {
    pub fn new(seed: u64) -> Self {
        use rand::SeedableRng;
        SeededInit { rng: Xoshiro256PlusPlus::seed_from_u64(seed) }
    }
}

impl ParameterSource for SeededInit {
    fn parameter(&mut self, _name: &str, shape: &[usize], init: Init) -> Result<Var, NetworkError> {
        let count: usize = shape.iter().product();
        let values: Vec<f32> = match init {
            Init::Zeros => vec![0.0; count],
            Init::Ones => vec![1.0; count],
            Init::Uniform { bound } => (0..count).map(|_| self.rng.random_range(-bound..=bound)).collect(),
        };
        Ok(Var::from_tensor(&Tensor::from_vec(values, shape, &Device::Cpu)?)?)
    }
}

/// The parameters of a network with their names, in the order the network asked for them.
pub type NamedVars = Vec<(String, Var)>;

/// A source that records every parameter handed out, so the built network's variables can be
/// listed (for saving and for the optimiser).
struct Recorder<'a> {
    source: &'a mut dyn ParameterSource,
    vars: NamedVars,
}

impl Recorder<'_> {
    fn get(&mut self, name: &str, shape: &[usize], init: Init) -> Result<Tensor, NetworkError> {
        let var = self.source.parameter(name, shape, init)?;
        if var.dims() != shape {
            return Err(NetworkError::ShapeMismatch {
                name: name.to_string(),
                expected: shape.to_vec(),
                found: var.dims().to_vec(),
            });
        }
        let tensor = var.as_tensor().clone();
        self.vars.push((name.to_string(), var));
        Ok(tensor)
    }

    /// A linear layer `inputs → outputs` feeding a ReLU (`relu`: He initialisation) or an output.
    fn linear(&mut self, name: &str, inputs: usize, outputs: usize, relu: bool) -> Result<Linear, NetworkError> {
        let bound = uniform_bound(inputs, if relu { 2.0 } else { 1.0 });
        let weight = self.get(&format!("{name}.weight"), &[outputs, inputs], Init::Uniform { bound })?;
        let bias = self.get(&format!("{name}.bias"), &[outputs], Init::Zeros)?;
        Ok(Linear::new(weight, Some(bias)))
    }

    /// A square convolution with "same" padding; `gain` scales the He bound (residual branches
    /// are scaled down so a deep trunk without normalisation starts near the identity).
    fn conv(
        &mut self,
        name: &str,
        inputs: usize,
        outputs: usize,
        kernel: usize,
        gain: f32,
    ) -> Result<Conv2d, NetworkError> {
        let bound = uniform_bound(inputs * kernel * kernel, 2.0) * gain;
        let weight =
            self.get(&format!("{name}.weight"), &[outputs, inputs, kernel, kernel], Init::Uniform { bound })?;
        let bias = self.get(&format!("{name}.bias"), &[outputs], Init::Zeros)?;
        let config = Conv2dConfig { padding: kernel / 2, ..Default::default() };
        Ok(Conv2d::new(weight, Some(bias), config))
    }
}

impl Recorder<'_> {
    /// A per-channel scale (ones) and shift (zeros) of a layer norm over `channels` planes.
    fn norm(&mut self, name: &str, channels: usize) -> Result<Norm, NetworkError> {
        let scale = self.get(&format!("{name}.scale"), &[channels], Init::Ones)?;
        let shift = self.get(&format!("{name}.shift"), &[channels], Init::Zeros)?;
        Ok(Norm { scale, shift })
    }
}

/// A layer norm's learned per-channel scale and shift (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct Norm {
    pub(crate) scale: Tensor,
    pub(crate) shift: Tensor,
}

/// Added to the variance before its square root.
pub(crate) const NORM_EPSILON: f32 = 1e-5;

impl Norm {
    /// Normalises each position of `x` `[N, C, H, W]` over all its values, then scales and
    /// shifts each channel.
    fn apply(&self, x: &Tensor) -> Result<Tensor, NetworkError> {
        let (rows, channels, _, _) = x.dims4()?;
        let flat = x.reshape((rows, ()))?;
        let centred = flat.broadcast_sub(&flat.mean_keepdim(1)?)?;
        let spread = (centred.sqr()?.mean_keepdim(1)? + NORM_EPSILON as f64)?.sqrt()?;
        let normed = centred.broadcast_div(&spread)?.reshape(x.shape())?;
        let per_channel = |t: &Tensor| t.reshape((1, channels, 1, 1));
        Ok(normed.broadcast_mul(&per_channel(&self.scale)?)?.broadcast_add(&per_channel(&self.shift)?)?)
    }
}

/// The norms of a resnet with `norm=true`: after the stem, after both convolutions of each block,
/// and after each head's 1×1 convolution.
#[derive(Debug, Clone)]
pub(crate) struct ResnetNorms {
    pub(crate) stem: Norm,
    pub(crate) blocks: Vec<(Norm, Norm)>,
    pub(crate) policy: Norm,
    pub(crate) value: Norm,
}

/// `x` through `norm` when there is one.
fn maybe_norm(x: Tensor, norm: Option<&Norm>) -> Result<Tensor, NetworkError> {
    match norm {
        Some(norm) => norm.apply(&x),
        None => Ok(x),
    }
}

/// The bound of a uniform distribution with variance `gain / fan_in`.
fn uniform_bound(fan_in: usize, gain: f32) -> f32 {
    (3.0 * gain / fan_in.max(1) as f32).sqrt()
}

/// A policy-value network for one game.
#[derive(Debug, Clone)]
pub struct Network {
    architecture: Architecture,
    observation_size: usize,
    actions: usize,
    body: Body,
}

// One per network, so the size difference between the variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
enum Body {
    Mlp {
        hidden: Vec<Linear>,
        policy: Linear,
        value: Linear,
    },
    Resnet {
        planes: [usize; 3],
        stem: Conv2d,
        blocks: Vec<(Conv2d, Conv2d)>,
        policy_conv: Conv2d,
        policy_fc: Linear,
        value_conv: Conv2d,
        value_fc1: Linear,
        value_fc2: Linear,
        norms: Option<ResnetNorms>,
    },
}

impl Network {
    /// Builds the network of `architecture` for a game with `facts`, taking its parameters from
    /// `source`; returns it with its parameters as named `Var`s (what training optimises).
    pub fn build(
        architecture: Architecture,
        facts: &GameFacts,
        source: &mut dyn ParameterSource,
    ) -> Result<(Network, NamedVars), NetworkError> {
        architecture.check_fits(facts)?;
        let observation_size = facts.observation_size();
        let actions = facts.num_distinct_actions;
        let mut params = Recorder { source, vars: Vec::new() };
        let body = match architecture {
            Architecture::Mlp { hidden, layers } => {
                let mut trunk = Vec::with_capacity(layers);
                let mut width = observation_size;
                for layer in 0..layers {
                    trunk.push(params.linear(&format!("trunk.{layer}"), width, hidden, true)?);
                    width = hidden;
                }
                let policy = params.linear("policy", width, actions, false)?;
                let value = params.linear("value", width, 1, false)?;
                Body::Mlp { hidden: trunk, policy, value }
            }
            Architecture::Resnet { channels, blocks, norm } => {
                let planes = [facts.observation_shape[0], facts.observation_shape[1], facts.observation_shape[2]];
                let cells = planes[1] * planes[2];
                let stem = params.conv("stem", planes[0], channels, 3, 1.0)?;
                // Each residual branch adds variance; scaling its last conv by 1/sqrt(blocks)
                // keeps the trunk's activations bounded at initialisation without batch norm.
                let branch_gain = 1.0 / (blocks.max(1) as f32).sqrt();
                let mut residual = Vec::with_capacity(blocks);
                for block in 0..blocks {
                    let first = params.conv(&format!("blocks.{block}.conv1"), channels, channels, 3, 1.0)?;
                    let second = params.conv(&format!("blocks.{block}.conv2"), channels, channels, 3, branch_gain)?;
                    residual.push((first, second));
                }
                let policy_conv = params.conv("policy.conv", channels, 2, 1, 1.0)?;
                let policy_fc = params.linear("policy.fc", 2 * cells, actions, false)?;
                let value_conv = params.conv("value.conv", channels, 1, 1, 1.0)?;
                let value_fc1 = params.linear("value.fc1", cells, channels, true)?;
                let value_fc2 = params.linear("value.fc2", channels, 1, false)?;
                let norms = if norm {
                    let stem = params.norm("stem.norm", channels)?;
                    let blocks = (0..blocks)
                        .map(|block| {
                            Ok((
                                params.norm(&format!("blocks.{block}.norm1"), channels)?,
                                params.norm(&format!("blocks.{block}.norm2"), channels)?,
                            ))
                        })
                        .collect::<Result<_, NetworkError>>()?;
                    let policy = params.norm("policy.norm", 2)?;
                    let value = params.norm("value.norm", 1)?;
                    Some(ResnetNorms { stem, blocks, policy, value })
                } else {
                    None
                };
                Body::Resnet {
                    planes,
                    stem,
                    blocks: residual,
                    policy_conv,
                    policy_fc,
                    value_conv,
                    value_fc1,
                    value_fc2,
                    norms,
                }
            }
        };
        let network = Network { architecture, observation_size, actions, body };
        Ok((network, params.vars))
    }

    pub fn architecture(&self) -> Architecture {
        self.architecture
    }

    /// Floats per observation.
    pub fn observation_size(&self) -> usize {
        self.observation_size
    }

    /// Number of policy logits (the game's `num_distinct_actions`).
    pub fn actions(&self) -> usize {
        self.actions
    }

    /// Policy logits `[N, actions]` and values `[N]` (tanh, in [-1, 1]) for observations
    /// `[N, observation_size]`: the whole batch at once, differentiable (for training).
    pub fn forward(&self, observations: &Tensor) -> Result<(Tensor, Tensor), NetworkError> {
        let (_, width) = observations.dims2()?;
        if width != self.observation_size {
            return Err(NetworkError::BadInput(format!(
                "observations have {width} columns, the network takes {}",
                self.observation_size
            )));
        }
        let features = self.trunk(observations)?;
        self.heads(&features)
    }

    /// The convolutional trunk; the identity for an MLP.
    fn trunk(&self, observations: &Tensor) -> Result<Tensor, NetworkError> {
        match &self.body {
            Body::Mlp { .. } => Ok(observations.clone()),
            Body::Resnet { planes, stem, blocks, norms, .. } => {
                let rows = observations.dim(0)?;
                let input = observations.reshape((rows, planes[0], planes[1], planes[2]))?;
                let mut x = maybe_norm(input.apply(stem)?, norms.as_ref().map(|n| &n.stem))?.relu()?;
                for (index, (first, second)) in blocks.iter().enumerate() {
                    let block_norms = norms.as_ref().map(|n| &n.blocks[index]);
                    let inner = maybe_norm(x.apply(first)?, block_norms.map(|(a, _)| a))?.relu()?;
                    let branch = maybe_norm(inner.apply(second)?, block_norms.map(|(_, b)| b))?;
                    x = (x + branch)?.relu()?;
                }
                Ok(x)
            }
        }
    }

    /// The heads: features from [`Network::trunk`] to (logits `[N, A]`, values `[N]`).
    fn heads(&self, features: &Tensor) -> Result<(Tensor, Tensor), NetworkError> {
        match &self.body {
            Body::Mlp { hidden, policy, value } => {
                let mut x = features.clone();
                for layer in hidden {
                    x = x.apply(layer)?.relu()?;
                }
                let logits = x.apply(policy)?;
                let values = x.apply(value)?.tanh()?.squeeze(D::Minus1)?;
                Ok((logits, values))
            }
            Body::Resnet { policy_conv, policy_fc, value_conv, value_fc1, value_fc2, norms, .. } => {
                let rows = features.dim(0)?;
                let policy_planes = maybe_norm(features.apply(policy_conv)?, norms.as_ref().map(|n| &n.policy))?;
                let logits = policy_planes.relu()?.reshape((rows, ()))?.apply(policy_fc)?;
                let values = maybe_norm(features.apply(value_conv)?, norms.as_ref().map(|n| &n.value))?
                    .relu()?
                    .reshape((rows, ()))?
                    .apply(value_fc1)?
                    .relu()?
                    .apply(value_fc2)?
                    .tanh()?
                    .squeeze(D::Minus1)?;
                Ok((logits, values))
            }
        }
    }

    /// A frozen copy of the current weights for search ([`InferenceNet`]).
    pub fn inference(&self) -> Result<InferenceNet, NetworkError> {
        InferenceNet::from_network(self)
    }

    /// Number of scalar parameters in `vars`.
    pub fn parameter_count(vars: &NamedVars) -> usize {
        vars.iter().map(|(_, var)| var.elem_count()).sum()
    }
}

/// Checks at compile time that networks can be shared between threads.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<Network>();
};
