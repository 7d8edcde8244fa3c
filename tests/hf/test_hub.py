"""huggingface_hub (the real client, in the venv running this test) against a
real granary-server: create, upload, download, refs, listings, errors."""

import hashlib
import json
import os
import pathlib
import re
import struct
import subprocess
import sys

import pytest

from conftest import README, make_model, run_hub, safetensors_bytes

HEX40 = re.compile(r"^[0-9a-f]{40}$")
GRANARY_CLI = os.environ.get("GRANARY_CLI", str(pathlib.Path(__file__).resolve().parents[2] / "target" / "debug" / "granary"))


@pytest.fixture(scope="module")
def pushed(server):
    """alice/tiny: created and uploaded with upload_folder and the client's defaults."""
    token = server.user("alice")
    folder = server.scratch()
    files = make_model(folder)
    result = run_hub(server, f"""
        from huggingface_hub import HfApi
        api = HfApi()
        url = api.create_repo("alice/tiny")
        again = api.create_repo("alice/tiny", exist_ok=True)
        info = api.upload_folder(folder_path={folder!r}, repo_id="alice/tiny", commit_message="first")
        result = {{"url": str(url), "again": str(again), "oid": info.oid, "commit_url": info.commit_url}}
    """, token=token)
    return {"token": token, "files": files, "folder": folder, **result}


def test_create_and_upload_folder(server, pushed):
    assert pushed["url"] == f"{server.url}/alice/tiny"
    assert pushed["again"] == pushed["url"]
    assert HEX40.match(pushed["oid"]), pushed["oid"]
    assert pushed["commit_url"].endswith("/alice/tiny/commit/" + pushed["oid"])
    # A second create without exist_ok is a conflict.
    r = run_hub(server, 'from huggingface_hub import HfApi\nHfApi().create_repo("alice/tiny")\nresult = "created"',
                token=pushed["token"], check=False)
    assert r["error"] in ("HfHubHTTPError", "HTTPError") or "HfHubHTTPError" in r["classes"], r


def test_snapshot_download_twice_transfers_once(server, pushed):
    cache = server.scratch()
    before = server.sent()
    code = f"""
        from huggingface_hub import snapshot_download
        result = snapshot_download("alice/tiny", cache_dir={cache!r})
    """
    path = pathlib.Path(run_hub(server, code))
    assert path.name == pushed["oid"]
    for name, data in pushed["files"].items():
        assert (path / name).read_bytes() == data, name
    total = sum(len(d) for d in pushed["files"].values())
    assert server.sent() - before == total
    # Again into the same cache: nothing is transferred.
    before = server.sent()
    assert pathlib.Path(run_hub(server, code)) == path
    assert server.sent() == before


def test_hf_hub_download_and_cli(server, pushed):
    cache = server.scratch()
    p = run_hub(server, f"""
        from huggingface_hub import hf_hub_download
        result = hf_hub_download("alice/tiny", "model-00002-of-00003.safetensors", cache_dir={cache!r})
    """)
    assert pathlib.Path(p).read_bytes() == pushed["files"]["model-00002-of-00003.safetensors"]
    # Blobs are named by the SHA-256 ETag.
    blob = pathlib.Path(p).resolve()
    assert blob.name == hashlib.sha256(pushed["files"]["model-00002-of-00003.safetensors"]).hexdigest()

    hf = pathlib.Path(sys.executable).parent / "hf"
    env = dict(os.environ, HF_ENDPOINT=server.url, HF_HOME=server.scratch(), HF_HUB_DISABLE_PROGRESS_BARS="1")
    env.pop("HF_TOKEN", None)
    out = subprocess.run([str(hf), "download", "alice/tiny", "tokenizer/vocab.txt"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    printed = out.stdout.strip().splitlines()[-1].strip()
    printed = printed.split("path:", 1)[1].strip() if printed.startswith("path:") else printed
    assert pathlib.Path(printed).read_bytes() == b"a\nb\nc\n"
    local = server.scratch()
    out = subprocess.run([str(hf), "download", "alice/tiny", "--local-dir", local],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    for name, data in pushed["files"].items():
        assert (pathlib.Path(local) / name).read_bytes() == data, name


def test_model_info_and_listing(server, pushed):
    info = run_hub(server, """
        from huggingface_hub import HfApi
        i = HfApi().model_info("alice/tiny", files_metadata=True)
        result = {"id": i.id, "sha": i.sha, "private": i.private, "card": i.card_data.to_dict() if i.card_data else {},
                  "siblings": {s.rfilename: [s.size, s.blob_id] for s in i.siblings},
                  "st": i.safetensors.total if i.safetensors else None, "tags": i.tags,
                  "pipeline": i.pipeline_tag, "library": i.library_name, "author": i.author}
    """)
    assert info["id"] == "alice/tiny" and info["sha"] == pushed["oid"] and info["private"] is False
    assert info["card"]["license"] == "apache-2.0"
    assert set(info["siblings"]) == set(pushed["files"])
    for name, data in pushed["files"].items():
        size, blob_id = info["siblings"][name]
        assert size == len(data)
        assert blob_id == hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest(), name
    assert info["st"] == 200_000 + 150_000 + 100_000
    assert "granary-test" in info["tags"] and info["pipeline"] == "text-generation"
    assert info["author"] == "alice"

    listed = run_hub(server, """
        from huggingface_hub import HfApi
        api = HfApi()
        result = {"search": [m.id for m in api.list_models(search="tiny", author="alice")],
                  "other": [m.id for m in api.list_models(author="nobody-here")],
                  "filtered": [m.id for m in api.list_models(filter="granary-test")]}
    """)
    assert "alice/tiny" in listed["search"] and listed["other"] == [] and "alice/tiny" in listed["filtered"]


def test_tree_listing(server, pushed):
    tree = run_hub(server, """
        from huggingface_hub import HfApi
        result = [[e.path, type(e).__name__, getattr(e, "size", None)]
                  for e in HfApi().list_repo_tree("alice/tiny", recursive=True)]
    """)
    paths = {p: (kind, size) for p, kind, size in tree}
    assert paths["tokenizer"][0] == "RepoFolder"
    for name, data in pushed["files"].items():
        assert paths[name] == ("RepoFile", len(data))


def test_refs_branches_tags(server, pushed):
    r = run_hub(server, f"""
        from huggingface_hub import HfApi, hf_hub_download
        api = HfApi()
        api.create_branch("alice/tiny", branch="dev")
        api.create_tag("alice/tiny", tag="v1.0", tag_message="first release")
        refs = api.list_repo_refs("alice/tiny")
        p = hf_hub_download("alice/tiny", "config.json", revision="v1.0")
        d = hf_hub_download("alice/tiny", "config.json", revision="dev")
        s = hf_hub_download("alice/tiny", "config.json", revision={pushed['oid']!r})
        commits = api.list_repo_commits("alice/tiny")
        result = {{"branches": {{b.name: b.target_commit for b in refs.branches}},
                  "tags": {{t.name: t.target_commit for t in refs.tags}},
                  "same": open(p, "rb").read() == open(d, "rb").read() == open(s, "rb").read(),
                  "commits": [c.commit_id for c in commits]}}
    """, token=pushed["token"])
    assert r["branches"]["main"] == pushed["oid"] and r["branches"]["dev"] == pushed["oid"]
    assert r["tags"]["v1.0"] == pushed["oid"]
    assert r["same"] and r["commits"][0] == pushed["oid"]


def test_second_commit_edits_deletes_and_skips_unchanged(server, pushed):
    token = server.user("carol")
    folder = server.scratch()
    files = make_model(folder, shard_values=(10_000,))
    r = run_hub(server, f"""
        from huggingface_hub import HfApi
        import pathlib
        api = HfApi()
        api.create_repo("carol/edit")
        first = api.upload_folder(folder_path={folder!r}, repo_id="carol/edit").oid
        same = api.upload_folder(folder_path={folder!r}, repo_id="carol/edit").oid
        pathlib.Path({folder!r}, "config.json").write_text('{{"hidden_size": 128}}')
        second = api.upload_file(path_or_fileobj=b"new", path_in_repo="notes/new.txt", repo_id="carol/edit",
                                 parent_commit=first).oid
        third = api.delete_file("tokenizer/vocab.txt", repo_id="carol/edit").oid
        files = sorted(api.list_repo_files("carol/edit"))
        result = {{"first": first, "same": same, "second": second, "third": third, "files": files}}
    """, token=token)
    assert r["same"] == r["first"]
    assert len({r["first"], r["second"], r["third"]}) == 3
    assert "notes/new.txt" in r["files"] and "tokenizer/vocab.txt" not in r["files"]
    # A stale parent commit is refused.
    stale = run_hub(server, f"""
        from huggingface_hub import HfApi
        HfApi().upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="carol/edit", parent_commit={r['first']!r})
    """, token=token, check=False)
    assert "HfHubHTTPError" in stale["classes"], stale


def test_errors(server, pushed):
    bob = server.user("bob")
    run_hub(server, """
        from huggingface_hub import HfApi
        api = HfApi()
        api.create_repo("alice/secret", private=True)
        api.upload_file(path_or_fileobj=b"---\\nlicense: mit\\n---\\n", path_in_repo="README.md", repo_id="alice/secret")
        result = api.model_info("alice/secret").private
    """, token=pushed["token"])
    cases = {
        "missing": ('hf_hub_download("alice/nope", "config.json")', None, "RepositoryNotFoundError"),
        "missing_info": ('HfApi().model_info("alice/nope")', None, "RepositoryNotFoundError"),
        "private_anon": ('hf_hub_download("alice/secret", "README.md")', None, "RepositoryNotFoundError"),
        "private_bob": ('hf_hub_download("alice/secret", "README.md")', bob, "RepositoryNotFoundError"),
        "private_bob_info": ('HfApi().model_info("alice/secret")', bob, "RepositoryNotFoundError"),
        "revision": ('hf_hub_download("alice/tiny", "config.json", revision="nope")', None, "RevisionNotFoundError"),
        "revision_info": ('HfApi().model_info("alice/tiny", revision="nope")', None, "RevisionNotFoundError"),
        "entry": ('hf_hub_download("alice/tiny", "nope.json")', None, "EntryNotFoundError"),
        "dataset": ('hf_hub_download("alice/tiny", "x", repo_type="dataset")', None, "RepositoryNotFoundError"),
    }
    for name, (call, token, expected) in cases.items():
        r = run_hub(server, f"from huggingface_hub import HfApi, hf_hub_download\nresult = str({call})",
                    token=token, check=False)
        assert isinstance(r, dict) and expected in r.get("classes", []), (name, r)
    # The owner sees the private model.
    assert run_hub(server, 'from huggingface_hub import HfApi\nresult = HfApi().model_info("alice/secret").private',
                   token=pushed["token"]) is True
    who = run_hub(server, "from huggingface_hub import HfApi\nresult = HfApi().whoami()", token=bob)
    assert who["name"] == "bob"


def test_gated_repo(server, pushed):
    info = server.get_json("/api/v1/models/alice/tiny")
    if "gated" not in info:
        pytest.skip("gating is not in this server yet (GET /api/v1/models/{id} has no `gated`)")
    grace = server.user("grace")
    run_hub(server, f"""
        from huggingface_hub import HfApi
        api = HfApi()
        api.create_repo("grace/gated")
        api.upload_file(path_or_fileobj=b"---\\nlicense: llama3\\n---\\n", path_in_repo="README.md", repo_id="grace/gated")
    """, token=grace)
    status, _, body = server.request("/api/v1/models/grace/gated/settings", method="PATCH",
                                     headers={"Authorization": f"Bearer {grace}", "Content-Type": "application/json"},
                                     data=b'{"gated": true}')
    assert status == 200, body
    henry = server.user("henry")
    call = 'from huggingface_hub import hf_hub_download\nresult = hf_hub_download("grace/gated", "README.md")'
    for token in (henry, None):
        r = run_hub(server, call, token=token, check=False)
        assert isinstance(r, dict) and "GatedRepoError" in r.get("classes", []), r
    assert run_hub(server, 'from huggingface_hub import HfApi\nresult = HfApi().model_info("grace/gated").gated') == "manual"
    status, _, body = server.request("/api/v1/models/grace/gated/license/accept", method="POST",
                                     headers={"Authorization": f"Bearer {henry}"})
    assert status == 200, body
    assert pathlib.Path(run_hub(server, call, token=henry)).read_bytes().startswith(b"---")
    assert pathlib.Path(run_hub(server, call, token=grace)).read_bytes().startswith(b"---")


def test_lfs_upload_and_download(lfs_server, hf_version):
    """Files over the inline limit go over Git LFS (basic and multipart) with HF_HUB_DISABLE_XET=1."""
    token = lfs_server.user("dave")
    folder = lfs_server.scratch()
    files = make_model(folder, shard_values=(100_000, 400_000))  # 400 KB (basic), 1.6 MB (multipart)
    r = run_hub(lfs_server, f"""
        from huggingface_hub import HfApi
        api = HfApi()
        api.create_repo("dave/big")
        result = api.upload_folder(folder_path={folder!r}, repo_id="dave/big").oid
    """, token=token, env={"HF_HUB_DISABLE_XET": "1"})
    assert HEX40.match(r)
    cache = lfs_server.scratch()
    path = pathlib.Path(run_hub(lfs_server, f"""
        from huggingface_hub import snapshot_download
        result = snapshot_download("dave/big", cache_dir={cache!r})
    """))
    for name, data in files.items():
        assert (path / name).read_bytes() == data, name
    tree = run_hub(lfs_server, """
        from huggingface_hub import HfApi
        result = {e.path: (e.lfs.sha256 if e.lfs else None) for e in HfApi().list_repo_tree("dave/big", recursive=True)
                  if type(e).__name__ == "RepoFile"}
    """)
    big = "model-00002-of-00002.safetensors"
    assert tree[big] == hashlib.sha256(files[big]).hexdigest()
    assert tree["config.json"] is None
    # Uploading the same folder again sends nothing and makes no commit.
    again = run_hub(lfs_server, f"""
        from huggingface_hub import HfApi
        result = HfApi().upload_folder(folder_path={folder!r}, repo_id="dave/big").oid
    """, token=token, env={"HF_HUB_DISABLE_XET": "1"})
    assert again == r


def test_xet_upload_and_download(lfs_server, hf_version):
    """With hf_xet installed and default settings, ≥1.20 clients upload large files over Xet
    (older ones negotiate LFS); the files come back byte-identical through snapshot_download,
    `/resolve` names the Xet file of what came over Xet, and the native API sees an ordinary
    blob with the file's SHA-256."""
    token = lfs_server.user("erin")
    folder = lfs_server.scratch()
    files = make_model(folder, shard_values=(100_000, 2_500_000))  # 400 KB, 10 MB
    r = run_hub(lfs_server, f"""
        from huggingface_hub import HfApi
        api = HfApi()
        api.create_repo("erin/x")
        result = api.upload_folder(folder_path={folder!r}, repo_id="erin/x").oid
    """, token=token)
    assert isinstance(r, str) and HEX40.match(r), r
    big = "model-00002-of-00002.safetensors"
    status, headers, _ = lfs_server.request(f"/erin/x/resolve/main/{big}", method="HEAD")
    assert status == 200
    over_xet = hf_version >= (1, 20)
    if over_xet:
        assert re.fullmatch(r"[0-9a-f]{64}", headers.get("X-Xet-Hash", "")), dict(headers)
        assert "xet-auth" in headers.get("Link", ""), dict(headers)
    else:
        assert headers.get("X-Xet-Hash") is None
    assert headers["X-Linked-Etag"] == '"%s"' % hashlib.sha256(files[big]).hexdigest()
    cache = lfs_server.scratch()
    path = pathlib.Path(run_hub(lfs_server, f"""
        from huggingface_hub import snapshot_download
        result = snapshot_download("erin/x", cache_dir={cache!r})
    """, token=token))
    for name, data in files.items():
        assert (path / name).read_bytes() == data, name
    one = run_hub(lfs_server, f"""
        from huggingface_hub import hf_hub_download
        result = hf_hub_download("erin/x", {big!r}, cache_dir={lfs_server.scratch()!r})
    """, token=token)
    assert pathlib.Path(one).read_bytes() == files[big]
    manifest = lfs_server.get_json("/api/v1/models/erin/x/revisions/main", token=token)
    shas = {f["path"]: f["sha256"] for f in manifest["files"]}
    assert shas[big] == hashlib.sha256(files[big]).hexdigest()


def big_safetensors(tensors, tensor_bytes, seed):
    """A safetensors file of `tensors` U8 tensors of random bytes (incompressible, as weights are)."""
    import random
    rng = random.Random(seed)
    blobs = [rng.randbytes(tensor_bytes) for _ in range(tensors)]
    header, offset = {}, 0
    for i, b in enumerate(blobs):
        header[f"layer{i}.weight"] = {"dtype": "U8", "shape": [len(b)], "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    return struct.pack("<Q", len(head)) + head, blobs


def test_xet_large_file_cli_dedup_and_native_pull(lfs_server, hf_version):
    """A 100 MiB safetensors file through `hf upload` (the CLI): byte-identical back through
    `hf download` and `granary pull`. Over Xet (2.x), a second upload with one tensor of twenty
    changed sends less than 10 % of the file: the client remembers its xorbs, and the server
    accepts them because the same user sent them. Another user with an empty client cache
    uploading the same file sends less than 10 % too: the server's global dedup answers tell
    her of xavier's xorbs, since she may read his public model."""
    token = lfs_server.user("xavier")
    folder = pathlib.Path(lfs_server.scratch())
    (folder / "README.md").write_bytes(README.encode())
    head, tensors = big_safetensors(20, 5 * 1024 * 1024, seed=1)
    (folder / "model.safetensors").write_bytes(head + b"".join(tensors))
    size = (folder / "model.safetensors").stat().st_size
    home = lfs_server.scratch()  # one HF_HOME for both uploads: the client's Xet cache
    hf = pathlib.Path(sys.executable).parent / "hf"

    def upload(token=token, repo="xavier/big", home=home):
        env = dict(os.environ, HF_ENDPOINT=lfs_server.url, HF_TOKEN=token, HF_HOME=home,
                   HF_HUB_DISABLE_TELEMETRY="1", HF_XET_TELEMETRY_ENABLED="false")
        env.pop("HF_HUB_DISABLE_XET", None)
        before = lfs_server.xet_received()
        p = subprocess.run([str(hf), "upload", repo, str(folder), "."], env=env,
                           capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, p.stdout + p.stderr
        return lfs_server.xet_received() - before

    first = upload()
    over_xet = hf_version >= (1, 20)
    if over_xet:
        assert first >= size * 0.9, (first, size)
    else:
        assert first == 0
    # One tensor of twenty changed.
    tensors[7] = bytes(b ^ 0x5A for b in tensors[7])
    data = head + b"".join(tensors)
    (folder / "model.safetensors").write_bytes(data)
    second = upload()
    print(f"received over Xet: first upload {first} bytes, second {second} bytes, file {size} bytes")
    if over_xet:
        assert 0 < second < size * 0.10, (second, size)
        third = upload(token=lfs_server.user("yolanda"), repo="yolanda/copy", home=lfs_server.scratch())
        print(f"received over Xet from another user with an empty cache: {third} bytes")
        assert 0 < third < size * 0.10, (third, size)
    out = lfs_server.scratch()
    env = dict(os.environ, HF_ENDPOINT=lfs_server.url, HF_TOKEN=token, HF_HOME=lfs_server.scratch(),
               HF_HUB_DISABLE_TELEMETRY="1", HF_XET_TELEMETRY_ENABLED="false")
    p = subprocess.run([str(hf), "download", "xavier/big", "--local-dir", out], env=env,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    assert (pathlib.Path(out) / "model.safetensors").read_bytes() == data
    # The native client pulls the same bytes and checks each file's SHA-256.
    pulled = lfs_server.scratch()
    p = subprocess.run([GRANARY_CLI, "--endpoint", lfs_server.url, "--token", token, "-q", "pull",
                        "xavier/big", "-o", pulled],
                       env=dict(os.environ, GRANARY_CACHE=lfs_server.scratch(), GRANARY_CONFIG_DIR=lfs_server.scratch()),
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    assert (pathlib.Path(pulled) / "model.safetensors").read_bytes() == data


def test_interrupted_download_resumes(lfs_server, hf_version):
    """A partial download left in the cache (a killed client) is finished by the next run
    (0.36 resumes it with Range; 2.x starts over); the bytes are exact either way."""
    token = lfs_server.user("frank")
    folder = lfs_server.scratch()
    files = make_model(folder, shard_values=(1_000_000,))  # 4 MB
    run_hub(lfs_server, f"""
        from huggingface_hub import HfApi
        api = HfApi()
        api.create_repo("frank/resume")
        result = api.upload_folder(folder_path={folder!r}, repo_id="frank/resume").oid
    """, token=token, env={"HF_HUB_DISABLE_XET": "1"})
    name = "model-00001-of-00001.safetensors"
    data = files[name]
    sha = hashlib.sha256(data).hexdigest()
    home = lfs_server.scratch()
    blobs = pathlib.Path(home) / "hub" / "models--frank--resume" / "blobs"
    blobs.mkdir(parents=True)
    half = len(data) // 2
    (blobs / f"{sha}.incomplete").write_bytes(data[:half])
    before = lfs_server.sent()
    p = run_hub(lfs_server, f"""
        from huggingface_hub import hf_hub_download
        result = hf_hub_download("frank/resume", {name!r})
    """, home=home)
    assert pathlib.Path(p).read_bytes() == data
    sent = lfs_server.sent() - before
    if hf_version < (1, 0):
        assert sent == len(data) - half
    else:
        assert sent == len(data)
    # The server's ranges: the resumed request and a past-the-end end are both exact.
    status, headers, body = lfs_server.request(f"/frank/resume/resolve/main/{name}",
                                               headers={"Range": f"bytes={half}-{len(data) + 10}"})
    assert status == 206 and body == data[half:]
    assert headers["Content-Range"] == f"bytes {half}-{len(data) - 1}/{len(data)}"
    assert HEX40.match(headers["X-Repo-Commit"]) and headers["ETag"] == f'"{sha}"'
