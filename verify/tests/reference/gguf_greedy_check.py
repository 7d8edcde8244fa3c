#!/usr/bin/env python3
"""Cross-check of gguf_to_hf.py's conversion: greedy decoding straight from the GGUF.

A second computation of the first prompt's greedy continuation, in float64, that reads
the GGUF's tensors as llama.cpp does rather than through the converted directory:

- its own Q4_1 / Q8_0 dequantizer (the GGML block formats), not gguf-py's;
- the q/k projection rows as stored (permuted by llama.cpp's converter), with GGML's
  interleaved ("normal", mode 0) RoPE, which rotates adjacent pairs (2i, 2i + 1);
- ggml's GQA broadcast (query head h reads KV head h // (n_head / n_kv)), tied output.

It must give the same 16 tokens and the same logits as decoder_reference.py on the
converted directory (smollm2_expected.json). As a control it also decodes with the
stored (permuted) rows but Hugging Face's rotate_half RoPE, the mistake the converter's
un-permutation prevents, and reports whether that changes the tokens.

Usage: gguf_greedy_check.py GGUF smollm2_expected.json     (report on stderr; exit 1 on a mismatch)
"""

import json
import math
import sys
import time

import numpy as np
from gguf import GGUFReader, GGMLQuantizationType

NEW_TOKENS = 16


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def dequant(t):
    """GGML blocks of 32 along each row. Q4_1: f16 d, f16 m, 16 bytes of nibbles
    (low nibbles are elements 0..15, high nibbles 16..31), x = d * q + m.
    Q8_0: f16 d, 32 int8, x = d * q."""
    dims = [int(d) for d in reversed(t.shape.tolist())]  # GGUF lists the fastest dimension first
    raw = np.asarray(t.data).reshape(-1)
    if t.tensor_type == GGMLQuantizationType.F32:
        return raw.view(np.float32).reshape(dims).astype(np.float64)
    rows, cols = dims
    if t.tensor_type == GGMLQuantizationType.Q4_1:
        blocks = raw.reshape(-1, 20)
        d = blocks[:, 0:2].copy().view(np.float16).astype(np.float64)
        m = blocks[:, 2:4].copy().view(np.float16).astype(np.float64)
        qs = blocks[:, 4:20]
        q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float64)
        return (d * q + m).reshape(rows, cols)
    if t.tensor_type == GGMLQuantizationType.Q8_0:
        blocks = raw.reshape(-1, 34)
        d = blocks[:, 0:2].copy().view(np.float16).astype(np.float64)
        q = blocks[:, 2:34].copy().view(np.int8).astype(np.float64)
        return (d * q).reshape(rows, cols)
    raise NotImplementedError(t.tensor_type.name)


def rms_norm(x, w, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def rope_interleaved(x, pos, base):
    """GGML_ROPE_TYPE_NORM: pairs (2i, 2i + 1) rotated by pos * base^(-2i/d)."""
    d = x.shape[-1]
    theta = pos[:, None] * base ** (-np.arange(0, d, 2, dtype=np.float64) / d)
    cos, sin = np.cos(theta), np.sin(theta)
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = x0 * cos - x1 * sin
    out[..., 1::2] = x0 * sin + x1 * cos
    return out


def rope_half(x, pos, base):
    """Hugging Face's rotate_half: pairs (i, i + d/2) (the control)."""
    d = x.shape[-1]
    theta = pos[:, None] * base ** (-np.arange(0, d, 2, dtype=np.float64) / d)
    cos, sin = np.cos(np.concatenate([theta, theta], -1)), np.sin(np.concatenate([theta, theta], -1))
    rot = np.concatenate([-x[..., d // 2 :], x[..., : d // 2]], -1)
    return x * cos + rot * sin


class GgufLlama:
    def __init__(self, path):
        r = GGUFReader(path)
        f = lambda k: r.fields[k].contents()  # noqa: E731
        self.n_head = int(f("llama.attention.head_count"))
        self.n_kv = int(f("llama.attention.head_count_kv"))
        self.n_layer = int(f("llama.block_count"))
        self.eps = float(f("llama.attention.layer_norm_rms_epsilon"))
        self.base = float(f("llama.rope.freq_base"))
        self.eos = int(f("tokenizer.ggml.eos_token_id"))
        self.w = {t.name: dequant(t) for t in r.tensors}
        self.out = self.w.get("output.weight", self.w["token_embd.weight"])
        self.hd = self.w["token_embd.weight"].shape[1] // self.n_head

    def logits_last(self, ids, rope):
        n, hd, w = len(ids), self.hd, self.w
        pos = np.arange(n, dtype=np.float64)
        x = w["token_embd.weight"][ids]
        mask = np.triu(np.full((n, n), -np.inf), 1)
        for i in range(self.n_layer):
            p = f"blk.{i}."
            h = rms_norm(x, w[p + "attn_norm.weight"], self.eps)
            q = (h @ w[p + "attn_q.weight"].T).reshape(n, self.n_head, hd).transpose(1, 0, 2)
            k = (h @ w[p + "attn_k.weight"].T).reshape(n, self.n_kv, hd).transpose(1, 0, 2)
            v = (h @ w[p + "attn_v.weight"].T).reshape(n, self.n_kv, hd).transpose(1, 0, 2)
            q, k = rope(q, pos, self.base), rope(k, pos, self.base)
            outs = []
            for head in range(self.n_head):
                kv = head // (self.n_head // self.n_kv)
                s = q[head] @ k[kv].T / math.sqrt(hd) + mask
                s = np.exp(s - s.max(-1, keepdims=True))
                outs.append((s / s.sum(-1, keepdims=True)) @ v[kv])
            x = x + np.concatenate(outs, -1) @ w[p + "attn_output.weight"].T
            h = rms_norm(x, w[p + "ffn_norm.weight"], self.eps)
            g = h @ w[p + "ffn_gate.weight"].T
            u = h @ w[p + "ffn_up.weight"].T
            x = x + (g / (1 + np.exp(-g)) * u) @ w[p + "ffn_down.weight"].T
        x = rms_norm(x[-1:], w["output_norm.weight"], self.eps)
        return (x @ self.out.T)[0]

    def greedy(self, ids, rope):
        seq, new, first = list(ids), [], None
        for _ in range(NEW_TOKENS):
            logits = self.logits_last(seq, rope)
            first = logits if first is None else first
            new.append(int(np.argmax(logits)))
            seq.append(new[-1])
        return new, first


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    expected = json.load(open(sys.argv[2]))
    want = expected["greedy"][0]
    t0 = time.time()
    model = GgufLlama(sys.argv[1])
    got, first = model.greedy(want["prompt_ids"], rope_interleaved)
    head_diff = float(np.abs(first[:8] - np.array(expected["logits_head"])).max())
    log(f"GGUF, permuted q/k rows, interleaved RoPE: {got}")
    log(f"converted, un-permuted rows, rotate_half (expected): {want['generated_ids']}")
    log(f"first 8 logits differ by {head_diff:.2e} at most ({time.time() - t0:.1f} s)")
    control, _ = model.greedy(want["prompt_ids"], rope_half)
    same = sum(1 for a, b in zip(control, want["generated_ids"]) if a == b)
    log(f"control, permuted rows with rotate_half: {control} ({same}/16 positions agree)")
    ok = got == want["generated_ids"] and head_diff < 1e-5
    log("cross-check: " + ("the same 16 tokens" if ok else "MISMATCH"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
