"""The benchmark's quick mode runs and reports every measurement (no timing asserts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import HELDOUT, REPO

BENCH = REPO / "bench"


def run_bench(script: str, *args: str, out: Path, timeout: float) -> dict:
    """Run bench/`script` with `args`; the report it wrote to `out` (it must exit 0)."""
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *args, "--out", str(out)], capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report == json.loads(done.stdout)  # the same JSON on stdout
    return report


def test_musicvae_bench_quick(oracle, tmp_path):
    report = run_bench("musicvae.py", "--quick", out=tmp_path / "bench.json", timeout=600)
    small = report["sizes"]["small"]
    for kind in ("labels_greedy", "labels_temperature"):
        assert small["decode"][kind]["p50_ms"] > 0
    assert small["encode"]["tensors_per_s"] > 0
    assert small["magenta_js"]["decode_greedy"]["p50_ms"] > 0
    assert {t["name"] for t in report["targets"]} >= {"small.decode_greedy_p50_ms", "small.peak_rss_mib"}


def test_bench_subspace_quick(tmp_path):
    report = run_bench("subspace.py", "--quick", out=tmp_path / "subspace.json", timeout=900)
    assert report["subspacer_fit_s"] > 0
    assert report["bar_to_answer"]["p99_ms"] > 0
    assert 0.0 <= report["separation"]["accuracy_2d"] <= 1.0
    assert {t["name"] for t in report["targets"]} >= {"subspacer_fit_s", "responder_rank1_16_clips"}
    convergence = report["convergence"]
    assert 0.0 <= convergence["64_clips"]["default"]["decodes_back"] <= 1.0
    assert convergence["64_clips"]["100_epochs"]["runs"][0]["epochs"] == 100
    assert convergence["retrain_same_clips"]["aligned"]["aligned_on"] == 60
    assert convergence["retrain_same_clips"]["movement_aligned"] >= 0.0


def test_bench_drummer_quick(tmp_path):
    """Both tap2drum sizes drum every bar played, beside the answers (timings are reported only)."""
    report = run_bench("drummer.py", "--quick", out=tmp_path / "drummer.json", timeout=900)
    for size in ("tap2drum_1bar", "tap2drum_2bar"):
        for path in ("graph", "lite"):  # before (TensorFlow's graph executor) and what the drummer runs (TFLite)
            row = report["sizes"][size][path]
            assert row["bars_drummed"] == row["bars_played"] > 0
            assert row["errors"] == []
            assert row["drums"]["p99_ms"] > 0
            assert row["answer"]["p99_ms"] > 0
            assert row["drummer_alone"]["p50_ms"] > 0
    assert {t["name"] for t in report["targets"]} == {
        "tap2drum_1bar.lite.drums_p99_ms",
        "tap2drum_2bar.lite.drums_p99_ms",
    }


def test_bench_live_quick_soak(tmp_path):
    """The 60 s soak at 180 BPM over JACK: no missed bars, no stuck notes (timings are reported only)."""
    import shutil

    if shutil.which("jackd") is None:
        pytest.skip("jackd is not installed (the README's test command installs jackd2)")
    report = run_bench("live.py", "--quick", out=tmp_path / "live.json", timeout=600)
    assert report["soak"]["missed_bars"] == 0
    assert report["soak"]["stuck_notes"] == []
    assert 0.0 < report["capture"]["on_intended_step"] <= 1.0  # 100% is the target; 180 BPM leaves 12 ms
    assert report["output"]["received_late"]["n"] > 0


def test_bench_sound_quick(tmp_path):
    """The built-in synth over JACK and the browser, side by side: every row is measured (timings are
    reported, not asserted); the synth falls silent at stop."""
    import shutil

    from hmm_live.testing.lab import CHROMIUM

    if shutil.which("jackd") is None or CHROMIUM is None:
        pytest.skip("jackd or chromium is not installed (the README's test command installs both)")
    report = run_bench("sound.py", "--bars", "4", out=tmp_path / "sound.json", timeout=900)
    for side in ("synth", "browser"):
        assert report[side]["scheduled_notes"] > 0
        assert 0.0 <= report[side]["heard_share"] <= 1.0
    assert report["synth"]["level_after_stop"] <= 1e-4
    assert {t["name"] for t in report["targets"]} >= {"synth_onset_p99_beyond_one_period_ms", "browser_onset_p99_ms"}


def test_bench_ui_quick(tmp_path):
    """Slider release -> notes shown (kernel, and browser where chromium is), and the map's batching."""
    report = run_bench("ui.py", "--quick", out=tmp_path / "ui.json", timeout=600)
    assert report["kernel_release_to_roll"]["n"] > 0
    assert report["map_flood"]["points_delivered"] == report["map_flood"]["points_published"]
    for measured in report.get("browser_release", {}).values():
        assert measured["no_change_seen"] < measured["presses"]
    if "transport" in report:
        transport = report["transport"]
        assert transport["not_shown_within_10_s"] < transport["clicks"], transport["panel_when_missed"]


@pytest.fixture(scope="module")
def music_report(tmp_path_factory) -> dict:
    """One quick run of bench/music.py on the held-out windows kept in tests/data."""
    out = tmp_path_factory.mktemp("music") / "music.json"
    return run_bench("music.py", "--quick", "--windows", str(HELDOUT), out=out, timeout=1800)


def test_bench_music_quick_melody_and_jam(music_report):
    """Realism with its ceiling and baselines, morphs, and every way of answering, scored."""
    melody = music_report["melody"]
    realism = melody["realism"]
    assert set(realism["sets"]) == {
        "samples_t0.5",
        "samples_t1.0",
        "random_weights_t0.5",
        "random_weights_t1.0",
        "random_pitches",
        "reconstructions",
    }
    assert {"pitch_count", "scale_fit", "pitch_class_histogram", "note_length_histogram"} <= set(
        realism["ceiling"]["similarity"]
    )
    for scored in realism["sets"].values():
        assert set(scored["ratio_to_ceiling"]) <= set(scored["similarity"])
        assert all(0.0 <= v <= 1.0 for v in scored["similarity"].values() if v is not None)
    assert (
        realism["sets"]["random_pitches"]["similarity"]["note_count"] == realism["ceiling"]["similarity"]["note_count"]
    )
    assert 0.0 < melody["interpolation"]["largest_step_share"] <= 1.0
    jam = melody["jam"]
    assert jam["clips"] == 16
    assert jam["bars"]["clip_tunes"] > 0
    assert jam["bars"]["other_tunes"] > 0
    assert set(jam["modes"]) == {"responder", "default", "random_point", "spherical_blend_0.5"} | {
        f"listen_lead_{lead}" for lead in (0.0, 0.25, 0.5, 0.75, 1.0)
    }
    for mode in jam["modes"].values():
        assert 0.0 <= mode["all"]["pitch_class_cosine"] <= 1.0
        assert mode["bar_to_answer"]["p99_ms"] > 0
    assert {t["name"] for t in music_report["targets"]} >= {
        "melody.samples_t0.5.min_ratio_to_ceiling",
        "jam.default.echo_f1",
    }


def test_bench_music_quick_drum_jam_in_2_and_4_dims(music_report):
    """The drum jam on the shipped unseen bars (no ../shared needed), next to its baseline and reference."""
    jam = music_report["drum_jam"]
    assert jam["clips"] == 16
    for dims in ("dims_2", "dims_4"):
        modes = jam[dims]["modes"]
        assert set(modes) == {"default", "listen_lead_0.0", "responder", "random_point", "drummers_next_bar"}
        for scored in modes.values():
            assert all(0.0 <= scored[k] <= 1.0 for k in ("onset_jaccard", "kick_jaccard", "snare_jaccard", "echo_f1"))
        assert modes["default"]["bar_to_answer"]["p99_ms"] > 0


def test_bench_music_quick_drums(music_report):
    drums = music_report["drums"]
    assert {"hits_per_bar", "hits_per_bar_kick"} <= set(drums["realism"]["ceiling"]["similarity"])
    rates = drums["realism"]["sets"]["samples_t0.5"]["rates"]
    assert 0.0 <= rates["kick_on_downbeats"]["value"] <= 1.0
    assert "drums.samples_t0.5.hits_per_bar_overlap" in {t["name"] for t in music_report["targets"]}
