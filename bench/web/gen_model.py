#!/usr/bin/env python3
"""Pushes a model with FILES files and REVISIONS revisions through the native API
(docs/API.md), for bench/web/run.sh. Each revision after the first changes a few
files. Stdlib only."""
import hashlib, json, os, sys, urllib.request

base, token, model = sys.argv[1], sys.argv[2], sys.argv[3]
files_n, revisions_n = int(sys.argv[4]), int(sys.argv[5])

def call(method, path, body=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(f"{base}/api/v1{path}", data=data, method=method)
    req.add_header("authorization", f"Bearer {token}")
    if body is not None:
        req.add_header("content-type", "application/json")
    with urllib.request.urlopen(req) as res:
        text = res.read()
        return json.loads(text) if text else None

def upload(blob):
    digest = hashlib.sha256(blob).hexdigest()
    missing = call("POST", "/blobs/missing", {"blobs": [{"sha256": digest, "size": len(blob)}]})["missing"]
    if missing:
        st = call("POST", "/uploads", {"sha256": digest, "size": len(blob)})
        if not st["stored"]:
            call("PUT", f"/uploads/{st['id']}/parts/0", raw=blob)
            call("POST", f"/uploads/{st['id']}/complete")
    return {"sha256": digest, "size": len(blob)}

readme = b"---\nlicense: apache-2.0\npipeline_tag: text-generation\ntags: [bench]\n---\n# Bench model\n\n" + \
    b"A model with many files.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n" * 20
files = {"README.md": upload(readme)}
for i in range(files_n - 1):
    path = f"shard-{i // 100:02}/file-{i:04}.json"
    files[path] = upload(json.dumps({"file": i, "rev": 0}).encode())
parent = None
first = None
for rev in range(revisions_n):
    if rev:
        for k in range(3):
            i = (rev * 7 + k) % (files_n - 1)
            files[f"shard-{i // 100:02}/file-{i:04}.json"] = upload(json.dumps({"file": i, "rev": rev}).encode())
    body = {"parent": parent, "message": f"revision {rev}",
            "files": [{"path": p, **f} for p, f in sorted(files.items())]}
    parent = call("POST", f"/models/{model}/commits", body)["id"]
    first = first or parent
    if rev % 20 == 0:
        print(f"revision {rev} {parent[:12]}", file=sys.stderr)
print(first, parent)
