"""MusicVAE benchmark: hmm_live vs @magenta/music (node), random weights.

For mel_2bar_small sizes (encoder 512, decoder [256, 256], z 256) and
cat-mel_2bar_big sizes (encoder 2048, decoder 3 x 2048, z 512): load time,
first-call (tf.function trace) time, encode throughput (2-bar melodies,
batch 64), batch-1 decode latency p50/p99 (greedy and temperature 0.5), where
the big decoder's time goes, peak RSS after loading the small model, and
magenta-js on the same exported checkpoints in the same run.

    python bench/musicvae.py [--quick] [--out FILE]

Prints one JSON object on stdout; progress goes to stderr. --quick (CI smoke
run) measures the small size only, with fewer repetitions.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from hmm_live import MusicVAE
from hmm_live.music import from_notes
from hmm_live.testing import magenta_js

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tensorflow as tf
from report import emit, log, stats_ms, target

SIZES = {
    "small": dict(config="cat-mel_2bar_small", z=256, encoder=[512], decoder=[256, 256]),
    "big": dict(config="cat-mel_2bar_big", z=512, encoder=[2048], decoder=[2048] * 3),
}
BATCH = 64
TEMPERATURE = 0.5
JS_PROBE_LIMIT_S = 60.0  # skip further magenta-js timing when one decode takes longer


@dataclass(frozen=True)
class Reps:
    """Repetitions per measurement."""

    decode: int  # decode_labels calls per series
    decode_seq: int  # decode (NoteSequence) calls per series
    encode: int  # batches of 64, tensor path
    encode_seq: int  # batches of 64, NoteSequence path
    js_decode: int  # magenta-js decodes (after one warm-up)
    js_encode_batch: int  # melodies in the one magenta-js encode batch


REPS = {
    "small": Reps(decode=200, decode_seq=100, encode=20, encode_seq=10, js_decode=50, js_encode_batch=64),
    "big": Reps(decode=20, decode_seq=5, encode=3, encode_seq=2, js_decode=3, js_encode_batch=8),
    "quick": Reps(decode=30, decode_seq=10, encode=3, encode_seq=2, js_decode=5, js_encode_batch=8),
}


def timed(fn: Callable[[int], Any], n: int, warmup: int = 2) -> list[float]:
    """Seconds per call of fn(i), after `warmup` untimed calls."""
    for i in range(n, n + warmup):
        fn(i)
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t0)
    return times


def peak_rss_mib() -> float:
    """This process's peak RSS. VmHWM, where there is one: a spawned child's ru_maxrss
    starts from its parent's peak (Linux keeps it across fork + exec)."""
    status = Path("/proc/self/status")
    for line in status.read_text().splitlines() if status.exists() else []:
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def random_melody(rng: np.random.Generator, steps: int = 32, low: int = 48, high: int = 84):
    """A monophonic 2-bar melody with rests (as tests/support.py makes them)."""
    notes, t = [], int(rng.integers(0, 3))
    while t < steps - 1:
        end = min(t + int(rng.integers(1, 6)), steps)
        notes.append((int(rng.integers(low, high)), t, end))
        t = end + int(rng.integers(0, 3))
    return from_notes(notes, steps)


def machine(quick: bool) -> dict[str, Any]:
    """Versions, and two ceilings of these cores: fp32 matmul GFLOP/s, batch-1 matvec GB/s."""
    a, w, v = tf.random.normal([2048, 2048]), tf.random.normal([4096, 8192]), tf.random.normal([1, 4096])
    matmul = tf.function(lambda: tf.matmul(a, a), autograph=False)
    matvec = tf.function(lambda: tf.matmul(v, w), autograph=False)
    n = 3 if quick else 20
    mm_s = np.median(timed(lambda i: matmul().numpy(), n))
    mv_s = np.median(timed(lambda i: matvec().numpy(), n))
    try:
        node = subprocess.run([magenta_js.node(), "--version"], capture_output=True, text=True).stdout.strip()
    except magenta_js.OracleUnavailable:
        node = None
    info = Path("/proc/cpuinfo")
    lines = info.read_text().splitlines() if info.exists() else []
    cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), platform.machine())
    return {
        "cpu_count": os.cpu_count(),
        "cpu": cpu,
        "loadavg_1min_at_start": os.getloadavg()[0],
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "numpy": np.__version__,
        "node": node,
        "magenta_js": magenta_js.VERSION,
        "matmul_2048_gflops": 2 * 2048**3 / mm_s / 1e9,
        "matvec_4096x8192_gbps": 4096 * 8192 * 4 / mv_s / 1e9,
    }


def flops(model: MusicVAE) -> dict[str, float]:
    """Matmul FLOPs of one encoded melody, and of one batch-1 decoder step (+ its weight bytes)."""
    s = model.spec
    enc, d_in = 0, s.input_depth + s.control_depth
    for h in s.encoder_sizes:  # both directions, every step: [x, h] @ [d_in + h, 4h]
        enc, d_in = enc + 2 * 2 * s.num_steps * (d_in + h) * 4 * h, 2 * h
    dec = s.decoder_sizes  # layer 0's input part is a row lookup + a per-call term
    weights = dec[0] * 4 * dec[0] + sum((a + b) * 4 * b for a, b in pairwise(dec)) + dec[-1] * s.output_depth
    return {
        "encode_gflop_per_melody": enc / 1e9,
        "decode_mflop_per_step": 2 * weights / 1e6,
        "decode_weight_mib_per_step": 4 * weights / 2**20,
    }


def fresh_process_rss(folder: Path) -> dict[str, float]:
    """Peak RSS (MiB) of a fresh process that imports hmm_live, loads `folder` and calls
    encode (batch 64) and decode (greedy, temperature) once: see rss_child."""
    proc = subprocess.run(
        [sys.executable, __file__, "--rss-of", str(folder)], capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def rss_child(folder: Path) -> None:
    after_import = peak_rss_mib()
    model = MusicVAE.load(folder)
    after_load = peak_rss_mib()
    rng = np.random.default_rng(0)
    model.encode([random_melody(rng) for _ in range(BATCH)])
    z = rng.standard_normal((1, model.z_size))
    model.decode(z), model.decode(z, TEMPERATURE, seed=0)
    print(
        json.dumps(
            {"after_import": after_import, "after_load": after_load, "after_load_and_first_calls": peak_rss_mib()}
        )
    )


def encode(model: MusicVAE, reps: Reps, rng: np.random.Generator) -> dict[str, Any]:
    """Melodies/s at batch 64: tensor path (encode_tensors) and NoteSequence path (encode)."""
    seqs = [random_melody(rng) for _ in range(BATCH)]
    inputs = np.stack([model.data_converter.to_inputs(s) for s in seqs])
    t_tensor = np.median(timed(lambda i: model.encode_tensors(inputs), reps.encode))
    t_seq = np.median(timed(lambda i: model.encode(seqs, seed=i), reps.encode_seq, warmup=1))
    gflop = flops(model)["encode_gflop_per_melody"] * BATCH
    return {
        "batch": BATCH,
        "tensors_per_s": BATCH / t_tensor,
        "sequences_per_s": BATCH / t_seq,
        "tensors_gflops": gflop / t_tensor,
        "inputs": inputs,
    }


def decode(model: MusicVAE, reps: Reps, z: np.ndarray) -> dict[str, Any]:
    """Batch-1 latency: decode_labels (the live path) and decode (adds NoteSequences)."""
    t = TEMPERATURE
    return {
        "labels_greedy": stats_ms(timed(lambda i: model.decode_labels(z), reps.decode)),
        "labels_temperature": stats_ms(timed(lambda i: model.decode_labels(z, t, seed=i), reps.decode)),
        "sequences_greedy": stats_ms(timed(lambda i: model.decode(z), reps.decode_seq)),
        "sequences_temperature": stats_ms(timed(lambda i: model.decode(z, t, seed=i), reps.decode_seq)),
    }


def breakdown(model: MusicVAE, reps: Reps, z: np.ndarray, dec: dict, ceilings: dict) -> dict[str, Any]:
    """Per-step vs fixed cost, from p50(length=32) - p50(length=1), what a step achieves,
    and the labels -> NoteSequence conversion that decode adds."""
    steps = model.num_steps
    one = stats_ms(timed(lambda i: model.decode_labels(z, length=1), reps.decode))["p50_ms"]
    labels = model.decode_labels(z)[0]
    convert = stats_ms(timed(lambda i: model.data_converter.from_labels(labels), reps.decode))["p50_ms"]
    full = dec["labels_greedy"]["p50_ms"]
    step_ms = (full - one) / (steps - 1)
    f = flops(model)
    gbps = f["decode_weight_mib_per_step"] * 2**20 / (step_ms / 1e3) / 1e9
    return {
        "length_1_p50_ms": one,
        "length_32_p50_ms": full,
        "per_step_ms": step_ms,
        "steps_total_ms": steps * step_ms,
        "fixed_ms": full - steps * step_ms,
        "to_notesequence_ms": convert,
        **f,
        "step_gflops": f["decode_mflop_per_step"] / step_ms,
        "step_weight_gbps": gbps,
        "fraction_of_matvec_gbps": gbps / ceilings["matvec_4096x8192_gbps"],
    }


def magenta(folder: Path, size: str, reps: Reps, inputs: np.ndarray) -> dict[str, Any]:
    """@magenta/music in node on the same folder: load, decode latency, encode throughput."""
    try:
        magenta_js.install()
        if size == "big":  # one decode first: if it takes minutes, time nothing more
            probe = magenta_js.run(folder, time_decode=1, timeout=JS_PROBE_LIMIT_S + 120)
            if probe["decode_ms"][0] > JS_PROBE_LIMIT_S * 1e3:
                return {"skipped": f"one decode took {probe['decode_ms'][0] / 1e3:.0f} s", **probe}
        batch = inputs[: reps.js_encode_batch]
        out = magenta_js.run(folder, time_decode=reps.js_decode, warmup=1, time_encode=batch.tolist())
    except magenta_js.OracleUnavailable as e:
        return {"skipped": str(e)}
    except subprocess.TimeoutExpired as e:
        return {"skipped": f"timed out after {e.timeout:.0f} s"}
    return {
        "load_s": out["load_ms"] / 1e3,
        "decode_greedy": stats_ms([ms / 1e3 for ms in out["decode_ms"]]),
        "encode_batch": len(batch),
        "encode_per_s": len(batch) / out["encode_s"],
    }


def bench_size(name: str, tmp: Path, reps: Reps, ceilings: dict) -> dict[str, Any]:
    """Every measurement for one size; the model is freed when this returns."""
    sz = SIZES[name]
    log(f"{name}: creating and exporting {sz}")
    folder = MusicVAE.create(sz["config"], sz["z"], sz["encoder"], sz["decoder"], seed=0).export(tmp / name)
    t0 = time.perf_counter()
    model = MusicVAE.load(folder)
    out: dict[str, Any] = {
        "config": sz["config"],
        "z": sz["z"],
        "encoder": sz["encoder"],
        "decoder": sz["decoder"],
        "checkpoint_mib": sum(f.stat().st_size for f in folder.iterdir()) / 2**20,
        "load_s": time.perf_counter() - t0,
    }
    rng = np.random.default_rng(0)
    z = rng.standard_normal((1, model.z_size)).astype(np.float32)
    x = np.stack([model.data_converter.to_inputs(random_melody(rng)) for _ in range(BATCH)])
    first = {
        "encode": lambda: model.encode_tensors(x),
        "decode_greedy": lambda: model.decode_labels(z),
        "decode_temperature": lambda: model.decode_labels(z, TEMPERATURE, seed=0),
    }
    out["first_call_ms"] = {k: timed(lambda i, fn=fn: fn(), 1, warmup=0)[0] * 1e3 for k, fn in first.items()}
    out["peak_rss_mib"] = fresh_process_rss(folder)
    log(f"{name}: loaded in {out['load_s']:.2f} s; timing encode")
    out["encode"] = encode(model, reps, rng)
    inputs = out["encode"].pop("inputs")
    log(f"{name}: timing decode")
    out["decode"] = decode(model, reps, z)
    out["breakdown"] = breakdown(model, reps, z, out["decode"], ceilings)
    log(f"{name}: magenta-js")
    js = out["magenta_js"] = magenta(folder, name, reps, inputs)
    if "decode_greedy" in js:
        out["speedup_vs_magenta_js"] = {
            "decode_p50": js["decode_greedy"]["p50_ms"] / out["decode"]["labels_greedy"]["p50_ms"],
            "encode": out["encode"]["tensors_per_s"] / js["encode_per_s"],
        }
    return out


def targets(sizes: dict[str, dict]) -> list[dict[str, Any]]:
    """MusicVAE's targets (decode and encode speed, the speed-up over magenta-js, memory),
    each with its measured value and meets_target."""
    rows = []

    def check(name: str, value: float | None, op: str, limit: float) -> None:
        rows.append(target(name, value, op, limit))

    if "decode" in (s := sizes["small"]):
        for kind in ("greedy", "temperature"):
            check(f"small.decode_{kind}_p50_ms", s["decode"][f"labels_{kind}"]["p50_ms"], "<=", 5)
            check(f"small.decode_{kind}_p99_ms", s["decode"][f"labels_{kind}"]["p99_ms"], "<=", 10)
        check("small.speedup_vs_magenta_js.decode_p50", s.get("speedup_vs_magenta_js", {}).get("decode_p50"), ">=", 10)
        check("small.encode_tensors_per_s", s["encode"]["tensors_per_s"], ">=", 2000)
        check("small.encode_sequences_per_s", s["encode"]["sequences_per_s"], ">=", 2000)
        check("small.peak_rss_mib", s["peak_rss_mib"]["after_load_and_first_calls"], "<=", 1024)
    if "decode" in (b := sizes["big"]):
        for kind in ("greedy", "temperature"):
            check(f"big.decode_{kind}_p50_ms", b["decode"][f"labels_{kind}"]["p50_ms"], "<=", 2000)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI smoke run: small size, fewer repetitions")
    parser.add_argument("--out", type=Path, help="also write the JSON to this file (atomically)")
    parser.add_argument("--rss-of", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_of:
        return rss_child(args.rss_of)
    started = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr), tempfile.TemporaryDirectory(prefix="hmm-bench-") as tmp:
        ceilings = machine(args.quick)
        sizes: dict[str, dict] = {}
        sizes["small"] = bench_size("small", Path(tmp), REPS["quick" if args.quick else "small"], ceilings)
        sizes["big"] = {"skipped": "--quick"} if args.quick else bench_size("big", Path(tmp), REPS["big"], ceilings)
    emit(
        {
            "benchmark": "musicvae",
            "quick": args.quick,
            "machine": ceilings,
            "sizes": sizes,
            "targets": targets(sizes),
            "wall_s": time.perf_counter() - started,
        },
        args.out,
    )


if __name__ == "__main__":
    main()
