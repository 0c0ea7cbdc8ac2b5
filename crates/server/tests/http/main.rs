//! HTTP tests of the server with qwen3-tiny: a real server on a free port, raw HTTP/1.1
//! requests, responses checked against HF references and OpenAI's shapes.

mod generation;
mod robustness;
mod routes;
mod support;
