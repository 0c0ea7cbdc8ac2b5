"""`inferno serve` driven by the official, unmodified `openai` Python client.

Two servers are started on free ports: the default model (SmolLM2-135M-Instruct Q4_1, no
--model) and qwen3-tiny (a Qwen3 HF directory with the real tokenizer and chat template).
Outputs are checked against references nobody here wrote: llama.cpp's llama-server for SmolLM2
(tests/fixtures/smollm2-llamacpp) and HF transformers for qwen3-tiny
(tests/fixtures/qwen3-tiny/expected.json).

The binary is $INFERNO_BIN, else $CARGO_TARGET_DIR/debug/inferno, else target/debug/inferno.
Models come from $INFERNO_MODELS_DIR or models/ (scripts/fetch-models.sh fetches them).
"""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import openai
import pytest
from openai import OpenAI

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
MODELS = Path(os.environ.get("INFERNO_MODELS_DIR", ROOT / "models"))
API_KEY = "test-key-1"
SMOL_NAME = "SmolLM2-135M-Instruct.Q4_1"
TINY_NAME = "qwen3-tiny"
THINK, END_THINK = 151667, 151668


def binary() -> Path:
    if "INFERNO_BIN" in os.environ:
        return Path(os.environ["INFERNO_BIN"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "debug" / "inferno"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class Server:
    def __init__(self, args, log_name):
        exe = binary()
        assert exe.exists(), f"{exe} not built: run `cargo build -p cli` (or set INFERNO_BIN)"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(ROOT / "target" / f"{log_name}.log", "w") if (ROOT / "target").is_dir() else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [str(exe), "serve", "--port", str(self.port), "--api-key", API_KEY, "-t", "2", *args],
            cwd=ROOT,
            stdout=self.log,
            stderr=self.log,
        )
        deadline = time.time() + 120
        while True:
            assert self.proc.poll() is None, f"inferno serve exited with {self.proc.returncode}"
            try:
                if http_get(self.url + "/ready")[0] == 200:
                    break
            except OSError:
                pass
            assert time.time() < deadline, "server not ready after 120 s"
            time.sleep(0.1)

    def client(self, key=API_KEY) -> OpenAI:
        return OpenAI(base_url=self.url + "/v1", api_key=key, max_retries=0, timeout=120)

    def metric(self, name: str) -> float:
        status, text = http_get(self.url + "/metrics")
        assert status == 200
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
        raise AssertionError(f"no metric {name}")

    def stop(self):
        """SIGTERM: the server drains and exits 0."""
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=60)
        if self.log is not subprocess.DEVNULL:
            self.log.close()
        assert code == 0, f"inferno serve exited with {code} after SIGTERM"


def need(path: Path):
    assert path.exists(), f"{path} is missing: run scripts/fetch-models.sh (or set INFERNO_MODELS_DIR)"


@pytest.fixture(scope="module")
def smol():
    need(MODELS / "SmolLM2-135M-Instruct.Q4_1.gguf")
    s = Server([], "pytest-smollm2")  # no --model: the default model
    yield s
    s.stop()


@pytest.fixture(scope="module")
def tiny():
    need(MODELS / "qwen3-tiny" / "model.safetensors")
    s = Server(
        ["-m", str(MODELS / "qwen3-tiny"), "--max-running", "1", "--max-waiting", "1",
         "--max-batched-tokens", "512", "--max-body-bytes", "65536"],
        "pytest-qwen3-tiny",
    )
    yield s
    s.stop()


def load(rel):
    return json.loads((FIXTURES / rel).read_text())


# ---------------------------------------------------------------- SmolLM2 (llama.cpp reference)


def test_models_list(smol):
    models = smol.client().models.list()
    assert [m.id for m in models.data] == [SMOL_NAME]
    assert models.data[0].owned_by == "inferno"
    assert smol.client().models.retrieve(SMOL_NAME).id == SMOL_NAME


def test_completion_matches_llamacpp(smol):
    """Greedy ids equal llama.cpp's up to its first near-tie (top-2 margin < 0.05), and the
    first step's top log-probs agree within the Q4_1 noise band measured between llama.cpp's own
    Q4_1 and F32 runs (0.75, see crates/models/tests/smollm2_q4_1.rs)."""
    case = load("smollm2-llamacpp/SmolLM2-135M-Instruct.Q4_1.json")[0]
    r = smol.client().completions.create(
        model=SMOL_NAME, prompt=case["prompt"], max_tokens=64, temperature=0, logprobs=5,
        extra_body={"ignore_eos": True},
    )
    c = r.choices[0]
    assert c.finish_reason == "length"
    assert r.usage.prompt_tokens == len(case["prompt_tokens"])
    assert r.usage.completion_tokens == 64
    ref_pieces = [step[0][1] for step in case["top5"]]
    stable = next((i for i, s in enumerate(case["top5"]) if s[0][2] - s[1][2] < 0.05), len(ref_pieces))
    assert stable >= 10
    assert c.logprobs.tokens[:stable] == ref_pieces[:stable]
    assert c.text.startswith("".join(ref_pieces[:stable]))
    ours0 = c.logprobs.top_logprobs[0]
    assert list(ours0)[0] == ref_pieces[0]
    for _, piece, lp in case["top5"][0]:
        if piece in ours0:
            assert abs(ours0[piece] - lp) < 0.75, (piece, ours0[piece], lp)
    assert c.logprobs.text_offset[0] == 0


def test_chat_prompt_matches_llama_server(smol):
    """llama-server's rendered prompt (SmolLM2's template adds its default system prompt) is
    exactly what /tokenize renders, and usage counts the same prompt."""
    for case in load("smollm2-llamacpp/SmolLM2-135M-Instruct.Q4_1.chat.json"):
        messages = case["messages"]
        want = case["rendered_prompt_tokens"]
        req = urllib.request.Request(
            smol.url + "/tokenize",
            data=json.dumps({"messages": messages}).encode(),
            headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req) as res:
            assert json.load(res)["tokens"] == want
        r = smol.client().chat.completions.create(model=SMOL_NAME, messages=messages, max_tokens=4, temperature=0)
        assert r.usage.prompt_tokens == len(want)


def test_chat_stream_equals_whole(smol):
    msgs = [{"role": "user", "content": "What is the capital of France?"}]
    c = smol.client()
    whole = c.chat.completions.create(model=SMOL_NAME, messages=msgs, max_tokens=24, temperature=0)
    assert whole.object == "chat.completion"
    assert whole.choices[0].message.role == "assistant"
    assert whole.choices[0].finish_reason in ("stop", "length")
    text = whole.choices[0].message.content
    assert text
    stream = c.chat.completions.create(
        model=SMOL_NAME, messages=msgs, max_tokens=24, temperature=0, stream=True,
        stream_options={"include_usage": True},
    )
    parts, reasons, usage = [], [], None
    for chunk in stream:
        assert chunk.object == "chat.completion.chunk"
        if chunk.usage is not None:
            usage = chunk.usage
            assert chunk.choices == []
            continue
        d = chunk.choices[0].delta
        if d.content:
            parts.append(d.content)
        if chunk.choices[0].finish_reason:
            reasons.append(chunk.choices[0].finish_reason)
    assert "".join(parts) == text
    assert reasons == [whole.choices[0].finish_reason]
    assert usage.completion_tokens == whole.usage.completion_tokens
    assert usage.prompt_tokens == whole.usage.prompt_tokens
    # The second run found the prompt in the prefix cache.
    assert usage.prompt_tokens_details.cached_tokens > 0


def test_completions_stream_echo_n_and_stop(smol):
    c = smol.client()
    prompt = "The capital of France is"
    base = c.completions.create(model=SMOL_NAME, prompt=prompt, max_tokens=30, temperature=0,
                                extra_body={"ignore_eos": True}).choices[0].text
    streamed = "".join(
        ch.choices[0].text for ch in c.completions.create(
            model=SMOL_NAME, prompt=prompt, max_tokens=30, temperature=0, stream=True,
            extra_body={"ignore_eos": True}) if ch.choices
    )
    assert streamed == base
    echo = c.completions.create(model=SMOL_NAME, prompt=prompt, max_tokens=30, temperature=0, echo=True,
                                extra_body={"ignore_eos": True})
    assert echo.choices[0].text == prompt + base
    two = c.completions.create(model=SMOL_NAME, prompt=[prompt, prompt], max_tokens=30, temperature=0, n=2,
                               extra_body={"ignore_eos": True})
    assert [ch.index for ch in two.choices] == [0, 1, 2, 3]
    assert all(ch.text == base for ch in two.choices)
    # A stop string from the middle of the text: the reply ends right before it.
    stop = base[8:13]
    cut = c.completions.create(model=SMOL_NAME, prompt=prompt, max_tokens=30, temperature=0, stop=[stop])
    assert cut.choices[0].text == base[: base.index(stop)]
    assert cut.choices[0].finish_reason == "stop"
    seeded = [c.completions.create(model=SMOL_NAME, prompt=prompt, max_tokens=16, temperature=0.9,
                                   seed=42, n=2).choices for _ in range(2)]
    assert [x.text for x in seeded[0]] == [x.text for x in seeded[1]]


def test_echo_logprobs_rate_the_prompt_like_llamacpp(smol):
    """`echo` with `logprobs`: the prompt's tokens lead the lists (the first with nulls). With the
    reference prompt followed by llama.cpp's first greedy tokens as the prompt, those tokens are
    rated as llama.cpp rated them when generating: log-probs within the Q4_1 noise band of
    test_completion_matches_llamacpp (0.75), the same top piece where llama.cpp's top-2 margin
    is wider than that band; streaming carries the same lists,
    several prompts interleaving with their own indices."""
    case = load("smollm2-llamacpp/SmolLM2-135M-Instruct.Q4_1.json")[0]
    k = 6
    ids = case["prompt_tokens"] + case["generated_tokens"][:k]
    pieces = case["prompt_pieces"] + [step[0][1] for step in case["top5"][:k]]
    c = smol.client()
    r = c.completions.create(model=SMOL_NAME, prompt=ids, max_tokens=3, temperature=0, echo=True,
                             logprobs=5, extra_body={"ignore_eos": True})
    ch = r.choices[0]
    lp = ch.logprobs
    n = len(ids)
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == len(lp.text_offset) == n + 3
    assert lp.tokens[:n] == pieces
    assert lp.token_logprobs[0] is None and lp.top_logprobs[0] is None
    assert ch.text.startswith("".join(pieces))
    assert lp.text_offset[0] == 0
    assert all(b - a == len(t) for a, b, t in zip(lp.text_offset, lp.text_offset[1:], lp.tokens))
    p0 = len(case["prompt_tokens"])
    for j in range(k):
        ours = lp.top_logprobs[p0 + j]
        ref = case["top5"][j]
        assert lp.tokens[p0 + j] == ref[0][1]
        # The top piece is compared where llama.cpp's top-2 margin exceeds the noise band.
        if ref[0][2] - ref[1][2] > 0.75:
            assert list(ours)[0] == ref[0][1], (j, ours, ref)
        assert abs(lp.token_logprobs[p0 + j] - ref[0][2]) < 0.75, (j, lp.token_logprobs[p0 + j], ref[0])
        for _, piece, ref_lp in ref:
            if piece in ours:
                assert abs(ours[piece] - ref_lp) < 0.75, (j, piece, ours[piece], ref_lp)
    # The completion after the echo = the same request without it.
    plain = c.completions.create(model=SMOL_NAME, prompt=ids, max_tokens=3, temperature=0, logprobs=5,
                                 extra_body={"ignore_eos": True}).choices[0]
    assert lp.tokens[n:] == plain.logprobs.tokens
    assert all(abs(a - b) < 1e-4 for a, b in zip(lp.token_logprobs[n:], plain.logprobs.token_logprobs))
    # Streaming, two prompts: per index the same lists as whole responses.
    other = case["prompt_tokens"]
    whole = c.completions.create(model=SMOL_NAME, prompt=[ids, other], max_tokens=3, temperature=0, echo=True,
                                 logprobs=2, extra_body={"ignore_eos": True}).choices
    got = {0: ([], []), 1: ([], [])}
    for chunk in c.completions.create(model=SMOL_NAME, prompt=[ids, other], max_tokens=3, temperature=0,
                                      echo=True, logprobs=2, stream=True, extra_body={"ignore_eos": True}):
        for x in chunk.choices:
            if x.logprobs is not None:
                got[x.index][0].extend(x.logprobs.tokens)
                got[x.index][1].extend(x.logprobs.token_logprobs)
    for w in whole:
        assert got[w.index][0] == w.logprobs.tokens
        assert got[w.index][1][0] is None
        assert all(abs(a - b) < 1e-4 for a, b in zip(got[w.index][1][1:], w.logprobs.token_logprobs[1:]))


def test_chat_logprobs_shape(smol):
    r = smol.client().chat.completions.create(
        model=SMOL_NAME, messages=[{"role": "user", "content": "Say hi"}], max_tokens=8, temperature=0,
        logprobs=True, top_logprobs=3,
    )
    content = r.choices[0].logprobs.content
    assert len(content) == r.usage.completion_tokens
    for t in content:
        assert len(t.top_logprobs) == 3
        assert t.top_logprobs[0].token == t.token  # greedy: the chosen one is the most likely
        assert bytes(t.bytes).decode("utf-8", "replace") == t.token
        assert t.logprob <= 0


def test_errors(smol):
    c = smol.client()
    msgs = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.BadRequestError) as e:
        c.chat.completions.create(model=SMOL_NAME, messages=msgs, temperature=-1)
    assert e.value.status_code == 400
    assert e.value.body["param"] == "temperature"
    assert e.value.body["type"] == "invalid_request_error"
    with pytest.raises(openai.NotFoundError) as e:
        c.chat.completions.create(model="gpt-4o", messages=msgs)
    assert e.value.body["code"] == "model_not_found"
    with pytest.raises(openai.AuthenticationError):
        smol.client(key="wrong").chat.completions.create(model=SMOL_NAME, messages=msgs)
    with pytest.raises(openai.BadRequestError) as e:
        c.chat.completions.create(model=SMOL_NAME, messages=msgs,
                                  tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}])
    assert e.value.body["param"] == "tools"
    with pytest.raises(openai.BadRequestError) as e:
        c.chat.completions.create(model=SMOL_NAME, messages=msgs, response_format={"type": "json_object"})
    assert e.value.body["param"] == "response_format"
    with pytest.raises(openai.BadRequestError) as e:
        c.completions.create(model=SMOL_NAME, prompt="x", max_tokens=100000)
    assert e.value.body["code"] == "context_length_exceeded"
    assert http_get(smol.url + "/health")[0] == 200


def test_disconnect_aborts(smol):
    c = smol.client()
    stream = c.chat.completions.create(
        model=SMOL_NAME, messages=[{"role": "user", "content": "Write a long story."}],
        max_tokens=2000, temperature=0, stream=True, extra_body={"ignore_eos": True},
    )
    for i, _ in enumerate(stream):
        if i == 5:
            break
    stream.close()
    deadline = time.time() + 10
    while smol.metric("inferno_num_requests_running") != 0:
        assert time.time() < deadline, "the abandoned stream is still running"
        time.sleep(0.05)
    assert smol.metric("inferno_kv_cache_blocks_used") == smol.metric("inferno_kv_cache_blocks_cached")


# ---------------------------------------------------------------- qwen3-tiny (HF reference)


def tiny_chat_case():
    exp = load("qwen3-tiny/expected.json")
    return next(p for p in exp["prompts"] if p["kind"] == "chat")


def test_tiny_chat_equals_hf_greedy(tiny):
    """enable_thinking=False reaches the template (the prompt then ends with an empty think
    block) and the reply is HF's greedy continuation; no reasoning_content."""
    p = tiny_chat_case()
    r = tiny.client().chat.completions.create(
        model=TINY_NAME, messages=p["messages"], max_tokens=32, temperature=0,
        extra_body={"ignore_eos": True, "chat_template_kwargs": {"enable_thinking": False}},
    )
    m = r.choices[0].message
    assert m.content == p["greedy"]["decoded"]
    assert r.usage.prompt_tokens == p["n_tokens"]
    assert (m.model_extra or {}).get("reasoning_content") is None


def test_tiny_reasoning_content(tiny):
    """The random weights never pick <think>: logit_bias forces it, so everything after the
    opening tag is reasoning and the content is empty, streamed or not."""
    c = tiny.client()
    kw = dict(model=TINY_NAME, messages=[{"role": "user", "content": "Think."}], max_tokens=6,
              temperature=0, logit_bias={str(THINK): 100})
    m = c.chat.completions.create(**kw).choices[0].message
    assert m.model_extra["reasoning_content"] == "<think>" * 5
    assert m.content == ""
    reasoning, content = "", ""
    for ch in c.chat.completions.create(stream=True, **kw):
        if ch.choices:
            extra = ch.choices[0].delta.model_extra or {}
            reasoning += extra.get("reasoning_content") or ""
            content += ch.choices[0].delta.content or ""
    assert reasoning == "<think>" * 5
    assert content == ""


def test_tiny_queue_full_is_429(tiny):
    """--max-running 1 --max-waiting 1: one running, one waiting, the third is refused."""
    c = tiny.client()
    kw = dict(model=TINY_NAME, messages=[{"role": "user", "content": "go"}], max_tokens=3000,
              temperature=0, stream=True, extra_body={"ignore_eos": True})
    running = c.chat.completions.create(**kw)
    for i, _ in enumerate(running):
        if i == 3:
            break
    waiting = c.chat.completions.create(**kw)
    next(iter(waiting))  # its role chunk: accepted and queued
    with pytest.raises(openai.RateLimitError) as e:
        c.chat.completions.create(model=TINY_NAME, messages=[{"role": "user", "content": "go"}], max_tokens=2)
    assert e.value.status_code == 429
    assert e.value.body["code"] == "queue_full"
    running.close()
    waiting.close()
    deadline = time.time() + 10
    while tiny.metric("inferno_num_requests_running") + tiny.metric("inferno_num_requests_waiting") != 0:
        assert time.time() < deadline
        time.sleep(0.05)


def test_tiny_body_limit_is_413(tiny):
    with pytest.raises(openai.APIStatusError) as e:
        tiny.client().completions.create(model=TINY_NAME, prompt="x" * 100_000, max_tokens=1)
    assert e.value.status_code == 413
    assert e.value.body["code"] == "request_too_large"


def test_health_ready_metrics_open(tiny):
    for path in ["/health", "/ready", "/metrics"]:
        assert http_get(tiny.url + path)[0] == 200, path
    assert tiny.metric("inferno_server_ready") == 1
