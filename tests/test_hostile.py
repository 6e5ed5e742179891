"""Hostile files: every case ends, fast and small, with an HmmLiveError naming the file, or loads.

Each group of cases runs in one child process (tests/hostile_child.py) under
an address-space cap; each case is timed after the imports and must end
within CASE_SECONDS, and the child's peak RSS must stay within MAX_RSS.
The cases: known hostile files (huge shapes, sizes and counts, paths out of the
folder) beside good files that must still load, every manifest/config field set to
wrong types and sizes, paths out of the folder and to special
files, MIDI past each bound, and byte-fuzzed MIDI files.
"""

from __future__ import annotations

import collections
import copy
import hashlib
import io
import json
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHILD = Path(__file__).resolve().parent / "hostile_child.py"
SHIPPED = ROOT / "checkpoints" / "mel_2bar_folk"
FOLK_MIDI = [ROOT / "checkpoints" / "jam_folk" / n for n in ("clips.mid", "unseen.mid")]
GROOVE = ROOT.parent / "shared" / "data" / "groove"
CASE_SECONDS = 10.0
MAX_RSS = 1024**3
TF_ADDRESS_SPACE = 3 * 1024**3  # TensorFlow maps ~1.3 GiB of address space to import
MIDI_ADDRESS_SPACE = 1536 * 1024**2
MISSING = object()  # a field removed
CKPT_FILES = ("config.json", "hmm_live.json", "weights_manifest.json", "group1-shard1of2", "group1-shard2of2")


class Cases:
    """Cases of one child run, each with its class, expectation and the words its error must name."""

    def __init__(self, root: Path):
        self.root, self.items = root, []

    def add(self, cls: str, kind: str, path: Path, expect: str = "error", names: tuple[str, ...] = ()):
        names = (Path(path).name, *names)  # every message names the file or folder at fault
        self.items.append(
            {"id": len(self.items), "cls": cls, "kind": kind, "path": str(path), "expect": expect, "names": names}
        )


def run_child(cases: Cases, address_space: int, timeout: float) -> tuple[list[dict], int]:
    """Run the cases in one capped child; (one record per case, the child's peak RSS in bytes)."""
    spec = cases.root / "cases.json"
    spec.write_text(json.dumps(cases.items))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, str(CHILD), str(spec), str(address_space)]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
        out, err, code = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as e:
        out, err, code = _text(e.stdout), _text(e.stderr), f"killed after {timeout} s"
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    done = {r["id"]: r for r in lines if "id" in r}
    if code or len(done) != len(cases.items):
        started = [r["start"] for r in lines if "start" in r]
        last = cases.items[started[-1]] if started else None
        pytest.fail(
            f"child exited {code} after {len(done)} of {len(cases.items)} cases; "
            f"last started {last}; stderr: {err[-3000:]}"
        )
    return [done[c["id"]] for c in cases.items], max(r["peak_rss_kb"] for r in lines if "peak_rss_kb" in r) * 1024


def _text(data: bytes | str | None) -> str:
    return data.decode(errors="replace") if isinstance(data, bytes) else data or ""


def check(cases: Cases, address_space: int, timeout: float) -> None:
    """Every case as expected and within time; the child within MAX_RSS; a count per class printed."""
    results, rss = run_child(cases, address_space, timeout)
    bad, counts = [], collections.defaultdict(collections.Counter)
    for case, got in zip(cases.items, results):
        counts[case["cls"]][got["outcome"]] += 1
        problem = _problem(case, got)
        if problem:
            bad.append(f"{case['cls']} {case['path']}: {problem}")
    slowest = max(r["seconds"] for r in results)
    for cls, outcomes in counts.items():
        print(f"{cls}: {sum(outcomes.values())} cases, {dict(outcomes)}")
    print(f"peak RSS {rss / 2**20:.0f} MiB, slowest case {slowest:.2f} s")
    assert not bad, "\n".join(bad)
    assert rss <= MAX_RSS, f"the child's peak RSS was {rss / 2**20:.0f} MiB"


def _problem(case: dict, got: dict) -> str | None:
    if got["outcome"] == "crash":
        return f"crashed: {got['message']}"
    if got["seconds"] > CASE_SECONDS:
        return f"took {got['seconds']:.1f} s"
    if case["expect"] != "any" and got["outcome"] != case["expect"]:
        return f"expected {case['expect']}, got {got['outcome']} {got['message']}"
    missing = [n for n in case["names"] if got["outcome"] == "error" and n not in got["message"]]
    if missing:
        return f"message does not name {missing}: {got['message']}"
    if "root:" in got["message"]:
        return f"message shows a system file's content: {got['message']}"
    return None


# -- checkpoints ---------------------------------------------------------------


def _docs(folder: Path) -> dict[str, object]:
    return {n: json.loads((folder / n).read_text()) for n in CKPT_FILES if n.endswith(".json")}


def make_checkpoint(
    base: Path, folder: Path, docs: dict[str, object] | None = None, shards: dict[str, bytes] | None = None
) -> Path:
    """A copy of `base` (shards hard-linked) with some JSON documents and shards replaced;
    a document set to MISSING is left out."""
    folder.mkdir(parents=True)
    docs, shards = docs or {}, shards or {}
    for name in CKPT_FILES:
        if name in docs:
            if docs[name] is not MISSING:
                (folder / name).write_text(json.dumps(docs[name]))
        elif name not in shards:
            try:
                os.link(base / name, folder / name)
            except OSError:  # another file system: the first copy of the shipped checkpoint
                shutil.copy(base / name, folder / name)
    for name, data in shards.items():
        (folder / name).write_bytes(data)
    return folder


def mutated(doc: object, keys: tuple, value: object) -> object:
    """A deep copy of doc with doc[k1][k2]... set to value (removed if MISSING)."""
    doc = copy.deepcopy(doc)
    parent = doc
    for k in keys[:-1]:
        parent = parent[k]
    if value is MISSING:
        del parent[keys[-1]]
    else:
        parent[keys[-1]] = value
    return doc


def quantized_shards(base: Path, manifest: list) -> tuple[list, bytes]:
    """The base checkpoint as one uint8 shard (the manifest and its bytes), numpy only."""
    blob = b"".join((base / p).read_bytes() for p in manifest[0]["paths"])
    entries, out, offset = [], bytearray(), 0
    for entry in manifest[0]["weights"]:
        count = math.prod(entry["shape"])
        value = np.frombuffer(blob, "<f4", count, offset).astype(np.float64)
        offset += 4 * count
        lo, hi = float(value.min()), float(value.max())
        scale = (hi - lo) / 255 if hi > lo else 1.0
        out += np.round((value - lo) / scale).astype(np.uint8).tobytes()
        entries.append({**entry, "quantization": {"dtype": "uint8", "scale": scale, "min": lo}})
    return [{"paths": ["group1-shard1of1"], "weights": entries}], bytes(out)


WRONG = ["x", -1, 10**12, None, [], {}, 1.5, True, MISSING]


def checkpoint_cases(root: Path) -> Cases:
    cases = Cases(root)
    base = make_checkpoint(SHIPPED, root / "base")
    docs = _docs(base)
    own, js, manifest = docs["hmm_live.json"], docs["config.json"], docs["weights_manifest.json"]
    n = iter(range(10**6))

    def ckpt(cls: str, expect: str = "error", names: tuple[str, ...] = (), **kwargs) -> Path:
        folder = make_checkpoint(base, root / f"ckpt{next(n):04d}", **kwargs)
        cases.add(cls, "checkpoint", folder, expect, names)
        return folder

    def shard_path(path: str, cls: str = "path escapes", names: tuple[str, ...] = ("weights_manifest.json",)):
        return ckpt(cls, names=names, docs={"weights_manifest.json": mutated(manifest, (0, "paths", 0), path)})

    outside = root / "outside-shard"
    shutil.copy(base / "group1-shard1of2", outside)
    # Known hostile checkpoints (huge sizes and shapes, shards out of the folder), and the shipped one as it is.
    ckpt("reproduced", "ok")
    ckpt("reproduced", "ok", docs={"hmm_live.json": MISSING})
    q_manifest, q_shard = quantized_shards(base, manifest)
    ckpt("reproduced", "ok", docs={"weights_manifest.json": q_manifest}, shards={"group1-shard1of1": q_shard})
    for path in ("../outside-shard", str(outside), "/etc/passwd", "/dev/zero"):
        shard_path(path, "reproduced")
    ckpt(
        "reproduced",
        names=("hmm_live.json", "num_steps"),
        docs={"hmm_live.json": mutated(own, ("network", "num_steps"), 10**9)},
    )
    ckpt(
        "reproduced",
        names=("config.json", "numSteps"),
        docs={"hmm_live.json": MISSING, "config.json": mutated(js, ("dataConverter", "args", "numSteps"), 1.6e9)},
    )
    ckpt(
        "reproduced",
        names=("hmm_live.json", "encoder_sizes"),
        docs={"hmm_live.json": mutated(own, ("network", "encoder_sizes"), [100000])},
    )
    for shape in ([-512, 128], [2**62, 2**62], ["512", 128]):
        ckpt(
            "reproduced",
            names=("weights_manifest.json", "shape"),
            docs={"weights_manifest.json": mutated(manifest, (0, "weights", 0, "shape"), shape)},
        )
    ckpt(
        "reproduced",
        names=("weights_manifest.json", "quantization"),
        docs={"weights_manifest.json": mutated(manifest, (0, "weights", 0, "quantization"), "uint8")},
    )
    for segments in ("2", 0):
        ckpt(
            "reproduced",
            names=("config.json", "numSegments"),
            docs={"config.json": mutated(js, ("dataConverter", "args", "numSegments"), segments)},
        )
    ckpt("reproduced", names=("hmm_live.json", "network"), docs={"hmm_live.json": mutated(own, ("network",), [])})
    ckpt(
        "reproduced",
        names=("hmm_live.json", "config"),
        docs={"hmm_live.json": mutated(own, ("config",), "cat-mel_3bar")},
    )
    shard = bytearray((base / "group1-shard1of2").read_bytes())
    shard[:4] = struct.pack("<f", float("nan"))
    ckpt("reproduced", names=("encoder/sigma/kernel", "NaN"), shards={"group1-shard1of2": bytes(shard)})

    # hmm_live.json: every field wrong.
    defaults = {"control_depth", "num_segments", "hierarchical_encoder", "conductor_sizes"}
    for field in own["network"]:
        for value in WRONG:
            valid = (value is MISSING and field in defaults) or (field == "conductor_sizes" and value == [])
            expect = "any" if valid else "error"
            ckpt(
                "hmm_live.json fields",
                expect,
                ("hmm_live.json",),
                docs={"hmm_live.json": mutated(own, ("network", field), value)},
            )
    for keys, values in (
        ((("format",)), [2, "1", None, MISSING]),
        (("config",), [5, [], "nope"]),
        (("network",), [MISSING, "x", 5, {}]),
    ):
        for value in values:
            ckpt("hmm_live.json fields", names=("hmm_live.json",), docs={"hmm_live.json": mutated(own, keys, value)})
    for value in (None, MISSING):
        ckpt("hmm_live.json fields", "ok", docs={"hmm_live.json": mutated(own, ("config",), value)})
    for doc in ("[", "[" * 100000, '"x"', "5", "null"):
        for name in ("hmm_live.json", "config.json", "weights_manifest.json"):
            folder = ckpt("malformed JSON", names=(name,))
            (folder / name).unlink()
            (folder / name).write_text(doc)

    # config.json: every field wrong.
    args = ("dataConverter", "args")
    for keys, values in (
        (("type",), [5, "Other", MISSING]),
        (("dataConverter",), ["x", [], MISSING, None]),
        (("dataConverter", "type"), [5, "Nope", None, []]),
        (args, ["x", [], 5]),
        (args + ("numSteps",), ["32", -16, 0, 33, 10**12, 32.5, None, MISSING, True, 48]),
        (args + ("minPitch",), ["x", -1, 500, None, 1.5]),
        (args + ("maxPitch",), ["x", -1, 500, None, 1.5]),
        (args + ("numSegments",), ["2", 0, -1, 3, 10**9, 2, 1.5]),
        (("chordEncoder",), [5, [], "Nope", "TriadChordEncoder"]),
    ):
        for value in values:
            ckpt("config.json fields", docs={"config.json": mutated(js, keys, value)})

    # weights_manifest.json: every field wrong.
    entry = (0, "weights", 0)
    nan = float("nan")
    for keys, values in (
        ((0,), ["x", 5, None]),
        ((0, "paths"), ["x", [5], [], MISSING, None]),
        ((0, "weights"), ["x", [5], MISSING, []]),
        (entry + ("name",), [5, MISSING, manifest[0]["weights"][1]["name"]]),
        (entry + ("shape",), ["x", [-1], [2**40, 2**40], [1] * 10, [512.5, 128], MISSING, [], [0, 128], [513, 128]]),
        (entry + ("dtype",), ["float64", 5, "int32"]),
        (
            entry + ("quantization",),
            [
                5,
                [],
                {"dtype": "int4"},
                {"dtype": "uint8"},
                {"dtype": "uint8", "scale": "x", "min": 0},
                {"dtype": "uint8", "scale": nan, "min": 0},
                {"dtype": "uint16", "scale": 1.0, "min": float("inf")},
            ],
        ),
    ):
        for value in values:
            ckpt("manifest fields", docs={"weights_manifest.json": mutated(manifest, keys, value)})
    for doc in ({}, "x", [], None):
        ckpt("manifest fields", docs={"weights_manifest.json": doc})

    # Paths out of the folder and to files that are not regular files.
    for path in ("", ".", "sub/../../outside-shard", "group1-shard1of2/..", 5, "a\0b", "/dev/zero/x"):
        shard_path(path)
    special = {"link out": outside, "link to /dev/zero": Path("/dev/zero"), "link to a folder": root}
    for target in special.values():
        folder = ckpt("path escapes", names=("group1-shard1of2",))
        (folder / "group1-shard1of2").unlink()
        (folder / "group1-shard1of2").symlink_to(target)
    for name in ("group1-shard1of2", "config.json", "hmm_live.json", "weights_manifest.json"):
        fifo = ckpt("path escapes", names=(name,))
        (fifo / name).unlink()
        os.mkfifo(fifo / name)
        folder = ckpt("path escapes", names=(name,))
        (folder / name).unlink()
        (folder / name).mkdir()
        folder = ckpt("path escapes", names=(name,))
        (folder / name).unlink()
        (folder / name).symlink_to("/etc/passwd" if name.endswith(".json") else "/dev/zero")
    renamed = mutated(manifest, (0, "paths", 0), "renamed")
    folder = ckpt("path escapes", "ok", docs={"weights_manifest.json": renamed})
    (folder / "group1-shard1of2").rename(folder / "renamed")
    os.mkfifo(root / "fifo-checkpoint")
    for path in (Path("/dev/zero"), root / "fifo-checkpoint"):
        cases.add("path escapes", "checkpoint", path)
    tar_cases(cases, root, base)
    return cases


def tar_cases(cases: Cases, root: Path, base: Path) -> None:
    """Checkpoint .tars: a member declaring 7 GiB, members written outside the folder."""
    huge = tarfile.TarInfo("model.ckpt-1.data-00000-of-00001")
    huge.size = 7 * 1024**3
    with open(root / "huge.tar", "wb") as f:  # a sparse file: the 7 GiB of zeros take no disk
        f.write(huge.tobuf(tarfile.GNU_FORMAT))
        f.truncate(f.tell() + huge.size + 1024)
    cases.add("path escapes", "checkpoint", root / "huge.tar", names=("bytes",))
    for name, info in (
        ("dotdot.tar", tarfile.TarInfo("../escaped.json")),
        ("link.tar", tarfile.TarInfo("weights_manifest.json")),
    ):
        info.size = len(b"[]")
        if name == "link.tar":
            info.type, info.linkname, info.size = tarfile.SYMTYPE, "/etc/passwd", 0
        with tarfile.open(root / name, "w") as tar:
            tar.addfile(info, io.BytesIO(b"[]"))
            tar.add(base / "config.json", "config.json")
        cases.add("path escapes", "checkpoint", root / name)


def shipped_identity(base: Path, own: dict, manifest: list) -> dict:
    """MusicVAE.identity() of the shipped checkpoint, computed from its files (numpy only)."""
    blob = b"".join((base / p).read_bytes() for p in manifest[0]["paths"])
    offsets, offset = {}, 0
    for entry in manifest[0]["weights"]:
        size = 4 * math.prod(entry["shape"])
        offsets[entry["name"]], offset = (offset, size), offset + size
    h = hashlib.sha256()
    for name, (start, size) in sorted(offsets.items()):
        h.update(name.encode())
        h.update(blob[start : start + size])
    return {"config": own["config"], "z_size": own["network"]["z_size"], "weights_sha256": h.hexdigest()[:16]}


def npy_header(shape: tuple, descr: str = "<f4") -> bytes:
    """A .npy file's bytes up to its data: what a hostile member needs to declare any shape."""
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


def live_model_cases(cases: Cases, root: Path) -> None:
    """Saved subspacers: model.json and weights.npz wrong, special files, huge declared arrays and sizes."""
    docs = _docs(SHIPPED)
    meta = {
        "format": 1,
        "kind": "subspacer",
        "fingerprint": "x",
        "info": {},
        "config": {
            "latent_dims": 2,
            "musicvae": shipped_identity(SHIPPED, docs["hmm_live.json"], docs["weights_manifest.json"]),
        },
    }
    small = io.BytesIO()
    np.savez(small, weight_0=np.zeros(3, np.float32))
    npz = {"valid": small.getvalue()}
    for name, data in (
        ("huge", npy_header((2**40,))),
        ("object", npy_header((3,), "|O") + b"\0" * 24),
        ("format9", b"\x93NUMPY\x09\x00" + b"\0" * 64),
    ):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as z:
            z.writestr("weight_0.npy", data)
        npz[name] = buffer.getvalue()
    configs = {
        "huge encoder": {"encoder_sizes": [10**6]},
        "string sizes": {"decoder_sizes": "x"},
        "many layers": {"encoder_sizes": [8] * 100},
        "unknown field": {"units": 5},
        "latent": {"latent_dims": 10**9},
    }
    n = iter(range(10**6))

    def folder(model_json: bytes | None, weights: bytes | None, names: tuple[str, ...] = ()) -> Path:
        path = root / f"live{next(n):03d}"
        path.mkdir()
        for name, data in (("model.json", model_json), ("weights.npz", weights)):
            if data is not None:
                (path / name).write_bytes(data)
        cases.add("live model files", "subspacer", path, names=names)
        return path

    for name in ("huge", "object", "format9"):
        folder(json.dumps(meta).encode(), npz[name], ("weights.npz",) if name != "format9" else ())
    for change in configs.values():
        config = {**meta["config"], **change}
        folder(json.dumps({**meta, "config": config}).encode(), npz["valid"], ("model.json",))
    for doc in (b"[" * 100000, b"null", b'{"format": 1, "kind": "subspacer"', b"\xff"):
        folder(doc, npz["valid"])
    folder(None, npz["valid"], ("model.json",))
    for name in ("model.json", "weights.npz"):
        fifo = folder(json.dumps(meta).encode(), npz["valid"], (name,))
        (fifo / name).unlink()
        os.mkfifo(fifo / name)
        link = folder(json.dumps(meta).encode(), npz["valid"], (name,))
        (link / name).unlink()
        (link / name).symlink_to("/dev/zero")


def test_hostile_checkpoints(tmp_path):
    cases = checkpoint_cases(tmp_path)
    live_model_cases(cases, tmp_path)
    check(cases, TF_ADDRESS_SPACE, timeout=300)


# -- MIDI ----------------------------------------------------------------------


def varlen(n: int) -> bytes:
    out = [n & 0x7F]
    while n > 0x7F:
        n >>= 7
        out.append(0x80 | (n & 0x7F))
    return bytes(reversed(out))


def smf(tracks: list[bytes], division: int = 480) -> bytes:
    """A Standard MIDI File of raw track event bytes (each track gets its end-of-track)."""
    head = b"MThd" + struct.pack(">IHHH", 6, 1, len(tracks), division)
    return head + b"".join(b"MTrk" + struct.pack(">I", len(t) + 4) + t + b"\x00\xff\x2f\x00" for t in tracks)


def note(delta: int, pitch: int = 60, length: int = 120) -> bytes:
    return varlen(delta) + bytes([0x90, pitch, 80]) + varlen(length) + bytes([0x80, pitch, 0])


def tempo(delta: int, micros: int) -> bytes:
    return varlen(delta) + b"\xff\x51\x03" + micros.to_bytes(3, "big")


def fuzzed(data: bytes, rng: random.Random) -> bytes:
    """One of several byte mutations: random bytes, boundary values, a huge delta, cuts, inserts."""
    data = bytearray(data)
    pos = rng.randrange(len(data))
    kind = rng.randrange(6)
    if kind == 0:
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == 1:
        data[pos] = rng.choice([0x00, 0x7F, 0x80, 0xFF])
    elif kind == 2:
        data[pos : pos + 4] = b"\x8f\xff\xff\x7f"
    elif kind == 3:
        del data[pos:]
    elif kind == 4:
        data[pos:pos] = rng.randbytes(rng.randint(1, 16))
    else:
        end = min(len(data), pos + rng.randint(1, 64))
        data[pos:pos] = data[pos:end] * rng.randint(1, 50)
    return bytes(data)


def midi_case(
    cases: Cases, cls: str, name: str, data: bytes, expect: str = "error", names: tuple[str, ...] = ()
) -> None:
    path = cases.root / name
    path.write_bytes(data)
    cases.add(cls, "midi", path, expect, names)


def midi_cases(root: Path) -> Cases:
    cases = Cases(root)
    # Known hostile MIDI files (a huge note, deltas and counts), and good ones that must still load.
    midi_case(cases, "reproduced", "long_note.mid", smf([note(0, length=2**28 - 1)]), names=("ticks",))
    midi_case(cases, "reproduced", "huge_deltas.mid", smf([note(2**27, p) for p in range(40, 56)]))
    midi_case(
        cases, "reproduced", "200k_notes.mid", smf([b"".join(note(0, 60, 1) for _ in range(200_000))]), names=("bytes",)
    )
    running = b"\x00\x90\x3c\x50" + b"\x00\x3c\x50" * 250_000  # running status: 3 bytes an event
    midi_case(cases, "reproduced", "250k_events.mid", smf([running]), names=("events",))
    midi_case(cases, "reproduced", "150k_notes.mid", smf([running[: 4 + 3 * 150_000]]), names=("notes",))
    steady = b"".join(note(0, 48 + i % 24, 120) for i in range(40_000))
    midi_case(cases, "reproduced", "40k_notes.mid", smf([tempo(0, 300_000) + steady]), "ok")
    for path in FOLK_MIDI:
        midi_case(cases, "reproduced", path.name, path.read_bytes(), "ok")
    # Each MIDI bound.
    bounds = {
        "division_0.mid": smf([note(0)], division=0),
        "smpte.mid": smf([note(0)], division=0xE728),
        "tracks.mid": smf([note(0)] * 300),
        "tempo_changes.mid": smf([b"".join(tempo(1, 500_000) for _ in range(1001)) + note(0)]),
        "beats.mid": smf([tempo(0, 1) + note(2**23, length=1)], division=96),
        "hour.mid": smf([tempo(0, 0xFFFFFF) + note(300 * 480)]),
        "big.mid": smf([note(0)]) + b"XFIH" + struct.pack(">I", 2**20) + b"\0" * 2**20,
        "sysex.mid": smf([b"\x00\xf0" + varlen(500_000) + b"\x01" * 500_000 + note(0)]),
        "key.mid": smf([b"\x00\xff\x59\x02\x40\x05" + note(0)]),
        "metre.mid": smf([b"\x00\xff\x58\x04\x04\xff\x18\x08" + note(0)]),
        "empty.mid": b"",
        "text.mid": b"this is not a MIDI file\n" * 10,
        "track_length.mid": smf([note(0)])[:18] + b"\xff\xff\xff\xff" + smf([note(0)])[22:],
    }
    for name, data in bounds.items():
        readable = name in ("sysex.mid", "track_length.mid")  # within the bounds: may load
        midi_case(cases, "MIDI bounds", name, data, "any" if readable else "error")
    # Paths that are not regular MIDI files.
    escapes = root / "escapes"
    escapes.mkdir()
    os.mkfifo(escapes / "fifo.mid")
    (escapes / "folder.mid").mkdir()
    (escapes / "zero.mid").symlink_to("/dev/zero")
    (escapes / "empty_folder").mkdir()
    for path in (
        escapes / "fifo.mid",
        escapes / "folder.mid",
        escapes / "zero.mid",
        escapes / "empty_folder",
        Path("/dev/zero"),
        escapes / "missing.mid",
    ):
        cases.add("MIDI path escapes", "midi", path)
    fuzz_cases(cases, FOLK_MIDI, 80)
    return cases


def fuzz_cases(cases: Cases, sources: list[Path], per_source: int) -> None:
    """per_source mutants of each file; each loads or ends in an HmmLiveError naming it."""
    for source in sources:
        rng = random.Random(source.name)
        data = source.read_bytes()
        for i in range(per_source):
            midi_case(cases, "fuzzed MIDI", f"{source.stem}_fuzz{i}.mid", fuzzed(data, rng), "any")


def test_hostile_midi(tmp_path):
    check(midi_cases(tmp_path), MIDI_ADDRESS_SPACE, timeout=240)


def test_fuzzed_groove_midi(tmp_path):
    files = sorted(GROOVE.rglob("*.mid"))[:3] if GROOVE.is_dir() else []
    if not files:
        pytest.skip(f"no Groove MIDI files under {GROOVE}: the shared data set is not on this machine")
    cases = Cases(tmp_path)
    fuzz_cases(cases, files, 40)
    check(cases, MIDI_ADDRESS_SPACE, timeout=240)
