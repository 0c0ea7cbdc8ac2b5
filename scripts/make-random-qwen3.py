#!/usr/bin/env python3
"""Write a Hugging Face model directory with Qwen3-0.6B's shape and random bf16 weights.

For benchmarks only: the weights are random (normal, std 0.02; norm weights 1 + 0.2 * N(0, 1),
the rule of ../shared/fixtures/make_qwen3_fixtures.py) but NOT the fixture's exact values, which come
from torch's generator. Needs numpy. The config comes from the fixture's expected.json and the
tokenizer from models/qwen3-tokenizer (scripts/fetch-models.sh qwen3-tokenizer).

    python3 scripts/make-random-qwen3.py OUT_DIR [--fixtures ../shared/fixtures] [--models models]
"""

import argparse
import json
import os
import shutil
import struct
import sys

import numpy as np


def tensor_shapes(cfg):
    hidden = cfg["hidden_size"]
    inter = cfg["intermediate_size"]
    hd = cfg["head_dim"]
    nh = cfg["num_attention_heads"]
    nkv = cfg["num_key_value_heads"]
    shapes = [("model.embed_tokens.weight", (cfg["vocab_size"], hidden))]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        shapes += [
            (p + "input_layernorm.weight", (hidden,)),
            (p + "self_attn.q_proj.weight", (nh * hd, hidden)),
            (p + "self_attn.k_proj.weight", (nkv * hd, hidden)),
            (p + "self_attn.v_proj.weight", (nkv * hd, hidden)),
            (p + "self_attn.o_proj.weight", (hidden, nh * hd)),
            (p + "self_attn.q_norm.weight", (hd,)),
            (p + "self_attn.k_norm.weight", (hd,)),
            (p + "post_attention_layernorm.weight", (hidden,)),
            (p + "mlp.gate_proj.weight", (inter, hidden)),
            (p + "mlp.up_proj.weight", (inter, hidden)),
            (p + "mlp.down_proj.weight", (hidden, inter)),
        ]
    shapes.append(("model.norm.weight", (hidden,)))
    return shapes


def to_bf16_bytes(x):
    # Round to nearest even, as torch's .to(bfloat16) does for finite values.
    u = x.astype(np.float32).view(np.uint32)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return u.astype(np.uint16).tobytes()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--fixtures", default=os.path.join(here, "..", "..", "shared", "fixtures"))
    ap.add_argument("--models", default=os.path.join(here, "..", "models"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    expected = os.path.join(args.fixtures, "qwen3-0.6b-random-expected.json")
    with open(expected) as f:
        cfg = json.load(f)["config"]
    tok_dir = os.path.join(args.models, "qwen3-tokenizer")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        if not os.path.exists(os.path.join(tok_dir, name)):
            sys.exit(f"missing {tok_dir}/{name}: run scripts/fetch-models.sh first")

    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    shapes = tensor_shapes(cfg)
    header = {}
    offset = 0
    for name, shape in shapes:
        n = int(np.prod(shape)) * 2
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    hbytes = json.dumps(header, separators=(",", ":")).encode()
    hbytes += b" " * ((8 - len(hbytes) % 8) % 8)
    path = os.path.join(args.out, "model.safetensors")
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for name, shape in shapes:
            x = rng.standard_normal(shape, dtype=np.float32)
            x = 1.0 + 0.2 * x if name.endswith("norm.weight") else 0.02 * x
            f.write(to_bf16_bytes(x))
    os.replace(path + ".tmp", path)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(tok_dir, name), os.path.join(args.out, name))
    print(f"wrote {args.out}: {len(shapes)} tensors, {offset} bytes of bf16 weights")


if __name__ == "__main__":
    main()
