#!/usr/bin/env python3
"""Writes tests/data/pretok_reference.json: random strings (edge-case alphabet plus random
assigned code points) and how the real pre-tokenizer regexes split them, computed with the
Python `regex` module (an independent backtracking engine with \\p{..}, (?i:..) and (?!..)).

HF `Split { behavior: Isolated }` semantics: the matches plus the unmatched gaps between them.
SmolLM: HF `Digits { individual_digits: true }` (each \\p{N} char alone) then the GPT-2 regex.

    pip install regex && python3 scripts/gen_pretok_reference.py > tests/data/pretok_reference.json
"""
import json
import random
import unicodedata

import regex

PATTERNS = {
    "qwen2": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    "llama3": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    "gpt2": r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+",
}
COMPILED = {k: regex.compile(v) for k, v in PATTERNS.items()}


def split(p, t):
    out, last = [], 0
    for m in p.finditer(t):
        if m.start() > last:
            out.append(t[last:m.start()])
        if m.end() > m.start():
            out.append(m.group())
        last = m.end()
    if last < len(t):
        out.append(t[last:])
    return out


def smollm(t):
    out = []
    for span in regex.split(r"(\p{N})", t):
        if span:
            out.extend(split(COMPILED["gpt2"], span))
    return out


ALPHABET = list(
    "aZé ß'sStTrReEvVmMlLdD\u017f\n\r\t\u000b\u000c \u00a0\u2003\u3000\u0085\u2028\u200b"
    "0123456789٣²½Ⅻ〇.,;!?()[]{}<>-_/\\\"'#$%&*+=@^`|~你好日本語한국어😀🚀\u200d👨"
    "\u0301\u093f\u0915Ⓐ\u0345\U0001d7d8\U000e0001\ufeff\u00ad"
)

random.seed(20240601)
texts = []
for _ in range(700):
    texts.append("".join(random.choice(ALPHABET) for _ in range(random.randint(0, 24))))
for _ in range(300):
    cs = []
    for _ in range(random.randint(1, 12)):
        while True:
            c = chr(random.randint(0, 0x2FFFF))
            # Assigned in Unicode 14 (this Python's unicodedata) and so in every engine's tables.
            if unicodedata.category(c) not in ("Cs", "Cn", "Co"):
                break
        cs.append(random.choice([c, " ", "'", "\n", "a", "1"]))
    texts.append("".join(cs))

cases = [
    {"text": t, "qwen2": split(COMPILED["qwen2"], t), "llama3": split(COMPILED["llama3"], t),
     "gpt2": split(COMPILED["gpt2"], t), "smollm": smollm(t)}
    for t in texts
]
head = {"generator": "scripts/gen_pretok_reference.py", "regex_module": regex.__version__, "patterns": PATTERNS}
lines = [json.dumps(c, ensure_ascii=False, separators=(",", ":")) for c in cases]
print(json.dumps(head, ensure_ascii=False)[:-1] + ', "cases": [\n' + ",\n".join(lines) + "\n]}")
