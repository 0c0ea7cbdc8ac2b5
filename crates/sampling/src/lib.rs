//! Sampler chain: temperature, top-k, top-p, min-p, penalties, logit bias, seeded RNG, logprobs
