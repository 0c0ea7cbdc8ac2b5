#!/usr/bin/env bash
# Runs `inferno bench` and llama.cpp's `llama-bench` on the same GGUF files with the same threads and
# tests, one after the other in this one command, and prints a table with the ratios.
#
#   LLAMA_BENCH=/path/to/llama.cpp/build/bin/llama-bench scripts/bench-vs-llamacpp.sh [FILE.gguf ...]
#
# Options through the environment: THREADS (2), PROMPTS (128,512), GEN (64), REPS (3);
# CARGO_TARGET_DIR is honoured (the inferno binary is taken from there), and INFERNO_BIN=path skips
# the build and runs that binary instead.
# llama.cpp is never part of this repository: build it yourself from a checkout (see BENCHMARKS.md).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
: "${LLAMA_BENCH:?set LLAMA_BENCH to the llama-bench binary}"
threads="${THREADS:-2}"; prompts="${PROMPTS:-128,512}"; gen="${GEN:-64}"; reps="${REPS:-3}"
files=("$@")
[ ${#files[@]} -gt 0 ] || files=("$root/models/SmolLM2-135M-Instruct.Q4_1.gguf")
if [ -n "${INFERNO_BIN:-}" ]; then
  inferno="$INFERNO_BIN"
else
  cargo build --release --quiet --bin inferno --manifest-path "$root/Cargo.toml"
  inferno="${CARGO_TARGET_DIR:-$root/target}/release/inferno"
fi
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; threads $threads; $(date -u +%FT%TZ); load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '| model | test | inferno t/s | llama.cpp t/s | ratio |\n| --- | --- | ---: | ---: | ---: |\n'
for f in "${files[@]}"; do
  "$inferno" bench -m "$f" -t "$threads" -p "$prompts" -n "$gen" -r "$reps" -o json > "$tmp/inferno.json"
  "$LLAMA_BENCH" -m "$f" -t "$threads" -p "$prompts" -n "$gen" -r "$reps" -o json > "$tmp/llama.json" 2>/dev/null
  python3 - "$f" "$tmp/inferno.json" "$tmp/llama.json" <<'PY'
import json, os, sys
name = os.path.basename(sys.argv[1])
ours = json.load(open(sys.argv[2])); theirs = json.load(open(sys.argv[3]))
key = lambda r: (r["n_prompt"], r["n_gen"])
t = {key(r): r for r in theirs}
for r in ours:
    o = r["avg_ts"]; l = t.get(key(r), {}).get("avg_ts")
    test = f"pp{r['n_prompt']}" if r["n_prompt"] else f"tg{r['n_gen']}"
    ls = f"{l:.1f} ± {t[key(r)]['stddev_ts']:.1f}" if l else "n/a"
    ratio = f"{o / l:.2f}x" if l else "n/a"
    print(f"| {name} | {test} | {o:.1f} ± {r['stddev_ts']:.1f} | {ls} | {ratio} |")
PY
  echo "(load average after $(basename "$f"): $(cut -d' ' -f1-3 /proc/loadavg))" >&2
done
