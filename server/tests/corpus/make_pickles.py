"""Writes a corpus of files that load code in Python, and files that do not.

Usage: python3 make_pickles.py DIR

Into DIR it writes one file per way of smuggling a pickle past a registry:
pickle streams of protocols 0 to 5 (with and without their PROTO opcode,
starting with MARK, calling os.system, with a long string before the
call), PyTorch-style zip checkpoints with `archive/data.pkl` stored late or
deflated, ZIP64 and polyglot archives, NumPy `.npy`/`.npz` object arrays;
and files named `ok_*` that must be accepted (text, a float32 array, a zip
of text files, a safetensors file). It prints the names it wrote.

Every pickle is written by Python's own `pickle` module (or by hand where
pickle cannot produce the opcode, such as INST) and checked with
`pickletools.dis`, which decodes opcodes without running anything. Nothing
here ever unpickles: no `pickle.load`, `pickle.loads` or `numpy.load`.
Python 3.11 standard library only.
"""

import ast
import collections
import io
import json
import os
import pickle
import pickletools
import random
import struct
import sys
import zipfile


class RunsEcho:
    """Pickles as a call to os.system; its pickle is written, never loaded."""

    def __reduce__(self):
        return (os.system, ("echo pwned",))


class Storage:
    """Stands for a tensor storage, pickled as a persistent id as torch.save does."""

    def __init__(self, key):
        self.key = key


class TorchLikePickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", "FloatStorage", obj.key, "cpu", 4)
        return None


def state_dict():
    return collections.OrderedDict([("weight", [0.5, 1.5, -2.0]), ("bias", [0.25])])


def torch_data_pkl():
    out = io.BytesIO()
    TorchLikePickler(out, protocol=2).dump(
        collections.OrderedDict([("weight", Storage("0")), ("bias", Storage("1"))])
    )
    return out.getvalue()


def check_pickles(data):
    """Disassembles each pickle in `data` in turn; raises if one is not a pickle."""
    at = 0
    while at < len(data):
        end = at
        for opcode, _arg, pos in pickletools.genops(data[at:]):
            end = at + pos + 1
            if opcode.name == "STOP":
                break
        pickletools.dis(data[at:end], out=io.StringIO())
        at = end


def npy(descr, payload, shape="(3,)"):
    """An npy v1.0 file as np.save writes one: the header padded to 64 bytes."""
    header = "{'descr': %s, 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    pad = 64 - (10 + len(header) + 1) % 64
    header = (header + " " * pad + "\n").encode("latin1")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + payload


def check_npy(data):
    assert data.startswith(b"\x93NUMPY\x01\x00"), "not npy v1.0"
    (length,) = struct.unpack("<H", data[8:10])
    header = ast.literal_eval(data[10 : 10 + length].decode("latin1"))
    assert set(header) == {"descr", "fortran_order", "shape"}, header
    return header, data[10 + length :]


def zipped(members, method, prefix=b""):
    out = io.BytesIO()
    out.write(prefix)
    with zipfile.ZipFile(out, "w", compression=method) as z:
        for name, data in members:
            z.writestr(name, data)
    return out.getvalue()


def check_zip(data, pickles=()):
    """Opens the archive as Python does; disassembles its pickles (`.pkl`
    members and those named in `pickles`) and its npy payloads."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None
        for name in z.namelist():
            member = z.read(name)
            if name.endswith((".pkl", ".pickle")) or name in pickles:
                check_pickles(member)
            elif member.startswith(b"\x93NUMPY"):
                header, payload = check_npy(member)
                if "O" in str(header["descr"]):
                    check_pickles(payload)


def torch_zip(method):
    """Storages first, like torch.save, so data.pkl lies past the first 4 KiB."""
    return zipped(
        [
            # Random bytes, so that deflate cannot shrink them below 8 KiB.
            ("archive/data/0", random.Random(0).randbytes(8192)),
            ("archive/data/1", random.Random(1).randbytes(4096)),
            ("archive/data.pkl", torch_data_pkl()),
            ("archive/byteorder", b"little"),
            ("archive/version", b"3\n"),
        ],
        method,
    )


def zip64(members):
    """A zip with ZIP64 end records whose plain end record says only 0xFFFF...."""
    limit = zipfile.ZIP_FILECOUNT_LIMIT
    zipfile.ZIP_FILECOUNT_LIMIT = 0
    try:
        data = bytearray(zipped(members, zipfile.ZIP_STORED))
    finally:
        zipfile.ZIP_FILECOUNT_LIMIT = limit
    end = data.rindex(b"PK\x05\x06")
    assert data[end - 20 : end - 16] == b"PK\x06\x07", "no ZIP64 locator"
    data[end + 8 : end + 20] = b"\xff" * 12
    return bytes(data)


def attacks():
    """Files that must be refused: name -> (bytes, checker)."""
    files = {}
    for p in range(6):
        files[f"proto{p}.bin"] = (pickle.dumps(state_dict(), protocol=p), check_pickles)
        files[f"data_only_proto{p}.bin"] = (pickle.dumps([1, "a", {"b": 2.0}, None], protocol=p), check_pickles)
    files["proto2_no_proto.bin"] = (pickle.dumps(state_dict(), protocol=2)[2:], check_pickles)
    files["proto4_no_proto.bin"] = (pickle.dumps(state_dict(), protocol=4)[2:], check_pickles)
    # MARK first: protocol 0 INST (pickle never writes INST any more, so by hand).
    files["starts_with_mark.bin"] = (b"(S'echo pwned'\nios\nsystem\n.", check_pickles)
    files["starts_with_mark_tuple.bin"] = (pickle.dumps((1, "two", 3.0), protocol=0), check_pickles)
    reduce = pickle.dumps(RunsEcho(), protocol=2)
    files["reduce_os_system.pt"] = (reduce, check_pickles)
    for p in (0, 1, 5):
        files[f"reduce_os_system_proto{p}.bin"] = (pickle.dumps(RunsEcho(), protocol=p), check_pickles)
    # Protocol 1 has no PROTO: a 100 000-character string before the call
    # puts the GLOBAL far past any fixed window.
    files["long_string_then_reduce.bin"] = (
        pickle.dumps(["x" * 100_000, RunsEcho()], protocol=1),
        check_pickles,
    )
    files["long_text_line_then_reduce.bin"] = (
        pickle.dumps(["x" * 100_000, RunsEcho()], protocol=0),
        check_pickles,
    )
    files["data_only_then_reduce.bin"] = (
        pickle.dumps([1, 2, 3], protocol=1) + pickle.dumps(RunsEcho(), protocol=0),
        check_pickles,
    )
    files["torch_zip_late_pkl.pt"] = (torch_zip(zipfile.ZIP_STORED), check_zip)
    files["torch_zip_deflated.pt"] = (torch_zip(zipfile.ZIP_DEFLATED), check_zip)
    files["torch_zip64.pt"] = (zip64([("archive/data.pkl", torch_data_pkl())]), check_zip)
    objects = pickle.dumps([1, "two", {"three": 3}], protocol=3)
    files["object_array.npy"] = (npy("'|O'", objects), check_npy)
    files["structured_object.npy"] = (npy("[('a', '<f4'), ('b', '|O')]", objects), check_npy)
    files["object_array.npz"] = (zipped([("arr_0.npy", npy("'|O'", objects))], zipfile.ZIP_STORED), check_zip)
    files["object_array_compressed.npz"] = (
        zipped([("arr_0.npy", npy("'|O'", objects))], zipfile.ZIP_DEFLATED),
        check_zip,
    )
    # NpzFile reads any member with the npy magic as an array.
    files["object_array_renamed.npz"] = (
        zipped([("weights", npy("'|O'", objects))], zipfile.ZIP_DEFLATED),
        check_zip,
    )
    files["pickle_member_other_name.zip"] = (
        zipped([("README.txt", b"weights inside\n"), ("weights.bin", reduce)], zipfile.ZIP_DEFLATED),
        lambda data: check_zip(data, pickles=("weights.bin",)),
    )
    files["polyglot_text_then_zip.bin"] = (
        zipped([("data.pkl", reduce)], zipfile.ZIP_STORED, prefix=b"just a text file\n" * 64),
        check_zip,
    )
    return files


WORDS = "cat dog elephant the of and to in is was for on that with as by it at from his".split()


def safetensors():
    header = {"__metadata__": {"format": "pt"}, "w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + struct.pack("<4f", 1.0, 2.0, 3.0, 4.0)


def accepted():
    """Files that must be accepted: name -> (bytes, checker)."""
    floats = struct.pack("<4f", 0.5, 1.5, 2.5, 3.5)
    files = {
        "ok_float32.npy": (npy("'<f4'", floats, shape="(4,)"), check_npy),
        "ok_structured.npy": (npy("[('a', '<f4'), ('b', '<i8')]", b"\x00" * 36, shape="(3,)"), check_npy),
        "ok_vocab.txt": ("\n".join(WORDS * 50).encode() + b"\n", None),
        # Read as pickle, "c" + two lines is a GLOBAL (module "ats", name "dogs").
        "ok_labels.txt": (b"cats\ndogs\n", None),
        "ok_merges.txt": (b"#version: 0.2\n\xc4\xa0 t\n\xc4\xa0 a\nh e\n", None),
        "ok_readme.md": (b"---\nlicense: apache-2.0\n---\n# A model\n\nTrained on text.\n", None),
        "ok_config.json": (json.dumps({"architectures": ["LlamaForCausalLM"], "hidden_size": 64}).encode(), None),
        "ok_model.safetensors": (safetensors(), None),
        "ok_float32.npz": (zipped([("arr_0.npy", npy("'<f4'", floats, shape="(4,)"))], zipfile.ZIP_DEFLATED), check_zip),
        "ok_text.zip": (
            zipped(
                [("a.txt", "\n".join(WORDS).encode()), ("docs/b.txt", b"Plain text.\n" * 500), ("c.md", b"# c\n")],
                zipfile.ZIP_DEFLATED,
            ),
            check_zip,
        ),
    }
    files["ok_text_stored.zip"] = (zipped([("a.txt", b"cat\ndog\nelephant\n")], zipfile.ZIP_STORED), check_zip)
    return files


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, (data, check) in {**attacks(), **accepted()}.items():
        if check is not None:
            check(data)
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        print(name)


if __name__ == "__main__":
    main()
