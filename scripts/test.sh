#!/usr/bin/env bash
# The whole test suite, as CI runs it: fetch the models the tests need (cached, sha256-checked), then
# formatting, lints and every test of the workspace (tests build optimised; see Cargo.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/fetch-models.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
