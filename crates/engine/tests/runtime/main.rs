//! The engine runtime against real models (qwen3-tiny, SmolLM2-135M Q4_1): batched greedy
//! outputs equal running alone and the references, prefix caching, aborts, overload, output
//! processing and failure handling.

mod abort;
mod failure;
mod greedy;
mod output;
mod overload;
mod prefix_cache;
mod prompt_logprobs;
mod support;
