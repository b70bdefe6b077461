//! Training networks on self-play: datasets of positions with search policies and outcomes,
//! filtered for quality ([`dataset`]), and AdamW training of a child from its parent's weights
//! ([`trainer`]); fine-tuning language models, SFT and DPO with LoRA or all weights, or an
//! external trainer ([`finetune`]).

pub mod dataset;
pub mod trainer;

pub use dataset::{Dataset, DatasetStats, Targets};
pub use trainer::{Schedule, TrainConfig, TrainReport, train, train_on_threads};
pub mod finetune;
