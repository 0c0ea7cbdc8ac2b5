#!/usr/bin/env python3
"""Streaming load against an OpenAI-compatible server (inferno serve, llama-server, vLLM ...).

Python standard library only (asyncio over raw HTTP/1.1 sockets, one connection per request), so
the client costs little CPU next to the server on a small machine.

Throughput mode (default): N concurrent clients, each sending R streaming `/v1/completions`
requests one after the other. Every prompt is a list of token ids (the same count for every
request, distinct per request so no prefix cache helps; both servers take token-id prompts),
`max_tokens` fixed, temperature 0, `ignore_eos: true` so every request generates exactly
`max_tokens` tokens. Per request it records the time to the first content chunk (TTFT) and every
gap between content chunks (ITL). It reports output tok/s = generated tokens / wall time of the
whole run, and p50/p99 of TTFT and ITL.

Prefix mode (`--prefix-cache`): for each of K rounds, a unique ~1000-token prefix P is sent as
P + suffix A (cold: nothing of it cached), then P + suffix B (P cached if the server caches
prefixes); both requests ask for one token, and both TTFTs are reported.
llama-server caches the prompt per slot (`cache_prompt`, on by default; the body sends it too).

Usage:
  scripts/serve-load.py --url http://127.0.0.1:8080 --concurrency 16 --requests 4 \
      --prompt-tokens 64 --max-tokens 128 [--json]
  scripts/serve-load.py --url http://127.0.0.1:8080 --prefix-cache --prefix-tokens 1000 [--json]
"""

import argparse
import asyncio
import json
import random
import sys
import time
import urllib.parse


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a list; None when empty."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


class StreamResult:
    def __init__(self):
        self.start = 0.0
        self.chunk_times = []  # arrival of every chunk carrying text
        self.completion_tokens = None  # from the usage chunk, when sent
        self.prompt_tokens = None
        self.cached_tokens = None
        self.error = None
        self.end = 0.0

    @property
    def ttft(self):
        return self.chunk_times[0] - self.start if self.chunk_times else None

    def itls(self):
        t = self.chunk_times
        return [b - a for a, b in zip(t, t[1:])]


async def read_chunked(reader):
    """Yields the pieces of a chunked body (or of a body read to EOF)."""
    while True:
        line = await reader.readline()
        if not line:
            return
        size = int(line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            await reader.readline()
            return
        data = await reader.readexactly(size)
        await reader.readline()
        yield data


async def stream_request(host, port, path, body, headers, res):
    """POSTs `body`, reads the SSE stream and fills `res`."""
    payload = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Content-Type: application/json\r\nAccept: text/event-stream\r\n"
        f"Content-Length: {len(payload)}\r\nConnection: close\r\n"
    )
    for k, v in headers.items():
        head += f"{k}: {v}\r\n"
    head += "\r\n"
    res.start = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(head.encode() + payload)
        await writer.drain()
        status = await reader.readline()
        parts = status.split()
        code = int(parts[1]) if len(parts) > 1 else 0
        chunked = False
        length = None
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            k, _, v = line.decode("latin-1").partition(":")
            k = k.strip().lower()
            if k == "transfer-encoding" and "chunked" in v.lower():
                chunked = True
            elif k == "content-length":
                length = int(v.strip())
        if code != 200:
            data = await (reader.readexactly(length) if length else reader.read())
            res.error = f"HTTP {code}: {data[:300]!r}"
            return
        if chunked:
            pieces = read_chunked(reader)
        else:

            async def to_eof():
                while True:
                    d = await reader.read(65536)
                    if not d:
                        return
                    yield d

            pieces = to_eof()
        buf = b""
        async for piece in pieces:
            now = time.perf_counter()
            buf += piece
            while True:
                i = buf.find(b"\n\n")
                if i < 0:
                    break
                event, buf = buf[:i], buf[i + 2 :]
                for line in event.split(b"\n"):
                    line = line.rstrip(b"\r")
                    if not line.startswith(b"data:"):
                        continue
                    data = line[5:].strip()
                    if data == b"[DONE]":
                        continue
                    try:
                        obj = json.loads(data)
                    except ValueError:
                        res.error = f"bad SSE data {data[:200]!r}"
                        continue
                    if "error" in obj:
                        res.error = str(obj["error"])[:300]
                        continue
                    for ch in obj.get("choices") or []:
                        text = ch.get("text")
                        if text is None:
                            text = (ch.get("delta") or {}).get("content")
                        if text:
                            res.chunk_times.append(now)
                    usage = obj.get("usage")
                    if usage:
                        res.completion_tokens = usage.get("completion_tokens")
                        res.prompt_tokens = usage.get("prompt_tokens")
                        details = usage.get("prompt_tokens_details") or {}
                        res.cached_tokens = details.get("cached_tokens")
    finally:
        res.end = time.perf_counter()
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass


async def first_model_id(host, port, headers):
    """The first id of `GET /v1/models` (both servers require or accept `model`)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        head = f"GET /v1/models HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n"
        for k, v in headers.items():
            head += f"{k}: {v}\r\n"
        writer.write((head + "\r\n").encode())
        await writer.drain()
        raw = await reader.read()
    finally:
        writer.close()
    header, _, body = raw.partition(b"\r\n\r\n")
    if b"chunked" in header.lower():
        out, rest = b"", body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                break
            out, rest = out + rest[:size], rest[size + 2 :]
        body = out
    data = json.loads(body).get("data") or []
    return data[0]["id"] if data else None


def completion_body(args, prompt, max_tokens):
    body = {
        "prompt": prompt,
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
        "ignore_eos": True,
        "cache_prompt": True,
    }
    if args.model:
        body["model"] = args.model
    return body


def token_prompt(rng, n):
    # Ordinary vocabulary ids (no special tokens at the low or high end of typical vocabularies).
    return [rng.randrange(300, 30000) for _ in range(n)]


async def throughput(args, host, port, path, headers):
    results = []
    rng = random.Random(args.seed)
    prompts = [
        [token_prompt(rng, args.prompt_tokens) for _ in range(args.requests)]
        for _ in range(args.concurrency)
    ]

    async def client(c):
        for r in range(args.requests):
            res = StreamResult()
            body = completion_body(args, prompts[c][r], args.max_tokens)
            try:
                await stream_request(host, port, path, body, headers, res)
            except (OSError, asyncio.IncompleteReadError, ValueError) as e:
                res.error = repr(e)
            results.append(res)

    if args.warmup:
        w = StreamResult()
        await stream_request(
            host, port, path, completion_body(args, token_prompt(rng, 8), 4), headers, w
        )
    t0 = time.perf_counter()
    await asyncio.gather(*(client(c) for c in range(args.concurrency)))
    wall = time.perf_counter() - t0
    errors = [r.error for r in results if r.error]
    gen = 0
    for r in results:
        if r.error:
            continue
        gen += r.completion_tokens if r.completion_tokens is not None else len(r.chunk_times)
    ttfts = [r.ttft for r in results if r.ttft is not None and not r.error]
    itls = [g for r in results if not r.error for g in r.itls()]
    short = sum(
        1
        for r in results
        if not r.error and r.completion_tokens is not None and r.completion_tokens != args.max_tokens
    )
    return {
        "mode": "throughput",
        "url": args.url,
        "concurrency": args.concurrency,
        "requests": len(results),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "short_requests": short,
        "prompt_tokens": args.prompt_tokens,
        "max_tokens": args.max_tokens,
        "generated_tokens": gen,
        "wall_s": wall,
        "output_tok_s": gen / wall if wall > 0 else 0.0,
        "ttft_p50_ms": ms(percentile(ttfts, 50)),
        "ttft_p99_ms": ms(percentile(ttfts, 99)),
        "itl_p50_ms": ms(percentile(itls, 50)),
        "itl_p99_ms": ms(percentile(itls, 99)),
        "itl_samples": len(itls),
    }


async def prefix_cache(args, host, port, path, headers):
    rng = random.Random(args.seed + 1)
    rounds = []
    for _ in range(args.rounds):
        prefix = token_prompt(rng, args.prefix_tokens)
        cold = StreamResult()
        warm = StreamResult()
        body = completion_body(args, prefix + token_prompt(rng, args.suffix_tokens), 1)
        await stream_request(host, port, path, body, headers, cold)
        body = completion_body(args, prefix + token_prompt(rng, args.suffix_tokens), 1)
        await stream_request(host, port, path, body, headers, warm)
        for r in (cold, warm):
            if r.error:
                raise RuntimeError(r.error)
        rounds.append(
            {
                "cold_ttft_ms": ms(cold.ttft),
                "cached_ttft_ms": ms(warm.ttft),
                "cold_cached_tokens": cold.cached_tokens,
                "cached_cached_tokens": warm.cached_tokens,
            }
        )
    cold = [r["cold_ttft_ms"] for r in rounds if r["cold_ttft_ms"] is not None]
    warm = [r["cached_ttft_ms"] for r in rounds if r["cached_ttft_ms"] is not None]
    return {
        "mode": "prefix_cache",
        "url": args.url,
        "prefix_tokens": args.prefix_tokens,
        "suffix_tokens": args.suffix_tokens,
        "rounds": rounds,
        "cold_ttft_p50_ms": percentile(cold, 50),
        "cached_ttft_p50_ms": percentile(warm, 50),
    }


def ms(seconds):
    return None if seconds is None else seconds * 1000.0


def fmt(v, spec=".1f"):
    return "-" if v is None else format(v, spec)


def print_table(r):
    if r["mode"] == "throughput":
        print(
            f"{'conc':>5} {'reqs':>5} {'err':>4} {'gen tok':>8} {'wall s':>7} {'tok/s':>8} "
            f"{'TTFT p50':>9} {'TTFT p99':>9} {'ITL p50':>8} {'ITL p99':>8}  (ms)"
        )
        print(
            f"{r['concurrency']:>5} {r['requests']:>5} {r['errors']:>4} {r['generated_tokens']:>8} "
            f"{r['wall_s']:>7.2f} {r['output_tok_s']:>8.1f} {fmt(r['ttft_p50_ms']):>9} "
            f"{fmt(r['ttft_p99_ms']):>9} {fmt(r['itl_p50_ms']):>8} {fmt(r['itl_p99_ms']):>8}"
        )
        if r["first_error"]:
            print(f"first error: {r['first_error']}", file=sys.stderr)
        if r["short_requests"]:
            print(f"{r['short_requests']} requests generated fewer than max_tokens", file=sys.stderr)
    else:
        print(f"prefix {r['prefix_tokens']} + suffix {r['suffix_tokens']} tokens, one output token")
        print(f"{'round':>5} {'cold TTFT ms':>13} {'cached TTFT ms':>15} {'cached tokens':>14}")
        for i, x in enumerate(r["rounds"]):
            print(
                f"{i:>5} {fmt(x['cold_ttft_ms']):>13} {fmt(x['cached_ttft_ms']):>15} "
                f"{fmt(x['cached_cached_tokens'], 'd') if x['cached_cached_tokens'] is not None else '-':>14}"
            )
        print(
            f"  p50 {fmt(r['cold_ttft_p50_ms']):>13} {fmt(r['cached_ttft_p50_ms']):>15}"
        )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--path", default="/v1/completions")
    ap.add_argument("--model", default=None, help="the `model` field (default: none sent)")
    ap.add_argument("--api-key", default=None)
    ap.add_argument("--concurrency", "-c", type=int, default=1)
    ap.add_argument("--requests", "-r", type=int, default=2, help="requests per client")
    ap.add_argument("--prompt-tokens", type=int, default=64)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--no-warmup", dest="warmup", action="store_false")
    ap.add_argument("--prefix-cache", action="store_true", help="cold vs cached-prefix TTFT")
    ap.add_argument("--prefix-tokens", type=int, default=1000)
    ap.add_argument("--suffix-tokens", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = ap.parse_args()

    u = urllib.parse.urlparse(args.url)
    host, port = u.hostname or "127.0.0.1", u.port or 80
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    run = prefix_cache if args.prefix_cache else throughput
    if args.model is None:
        args.model = asyncio.run(first_model_id(host, port, headers))
    r = asyncio.run(run(args, host, port, args.path, headers))
    if args.json:
        print(json.dumps(r))
    else:
        print_table(r)
    if r.get("errors"):
        sys.exit(1)


if __name__ == "__main__":
    main()
