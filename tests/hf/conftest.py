"""Fixtures for the Hub-compatibility tests: a real `granary-server` process per
module, users with tokens, and a helper that runs huggingface_hub code in a
fresh interpreter (the client reads HF_ENDPOINT and HF_HUB_DISABLE_XET at import)."""

import json
import os
import pathlib
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import textwrap
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SERVER_BIN = os.environ.get("GRANARY_SERVER", str(ROOT / "target" / "debug" / "granary-server"))


class Server:
    def __init__(self, extra_env=None, args=()):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="granary-hf-"))
        self.data = self.dir / "data"
        env = dict(os.environ)
        env.setdefault("GRANARY_LOG", "warn")
        env.update(extra_env or {})
        self.log = open(self.dir / "server.log", "wb")
        self.proc = subprocess.Popen(
            [SERVER_BIN, "serve", "--data-dir", str(self.data), "--listen", "127.0.0.1:0", *args],
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=env,
        )
        line = self.proc.stdout.readline().decode()
        m = re.search(r"(http://\S+)", line)
        if not m:
            raise RuntimeError(f"granary-server did not start: {line!r}; see {self.dir / 'server.log'}")
        self.url = m.group(1)

    def scratch(self):
        """A new directory for a test's files, removed with the server's own in stop()."""
        return tempfile.mkdtemp(dir=self.dir)

    def user(self, name, admin=False):
        out = subprocess.run(
            [SERVER_BIN, "user", "create", name, "--data-dir", str(self.data), *(["--admin"] if admin else [])],
            capture_output=True, text=True, check=True,
        )
        return out.stdout.strip().splitlines()[-1].strip()

    def admin_token(self):
        """A token of a server administrator (the transfer counters are theirs), made once."""
        if getattr(self, "_admin_token", None) is None:
            self._admin_token = self.user("granary-admin", admin=True)
        return self._admin_token

    def get_json(self, path, token=None):
        req = urllib.request.Request(self.url + path)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read())

    def request(self, path, headers=None, method="GET", data=None):
        """(status, headers, body) without raising on HTTP errors."""
        req = urllib.request.Request(self.url + path, headers=headers or {}, method=method, data=data)
        try:
            with urllib.request.urlopen(req) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def xet_received(self):
        """Bytes of xorbs and shards this server has received over Xet."""
        return self.get_json("/api/v1/stats", token=self.admin_token())["xet_bytes_received"]

    def sent(self):
        return self.get_json("/api/v1/stats", token=self.admin_token())["file_bytes_sent"]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def run_hub(server, code, token=None, env=None, home=None, check=True):
    """Runs `code` (Python; it sets `result`) with the Hub client pointed at
    `server`; returns `result`, or {"error": ExceptionClassName, "message": …}."""
    home = home or server.scratch()
    script = (
        "import json, sys, traceback\n"
        "result = None\n"
        "try:\n"
        + textwrap.indent(textwrap.dedent(code), "    ")
        + "\nexcept Exception as e:\n"
        "    traceback.print_exc()\n"
        "    result = {'error': type(e).__name__, 'classes': [c.__name__ for c in type(e).__mro__], 'message': str(e)}\n"
        "print('@@RESULT@@' + json.dumps(result))\n"
    )
    e = dict(os.environ)
    for k in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_DISABLE_XET", "HF_HUB_OFFLINE"):
        e.pop(k, None)
    e.update({
        "HF_ENDPOINT": server.url,
        "HF_HOME": home,
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1" if token is None else "0",
    })
    if token:
        e["HF_TOKEN"] = token
    e.update(env or {})
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=e, timeout=600)
    lines = [l for l in p.stdout.splitlines() if l.startswith("@@RESULT@@")]
    if not lines:
        raise AssertionError(f"client script crashed:\n{p.stdout}\n{p.stderr}")
    result = json.loads(lines[-1][len("@@RESULT@@"):])
    if check and isinstance(result, dict) and "error" in result and "classes" in result:
        raise AssertionError(f"client raised {result['error']}: {result['message']}\n{p.stderr[-3000:]}")
    return result


def safetensors_bytes(seed, n):
    """A safetensors file with one F32 tensor of `n` values (plain struct/json)."""
    data = bytearray()
    x = seed * 2654435761 % 2**32 or 1
    for _ in range(n):
        x = (1103515245 * x + 12345) % 2**31
        data += struct.pack("<f", (x / 2**31) * 2 - 1)
    header = json.dumps({f"layer{seed}.weight": {"dtype": "F32", "shape": [n], "data_offsets": [0, len(data)]}}).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + bytes(data)


README = "---\nlicense: apache-2.0\ntags:\n- granary-test\npipeline_tag: text-generation\nlibrary_name: transformers\n---\n# Tiny\n\nA generated test model.\n"


def make_model(folder, shard_values=(200_000, 150_000, 100_000)):
    """Writes a small generated model into `folder`; returns {path: bytes}."""
    files = {
        "README.md": README.encode(),
        "config.json": json.dumps({"architectures": ["LlamaForCausalLM"], "hidden_size": 64}).encode(),
        "tokenizer/vocab.txt": b"a\nb\nc\n",
        "empty.txt": b"",
    }
    for i, n in enumerate(shard_values, 1):
        files[f"model-{i:05d}-of-{len(shard_values):05d}.safetensors"] = safetensors_bytes(i, n)
    for path, data in files.items():
        p = pathlib.Path(folder) / path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return files


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def lfs_server():
    """Files over 256 KiB go over LFS; LFS objects over 1 MiB go multipart."""
    s = Server(extra_env={"GRANARY_HF_INLINE_MAX": str(256 * 1024)}, args=("--upload-part-size", str(1024 * 1024)))
    yield s
    s.stop()


@pytest.fixture
def hf_version():
    import importlib.metadata
    return tuple(int(x) for x in importlib.metadata.version("huggingface_hub").split(".")[:2])
