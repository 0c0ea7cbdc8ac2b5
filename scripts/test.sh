#!/usr/bin/env bash
# The whole test suite, as CI runs it: fetch the models the tests need (cached, sha256-checked), then
# formatting, lints and every test of the workspace (tests build optimised; see Cargo.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/fetch-models.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
# The official `openai` Python client, unmodified, against `inferno serve` (tests/python).
cargo build -p cli --locked
python3 -m venv .venv && .venv/bin/pip install -q openai pytest
.venv/bin/pytest -q tests/python
