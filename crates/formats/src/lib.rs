//! GGUF and safetensors readers, Hugging Face config.json, the WeightSource seam
