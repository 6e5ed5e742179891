"""The benchmark's quick mode runs and reports every measurement (no timing asserts)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "musicvae.py"


def test_musicvae_bench_quick(oracle, tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, str(BENCH), "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report == json.loads(out.read_text())
    small = report["sizes"]["small"]
    for kind in ("labels_greedy", "labels_temperature"):
        assert small["decode"][kind]["p50_ms"] > 0
    assert small["encode"]["tensors_per_s"] > 0
    assert small["magenta_js"]["decode_greedy"]["p50_ms"] > 0
    assert {t["name"] for t in report["targets"]} >= {"small.decode_greedy_p50_ms", "small.peak_rss_mib"}


def test_bench_subspace_quick(tmp_path):
    bench = BENCH.with_name("subspace.py")
    out = tmp_path / "subspace.json"
    done = subprocess.run([sys.executable, str(bench), "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["subspacer_fit_s"] > 0 and report["bar_to_answer"]["p99_ms"] > 0
    assert 0.0 <= report["separation"]["accuracy_2d"] <= 1.0
    assert {t["name"] for t in report["targets"]} >= {"subspacer_fit_s", "responder_rank1_16_clips"}
