#!/usr/bin/env python3
"""Makes a broken copy of a converted decoder directory, for the verifier's tests.

  make_broken_decoder.py MODEL_DIR OUT_DIR --shuffle-rows
      A botched conversion: the rows of q_proj, o_proj and gate_proj in layers 0, 10
      and 20 are permuted (a fixed seed, so the copy is the same every time). Shapes,
      names and dtypes are untouched; only the numbers are in the wrong places.
  make_broken_decoder.py MODEL_DIR OUT_DIR --swap-tokenizer OTHER_TOKENIZER_JSON
      The right weights with another model's tokenizer.json (e.g. all-MiniLM-L6-v2's).

Everything else is copied unchanged. OUT_DIR is replaced if it exists; it is written
into a temporary directory beside it and renamed at the end.
"""

import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

SEED = 20241201
LAYERS = (0, 10, 20)
PROJECTIONS = ("self_attn.q_proj", "self_attn.o_proj", "mlp.gate_proj")


def shuffle_rows(src, dst):
    tensors = load_file(str(src / "model.safetensors"))
    rng = np.random.default_rng(SEED)
    for layer in LAYERS:
        for proj in PROJECTIONS:
            name = f"model.layers.{layer}.{proj}.weight"
            w = tensors[name]
            tensors[name] = np.ascontiguousarray(w[rng.permutation(w.shape[0])])
    save_file(tensors, str(dst / "model.safetensors"), metadata={"format": "pt"})


def main():
    args = sys.argv[1:]
    if len(args) < 3 or args[2] not in ("--shuffle-rows", "--swap-tokenizer"):
        sys.exit(__doc__)
    src, out = Path(args[0]), Path(args[1])
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out.name + ".tmp-", dir=out.parent))
    try:
        for p in sorted(src.iterdir()):
            if p.is_file() and not p.name.startswith("."):
                if not (args[2] == "--shuffle-rows" and p.name == "model.safetensors"):
                    shutil.copyfile(p, tmp / p.name)
        if args[2] == "--shuffle-rows":
            assert len(args) == 3, __doc__
            shuffle_rows(src, tmp)
        else:
            assert len(args) == 4, __doc__
            shutil.copyfile(args[3], tmp / "tokenizer.json")
        for p in tmp.iterdir():
            p.chmod(0o644)
        tmp.chmod(0o755)
        if out.exists():
            shutil.rmtree(out)
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(out)


if __name__ == "__main__":
    main()
