"""Revision signatures checked by the real `model_signing` tool (sigstore/model-transparency,
`model-signing` on PyPI), with its default options, on directories pulled by `granary pull`:
success on the untouched directory, failure once a byte changes, a file is added or a file is
removed. The same holds for a revision committed over the Hub API (docs/SIGNING.md)."""

import json
import os
import pathlib
import subprocess

import pytest

from conftest import README, make_model, run_hub
from test_hub import GRANARY_CLI

MODEL_SIGNING = os.environ.get("MODEL_SIGNING", "/tmp/granary-model-signing-venv/bin/model_signing")


def verify(model_dir, sig, pub):
    p = subprocess.run([MODEL_SIGNING, "verify", "key", str(model_dir), "--signature", str(sig),
                        "--public_key", str(pub)], capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout + p.stderr


def fetch_signature(server, token, repo, scratch):
    """The registry's current public key and the signature of `repo`'s main, as files."""
    keys = server.get_json("/api/v1/keys")["keys"]
    assert keys[0]["status"] == "current"
    pub = pathlib.Path(scratch) / "granary.pub"
    pub.write_text(keys[0]["public_key_pem"])
    sig = pathlib.Path(scratch) / "sig.json"
    status, headers, body = server.request(f"/api/v1/models/{repo}/revisions/main/signature",
                                           headers={"Authorization": f"Bearer {token}"})
    assert status == 200, body
    sig.write_bytes(body)
    return sig, pub


def pull(server, token, repo):
    out = pathlib.Path(server.scratch()) / "model"
    p = subprocess.run([GRANARY_CLI, "--endpoint", server.url, "--token", token, "-q", "pull", repo, "-o", str(out)],
                       env=dict(os.environ, GRANARY_CACHE=server.scratch(), GRANARY_CONFIG_DIR=server.scratch()),
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    return out


def check_tampering_is_caught(model_dir, sig, pub):
    code, out = verify(model_dir, sig, pub)
    assert code == 0 and "Verification succeeded" in out, out
    files = sorted(p for p in model_dir.rglob("*") if p.is_file() and p.name != ".gitattributes")
    victim = files[-1]
    original = victim.read_bytes()
    # A changed byte.
    victim.write_bytes(bytes([original[0] ^ 1]) + original[1:])
    code, out = verify(model_dir, sig, pub)
    assert code != 0 and "Verification succeeded" not in out, out
    victim.write_bytes(original)
    # An added file.
    extra = model_dir / "extra.txt"
    extra.write_text("not signed")
    code, out = verify(model_dir, sig, pub)
    assert code != 0 and "Verification succeeded" not in out, out
    extra.unlink()
    # A removed file.
    victim.unlink()
    code, out = verify(model_dir, sig, pub)
    assert code != 0 and "Verification succeeded" not in out, out
    victim.write_bytes(original)
    code, out = verify(model_dir, sig, pub)
    assert code == 0, out


def test_model_signing_verifies_pulled_models(lfs_server, hf_version):
    if hf_version < (1, 0):
        pytest.skip("one client version is enough: model_signing and granary do the work here")
    token = lfs_server.user("signe")
    folder = lfs_server.scratch()
    make_model(folder, shard_values=(300_000,))
    pathlib.Path(folder, ".gitattributes").write_text("*.safetensors filter=lfs diff=lfs merge=lfs -text\n")
    p = subprocess.run([GRANARY_CLI, "--endpoint", lfs_server.url, "--token", token, "-q", "push", folder, "signe/native"],
                       env=dict(os.environ, GRANARY_CACHE=lfs_server.scratch(), GRANARY_CONFIG_DIR=lfs_server.scratch()),
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    model_dir = pull(lfs_server, token, "signe/native")
    assert (model_dir / ".gitattributes").exists()  # pulled, and ignored by model_signing's defaults
    sig, pub = fetch_signature(lfs_server, token, "signe/native", lfs_server.scratch())
    check_tampering_is_caught(model_dir, sig, pub)

    # A revision committed over the Hub API (upload_folder) is signed alike.
    hub_folder = lfs_server.scratch()
    make_model(hub_folder, shard_values=(200_000,))
    run_hub(lfs_server, f"""
        from huggingface_hub import HfApi
        api = HfApi()
        api.create_repo("signe/hub")
        result = api.upload_folder(folder_path={hub_folder!r}, repo_id="signe/hub").oid
    """, token=token)
    model_dir = pull(lfs_server, token, "signe/hub")
    sig, pub = fetch_signature(lfs_server, token, "signe/hub", lfs_server.scratch())
    check_tampering_is_caught(model_dir, sig, pub)
    # A signature checked against another revision's files fails.
    other_sig, _ = fetch_signature(lfs_server, token, "signe/native", lfs_server.scratch())
    code, out = verify(model_dir, other_sig, pub)
    assert code != 0, out
