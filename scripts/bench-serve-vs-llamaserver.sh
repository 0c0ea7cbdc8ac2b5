#!/usr/bin/env bash
# Serving side by side: `inferno serve` and llama.cpp's `llama-server` on the same GGUF file, the
# same threads, driven by the same load script (scripts/serve-load.py), one after the other.
#
#   LLAMA_SERVER=/path/to/llama.cpp/build/bin/llama-server scripts/bench-serve-vs-llamaserver.sh [FILE.gguf]
#
# For each concurrency C: both servers are started fresh (llama-server with `-np C` and
# `-c C*SLOT_CTX`, inferno with a KV pool of KV_MB MiB shared by all requests and
# `--max-running` >= C), C streaming clients each send REQS requests (PROMPT token-id prompt,
# GEN tokens, temperature 0, ignore_eos), and output tok/s and p50/p99 TTFT/ITL are compared.
# Then the prefix-cache test: TTFT of a PREFIX-token prompt cold and with its prefix cached
# (llama-server: one slot, `cache_prompt` on, its default).
#
# Environment: THREADS (2), CONC ("1 4 16 64"), REQS ("4 3 2 2", one per concurrency), PROMPT (64),
# GEN (128), SLOT_CTX (256), KV_MB (1024), PREFIX (1000), ROUNDS (3), PORT (18080), INFERNO
# (a built binary; default: cargo build --release), INFERNO_ARGS / LLAMA_ARGS (extra flags),
# SKIP_LLAMA=1 (inferno only). Loopback only. About 5-10 minutes on 2 cores.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
threads="${THREADS:-2}"; conc=(${CONC:-1 4 16 64}); reqs=(${REQS:-4 3 2 2})
prompt="${PROMPT:-64}"; gen="${GEN:-128}"; slot_ctx="${SLOT_CTX:-256}"; kv_mb="${KV_MB:-1024}"
prefix="${PREFIX:-1000}"; rounds="${ROUNDS:-3}"; port="${PORT:-18080}"
file="${1:-$root/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
[ -f "$file" ] || { echo "no model file $file (run scripts/fetch-models.sh)" >&2; exit 1; }
if [ "${SKIP_LLAMA:-0}" != 1 ]; then
  : "${LLAMA_SERVER:?set LLAMA_SERVER to the llama-server binary (or SKIP_LLAMA=1)}"
  export LD_LIBRARY_PATH="$(dirname "$LLAMA_SERVER")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
if [ -z "${INFERNO:-}" ]; then
  cargo build --release --quiet --bin inferno --manifest-path "$root/Cargo.toml"
  INFERNO="${CARGO_TARGET_DIR:-$root/target}/release/inferno"
fi
load="$root/scripts/serve-load.py"
tmp="$(mktemp -d)"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

# wait_ready URL_PATH: polls until HTTP 200 (120 s at most).
wait_ready() {
  for _ in $(seq 1 600); do
    if ! kill -0 "$pid" 2>/dev/null; then echo "server exited; log:" >&2; tail -20 "$tmp/server.log" >&2; exit 1; fi
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$1" || true)
    [ "$code" = 200 ] && return 0
    sleep 0.2
  done
  echo "server not ready after 120 s" >&2; exit 1
}
stop_server() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; }

# start_inferno MAX_RUNNING CTX
start_inferno() {
  "$INFERNO" serve -m "$file" -t "$threads" --host 127.0.0.1 --port "$port" \
    --kv-cache-mb "$kv_mb" -c "$2" --max-running "$1" ${INFERNO_ARGS:-} > "$tmp/server.log" 2>&1 &
  pid=$!; wait_ready /ready
}
# start_llama NP CTX_TOTAL
start_llama() {
  "$LLAMA_SERVER" -m "$file" -t "$threads" -tb "$threads" -np "$1" -c "$2" --host 127.0.0.1 \
    --port "$port" --no-webui ${LLAMA_ARGS:-} > "$tmp/server.log" 2>&1 &
  pid=$!; wait_ready /health
}

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; threads $threads; $(date -u +%FT%TZ)"
echo "model: $(basename "$file"); prompt $prompt tokens, $gen generated (ignore_eos), temperature 0; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
servers=(inferno); [ "${SKIP_LLAMA:-0}" = 1 ] || servers+=(llama)
for i in "${!conc[@]}"; do
  c=${conc[$i]}; r=${reqs[$i]:-2}
  for s in "${servers[@]}"; do
    if [ "$s" = inferno ]; then start_inferno "$(( c > 64 ? c : 64 ))" "$slot_ctx"
    else start_llama "$c" "$(( c * slot_ctx ))"; fi
    python3 "$load" --url "http://127.0.0.1:$port" -c "$c" -r "$r" --prompt-tokens "$prompt" \
      --max-tokens "$gen" --json > "$tmp/$s-$c.json" || { cat "$tmp/$s-$c.json" >&2; exit 1; }
    # inferno's own counters: forward passes and tokens through the model (mean batch per step).
    [ "$s" = inferno ] && curl -s "http://127.0.0.1:$port/metrics" > "$tmp/$s-$c.metrics" || true
    stop_server
    echo "  done: $s C=$c ($(python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['output_tok_s'],1))" "$tmp/$s-$c.json") tok/s; load $(cut -d' ' -f1 /proc/loadavg))" >&2
  done
done

# Prefix cache: one request slot on the llama side so the second request lands in the slot
# holding the first one's prompt.
pctx=$(( prefix + 64 + 16 ))
for s in "${servers[@]}"; do
  if [ "$s" = inferno ]; then start_inferno 64 "$(( pctx > 2048 ? pctx : 2048 ))"
  else start_llama 1 "$(( pctx > 2048 ? pctx : 2048 ))"; fi
  python3 "$load" --url "http://127.0.0.1:$port" --prefix-cache --prefix-tokens "$prefix" \
    --rounds "$rounds" --json > "$tmp/$s-prefix.json" || { cat "$tmp/$s-prefix.json" >&2; exit 1; }
  stop_server
done

echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$tmp" "${servers[*]}" "${conc[*]}" <<'PY'
import json, os, sys
tmp, servers, conc = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
def load(name):
    with open(os.path.join(tmp, name)) as f:
        return json.load(f)
f = lambda v: "-" if v is None else f"{v:.1f}"
both = "llama" in servers
print()
hdr = "| clients | server | reqs | tok/s | TTFT p50 ms | TTFT p99 ms | ITL p50 ms | ITL p99 ms |"
print(hdr); print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for c in conc:
    for s in servers:
        r = load(f"{s}-{c}.json")
        name = "inferno" if s == "inferno" else "llama-server"
        print(f"| {c} | {name} | {r['requests']} | {f(r['output_tok_s'])} | {f(r['ttft_p50_ms'])} | "
              f"{f(r['ttft_p99_ms'])} | {f(r['itl_p50_ms'])} | {f(r['itl_p99_ms'])} |")
steps = []
for c in conc:
    try:
        m = {l.split()[0]: float(l.split()[1]) for l in open(os.path.join(tmp, f"inferno-{c}.metrics"))
             if l and not l.startswith("#") and len(l.split()) == 2}
    except OSError:
        continue
    n, t = m.get("inferno_engine_steps_total"), m.get("inferno_batched_tokens_total")
    if n:
        steps.append(f"C={c}: {int(n)} steps, {t / n:.1f} tokens/step")
if steps:
    print("\ninferno forward passes: " + "; ".join(steps))
if both:
    print()
    print("| clients | tok/s inferno / llama-server | TTFT p50 ratio | ITL p50 ratio |")
    print("| ---: | ---: | ---: | ---: |")
    for c in conc:
        a, b = load(f"inferno-{c}.json"), load(f"llama-{c}.json")
        ratio = lambda x, y: "-" if not x or not y else f"{x / y:.2f}x"
        print(f"| {c} | {ratio(a['output_tok_s'], b['output_tok_s'])} | "
              f"{ratio(a['ttft_p50_ms'], b['ttft_p50_ms'])} | {ratio(a['itl_p50_ms'], b['itl_p50_ms'])} |")
print()
print("| server | prefix tokens | cold TTFT p50 ms | cached-prefix TTFT p50 ms | speed-up |")
print("| --- | ---: | ---: | ---: | ---: |")
for s in servers:
    r = load(f"{s}-prefix.json")
    name = "inferno" if s == "inferno" else "llama-server (cache_prompt, 1 slot)"
    c, w = r["cold_ttft_p50_ms"], r["cached_ttft_p50_ms"]
    print(f"| {name} | {r['prefix_tokens']} | {f(c)} | {f(w)} | {c / w:.1f}x |" if c and w else f"| {name} | - | - | - | - |")
PY
