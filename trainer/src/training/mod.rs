//! What pretraining and fine-tuning share: the backend choice, seeded randomness and noise,
//! batching and time rolls, and the ε-prediction problem (timesteps, noising, min-SNR weights).
//! Depends on nothing of the trainer but [`crate::model`], so `pretrain` and `finetune` both use
//! it without using each other.
mod backend;
mod batch;
pub mod diffusion;
mod predictor;
mod rng;

pub use backend::{Backend, NoCudaBackend};
pub use batch::{roll_rows, sample_indices, spread};
pub use predictor::NoisePredictor;
pub use rng::{normal, seeded_init_lock, step_rng};
