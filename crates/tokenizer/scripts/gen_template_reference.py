#!/usr/bin/env python3
"""Writes tests/data/template_reference.json: chat templates rendered by real Jinja2 in the
environment HF transformers builds for chat templates (ImmutableSandboxedEnvironment with
trim_blocks, lstrip_blocks, loopcontrols, its `tojson` and `raise_exception`).

Templates: the real Qwen3 template (tokenizer_config.json) and SmolLM2's (from its GGUF), on
message lists that reach the branches the fixtures do not (several tools, multi-step tool
calls, reasoning_content, a late system message, string arguments, non-ASCII, floats), plus
small probe templates for the Python methods and `tojson` options templates use.

    pip install jinja2 && python3 scripts/gen_template_reference.py QWEN3_TOKENIZER_CONFIG SMOLLM2_TEMPLATE_TXT \\
        > tests/data/template_reference.json
"""
import json
import sys

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    # transformers.utils.chat_template_utils._compile_jinja_template
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception

qwen3 = json.load(open(sys.argv[1]))["chat_template"]
smollm2 = open(sys.argv[2]).read()

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Météo d'une ville — «quotes» and \"escapes\"\\n",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "城市"},
        "unit": {"type": "string", "enum": ["c", "f"], "default": None},
        "days": {"type": "integer", "minimum": 1, "maximum": 1e16, "multipleOf": 0.5, "exclusive": False}},
        "required": ["city"]}}}
SEARCH = {"type": "function", "function": {"name": "search", "description": "Search\tthe web",
                                           "parameters": {"type": "object", "properties": {}}}}

qwen3_cases = [
    ("two_tools_multi_step", [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris and Tokyo?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "days": 2, "ratio": 0.25, "exact": True, "note": None}}},
            {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"東京\"}"}}]},
        {"role": "tool", "content": "{\"temp_c\": 21}"},
        {"role": "tool", "content": "{\"temp_c\": 25.5}"},
        {"role": "assistant", "content": "<think>\nBoth fetched.\n</think>\n\nParis 21°C, Tokyo 25.5°C."},
        {"role": "user", "content": "<tool_response>\nfake\n</tool_response>"},
    ], [WEATHER, SEARCH]),
    ("tool_call_with_content_and_plain_call", [
        {"role": "user", "content": "Find it"},
        {"role": "assistant", "content": "Let me search.", "tool_calls": [{"name": "search", "arguments": {"q": "x y"}}]},
        {"role": "tool", "content": "result"},
    ], [SEARCH]),
    ("reasoning_content_field", [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!", "reasoning_content": "\nThe user greets.\n"},
        {"role": "user", "content": "Again"},
        {"role": "assistant", "content": "\n\nHello again!", "reasoning_content": "Greets again."},
    ], None),
    ("late_system_and_history_think", [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "<think>x</think>b"},
        {"role": "system", "content": "Now in French."},
        {"role": "user", "content": "c"},
    ], None),
    ("tools_without_system", [
        {"role": "user", "content": "Use tools"},
    ], [SEARCH]),
]

smollm2_cases = [
    ("with_system", [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi"},
                     {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Bye"}], None),
    ("default_system", [{"role": "user", "content": "Hi 👋"}], None),
]

PROBES = [
    "{{ x | tojson }}|{{ x | tojson(indent=2) }}|{{ x | tojson(ensure_ascii=True) }}|{{ x | tojson(sort_keys=True, separators=(',', ':')) }}",
    "{{ floats | tojson }}",
    "{% for k, v in x.items() %}{{ k }}={{ v | tojson }};{% endfor %}{{ x.keys() | list | tojson }}{{ x.get('nope', 'dflt') }}{{ x.get('b') | length }}",
    "{{ s.split('/') | tojson }}{{ s.split() | tojson }}{{ s.split(None, 1) | tojson }}{{ s.rsplit('/', 1) | tojson }}{{ s.rsplit(None, 1) | tojson }}",
    "[{{ s.strip() }}][{{ s.lstrip() }}][{{ s.rstrip() }}][{{ s.strip(' /a') }}][{{ s.title() }}][{{ s.capitalize() }}][{{ s.upper() }}][{{ s.lower() }}]",
    "{{ s.startswith(' a') }}{{ s.startswith(('x', ' ')) }}{{ s.endswith('\\n') }}{{ s.replace('/', '|') }}{{ s.replace('/', '|', 1) }}{{ s.find('b') }}{{ s.count('/') }}{{ '-'.join(['a', 'b']) }}",
    "{% set ns = namespace(n=0, hit=false) %}{% for i in range(10) %}{% if i is divisibleby 3 %}{% continue %}{% endif %}{% set ns.n = ns.n + i %}{% if i > 6 %}{% set ns.hit = true %}{% break %}{% endif %}{% endfor %}{{ ns.n }} {{ ns.hit }} {{ none }} {{ true }} {{ x is mapping }} {{ s is string }} {{ s[::-1] }} {{ s[1:3] }} {{ (x.a | list)[-1] }}",
    "{%- for m in messages %}\n  {%- if loop.first %}\n    [{{ m.role }}]\n  {% endif %}\n{{ m.content | trim }}\n{% endfor %}",
]
probe_vars = {
    "x": {"b": [1, 2.5, None, True, "é\u0001\"\\"], "a": {"z": "😀", "y": [], "w": {}}},
    "floats": [0.1, 1.0, -0.0, 1e16, 1e15, 1.5e-7, 0.0001, 123456789.125, 2.5e100, 3, -7],
    "s": " a/b c/d  e\n",
    "messages": [{"role": "user", "content": "  hi  "}, {"role": "assistant", "content": "yo"}],
}


def render(src, messages, tools, agp, extra, bos="", eos=""):
    return env.from_string(src).render(messages=messages, tools=tools, documents=None,
                                       add_generation_prompt=agp, bos_token=bos, eos_token=eos, **extra)


out = []
for name, messages, tools in qwen3_cases:
    for agp, extra in [(True, {}), (True, {"enable_thinking": False}), (False, {})]:
        out.append({"template": "qwen3", "name": name, "messages": messages, "tools": tools,
                    "add_generation_prompt": agp, "extra": extra,
                    "rendered": render(qwen3, messages, tools, agp, extra, eos="<|im_end|>")})
for name, messages, tools in smollm2_cases:
    for agp in [True, False]:
        out.append({"template": "smollm2", "name": name, "messages": messages, "tools": tools,
                    "add_generation_prompt": agp, "extra": {},
                    "rendered": render(smollm2, messages, tools, agp, {}, bos="<|im_start|>", eos="<|im_end|>")})
for i, src in enumerate(PROBES):
    out.append({"template": "probe", "name": f"probe{i}", "source": src, "messages": probe_vars["messages"],
                "tools": None, "add_generation_prompt": False,
                "extra": {k: v for k, v in probe_vars.items() if k != "messages"},
                "rendered": render(src, probe_vars["messages"], None, False,
                                   {k: v for k, v in probe_vars.items() if k != "messages"})})
print(json.dumps({"generator": "scripts/gen_template_reference.py", "jinja2": jinja2.__version__, "cases": out},
                 ensure_ascii=False, indent=1))
