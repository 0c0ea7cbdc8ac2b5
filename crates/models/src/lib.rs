//! trait Model, ForwardBatch, KvSpec and one file per architecture.
//!
//! The engine builds a `ForwardBatch` (tokens of one or more sequences, their positions, block
//! tables and cache slots), owns the `KvTensors`, and calls `Model::forward`, which returns the logits
//! of the rows it asked for. `load` turns a `formats::WeightSource` into a boxed model.

mod attention;
mod batch;
mod decoder;
mod dims;
mod error;
mod kv_cache;
mod linear;
mod llama;
mod lm_head;
mod load;
mod mlp;
mod model;
mod names;
mod output;
mod pack;
mod qwen3;
mod scratch;
mod sublayers;
mod trace;
mod weight_loader;

pub use batch::{ForwardBatch, SeqSlice};
pub use error::{Error, Result};
pub use kv_cache::{KvSpec, KvTensors};
pub use linear::Linear;
pub use load::load;
pub use model::Model;
pub use trace::TraceFn;
