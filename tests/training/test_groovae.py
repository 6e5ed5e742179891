"""Training GrooVAE: performance windows, the encoder's tapped or humanised inputs, Magenta's
loss, the loop (learns, resumes exactly), the held-out scores and their baseline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from hmm_live import MusicVAE
from hmm_live.errors import ConfigError, UnsupportedModelError
from hmm_live.music import GrooveConverter, read_midi, write_midi
from hmm_live.training import evaluate, train_musicvae
from hmm_live.training.evaluate import groove_scores, input_baseline
from hmm_live.training.objective import encoder_inputs, groove_loss
from tests.support import groove_model, random_groove, unquantized

TINY = dict(z_size=8, encoder_sizes=[16], decoder_sizes=[16, 16], batch_size=8, log=lambda _: None, verbose=0)
GROOVE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "groove"
KIT = [36, 38, 42, 46, 45, 48, 50, 49, 51]  # one pitch of each of the 9 classes


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HMM_LIVE_CACHE", str(tmp_path / "cache"))


def kit_groove(rng: np.random.Generator, bars: int, qpm: float = 120.0):
    """A performance on KIT's pitches only (every note in a class), onsets off the grid."""
    step = 60.0 / qpm / 4
    notes = []
    for s in range(16 * bars):
        for p in KIT:
            if rng.random() < 0.15:
                start = (s + rng.uniform(0.0 if s == 0 else -0.45, 0.45)) * step
                notes.append((p, start, start + step / 2, int(rng.integers(1, 128))))
    return unquantized(notes, qpm, is_drum=True)


@pytest.fixture
def grooves(tmp_path):
    """Six 4-bar drum performances (a groove folder needs no info.csv: split by name)."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "grooves"
    for i in range(6):
        write_midi(kit_groove(rng, 4, qpm=100.0 + 10 * i), folder / f"groove{i}.mid")
    return folder


def test_windows_are_the_performance_a_bar_apart_with_its_timing():
    rng = np.random.default_rng(1)
    conv = GrooveConverter(32)
    two_bars = random_groove(rng, bars=2, rate=0.2)
    windows = conv.training_windows(two_bars)
    assert windows.dtype == np.float32
    np.testing.assert_allclose(windows, conv.to_labels(two_bars)[None], atol=1e-5)
    assert np.abs(windows[..., 18:]).max() > 0.1  # offsets kept: read unquantised
    assert conv.training_windows(random_groove(rng, bars=3, rate=0.2)).shape == (2, 32, 27)  # bars 0-1 and 1-2


def test_a_groove_midi_beat_keeps_the_drummers_timing_and_dynamics():
    beats = sorted(GROOVE.rglob("*_beat_4-4.mid"))[:1] if GROOVE.is_dir() else []
    if not beats:
        pytest.skip(f"no Groove MIDI beats under {GROOVE}: the shared data set is not on this machine")
    windows = GrooveConverter(16).training_windows(read_midi(beats[0]))
    hits = windows[..., :9] > 0.5
    offsets, velocities = windows[..., 18:][hits], windows[..., 9:18][hits]
    assert len(windows) > 4
    assert np.abs(offsets).max() <= 1.0
    assert np.mean(np.abs(offsets) > 0.05) > 0.5  # most hits off the grid: played, not programmed
    assert velocities.std() * 127 > 5  # and at several dynamics


def test_empty_windows_are_skipped_and_a_piece_without_drums_gives_none():
    conv = GrooveConverter(16)
    step = 0.125
    hits = unquantized([(36, 0.0, 0.1), (38, 32 * step, 33 * step)], is_drum=True)  # bar 1 is silent
    assert len(conv.training_windows(hits)) == 2
    assert conv.training_windows(unquantized([(60, 0.0, 0.5)])).shape == (0, 16, 27)
    with pytest.raises(UnsupportedModelError, match="no controls"):
        conv.training_windows(hits, np.zeros(48, np.int64))


@pytest.mark.parametrize("flags", [{}, {"humanize": True}, {"tapify": True}])
def test_encoder_inputs_from_targets_are_the_converters(flags):
    rng = np.random.default_rng(2)
    conv = GrooveConverter(16, **flags)
    seqs = [kit_groove(rng, 1) for _ in range(4)]
    targets = np.stack([conv.to_labels(s) for s in seqs])
    expected = np.stack([conv.to_inputs(s) for s in seqs])
    np.testing.assert_allclose(encoder_inputs(conv, tf.constant(targets)).numpy(), expected, atol=1e-6)


def test_loss_is_magentas_sum_of_hit_cross_entropy_and_squared_errors():
    rng = np.random.default_rng(3)
    outputs = rng.normal(size=(2, 4, 27)).astype(np.float32)
    targets = np.concatenate(
        [rng.integers(0, 2, (2, 4, 9)), rng.uniform(0, 1, (2, 4, 9)), rng.uniform(-1, 1, (2, 4, 9))], -1
    ).astype(np.float32)
    loss, correct = groove_loss(tf.constant(outputs), tf.constant(targets))
    p = 1 / (1 + np.exp(-outputs[..., :9]))
    hits = targets[..., :9]
    expected = (
        -(hits * np.log(p) + (1 - hits) * np.log(1 - p)).sum((1, 2))
        + ((1 / (1 + np.exp(-outputs[..., 9:18])) - targets[..., 9:18]) ** 2).sum((1, 2))
        + ((np.tanh(outputs[..., 18:]) - targets[..., 18:]) ** 2).sum((1, 2))
    )
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(correct.numpy(), ((p > 0.5) == hits).mean(-1))


def test_teacher_forcing_agrees_with_greedy_decoding():
    model = groove_model(1, "tap2drum", seed=4, z=8, size=16)
    z = np.random.default_rng(3).standard_normal((5, 8)).astype(np.float32)
    greedy = model.decode_labels(z)
    raw = model.network.decoder.teacher_forced(tf.constant(z), tf.constant(greedy), 0.0, tf.ones([5, 16, 2])).numpy()
    np.testing.assert_array_equal(raw[..., :9] > 0, greedy[..., :9] > 0.5)
    np.testing.assert_allclose(1 / (1 + np.exp(-raw[..., 9:18])), greedy[..., 9:18], atol=1e-5)
    np.testing.assert_allclose(np.tanh(raw[..., 18:]), greedy[..., 18:], atol=1e-5)


def trained(folder, out, config, steps, **kwargs):
    return train_musicvae(
        [folder], out, config, steps=steps, save_every=10, seed=3, learning_rate=1e-2, **TINY, **kwargs
    )


def test_tap2drum_training_learns_and_moves_every_weight(grooves, tmp_path):
    config = "groovae_1bar_tap_fixed_velocity"
    run = trained(grooves, tmp_path / "m", config, 30)
    assert run.history[-1]["loss"] < 0.75 * run.history[0]["loss"]  # random hits: near their entropy already
    model = MusicVAE.load(tmp_path / "m")
    assert model.data_converter.tapify
    first = MusicVAE.create(config, 8, [16], [16, 16], seed=3).weights()
    unmoved = [name for name, value in model.weights().items() if np.allclose(value, first[name])]
    assert unmoved == []
    drums = model.decode(np.zeros((1, 8), np.float32))[0]
    assert all(n.is_drum for n in drums.notes)


def test_humanize_training_resumes_exactly(grooves, tmp_path):
    config = "groovae_2bar_humanize"
    trained(grooves, tmp_path / "straight", config, 20)
    trained(grooves, tmp_path / "halves", config, 10, keep_state=True)
    assert trained(grooves, tmp_path / "halves", config, 20).steps == 20
    straight, halves = MusicVAE.load(tmp_path / "straight").weights(), MusicVAE.load(tmp_path / "halves").weights()
    for name, value in straight.items():
        np.testing.assert_allclose(halves[name], value, atol=1e-6, err_msg=name)


def test_bad_groovae_requests_are_refused_naming_why(grooves, tmp_path):
    with pytest.raises(ConfigError, match="teacher forcing"):
        train_musicvae([grooves], tmp_path / "o", "groovae_2bar_humanize", sampling_rate=1000.0, **TINY)
    with pytest.raises(UnsupportedModelError, match=r"note dropout .* not implemented"):
        train_musicvae([grooves], tmp_path / "o", "groovae_2bar_tap_fixed_velocity_note_dropout", **TINY)
    with pytest.raises(UnsupportedModelError, match="add_instruments"):
        train_musicvae([grooves], tmp_path / "o", "groovae_2bar_add_closed_hh", **TINY)


def test_scores_count_hits_and_errors_on_the_hits_both_have():
    target = np.zeros((1, 2, 27), np.float32)
    target[0, 0, [0, 1]] = 1.0  # kick and snare at step 0
    target[0, 0, [9, 10]] = [0.5, 0.5]
    target[0, 0, [18, 19]] = [0.2, 0.0]
    predicted = target.copy()
    predicted[0, 0, 1] = 0.0  # the snare missed
    predicted[0, 1, 2] = 1.0  # a hi-hat too many
    predicted[0, 0, 9] = 0.5 + 10 / 127  # the kick 10 velocities too loud
    predicted[0, 0, 18] = 0.0  # and 0.1 steps late
    scores = groove_scores(predicted, target)
    assert scores["hit_precision"] == 0.5
    assert scores["hit_recall"] == 0.5
    assert scores["hit_f1"] == 0.5
    assert scores["hit_accuracy"] == pytest.approx(16 / 18, abs=1e-4)
    assert scores["velocity_error"] == pytest.approx(10.0, abs=1e-3)
    assert scores["timing_error_steps"] == pytest.approx(0.1, abs=1e-4)


def test_baseline_plays_each_tap_on_the_drums_taps_on_its_16th_mostly_are():
    model = groove_model(1, "tap2drum", seed=0)
    train = np.zeros((4, 16, 27), np.float32)
    train[:, ::4, 0] = 1.0  # a kick on every beat, at velocity 100
    train[:, ::4, 9] = 100 / 127
    train[:3, ::4, 1] = 1.0  # with a quieter snare in three windows of four
    train[:3, ::4, 10] = 50 / 127
    train[:, 2, 2] = 1.0  # and a hi-hat alone on the third 16th
    test = np.zeros((1, 16, 27), np.float32)
    for step in (2, 3, 4):
        test[0, step, [1, 10, 19]] = [1.0, 0.8, 0.4]  # a snare, early
    guess = input_baseline(model, train, test)[0]
    assert guess[2, :9].tolist() == [0, 0, 1, 0, 0, 0, 0, 0, 0]  # what that 16th had
    assert guess[4, :9].tolist() == [1, 1, 0, 0, 0, 0, 0, 0, 0]  # a beat: kick and (3 of 4) snare
    assert guess[3, :9].tolist() == [1, 1, 0, 0, 0, 0, 0, 0, 0]  # never tapped: all 20 taps' (16 kicks, 12 snares)
    assert guess[4, 9:11].tolist() == pytest.approx([100 / 127, 50 / 127])
    assert guess[4, 18:20].tolist() == pytest.approx([0.4, 0.4])  # the tap's timing
    assert np.count_nonzero(guess[[0, 1, 5]]) == 0
    with pytest.raises(ConfigError, match="tap2drum and humanize"):
        input_baseline(MusicVAE.create("groovae_4bar", 8, [16], [16, 16]), train, test)


def test_evaluate_and_the_eval_cli_score_a_groovae_against_its_baseline(grooves, tmp_path):
    trained(grooves, tmp_path / "m", "groovae_1bar_tap_fixed_velocity", 10)
    model = MusicVAE.load(tmp_path / "m")
    result = evaluate(model, GrooveConverter(16).training_windows(kit_groove(np.random.default_rng(5), 2)))
    assert 0 <= result["reconstruction"]["hit_f1"] <= 1
    assert set(result) == {"examples", "teacher_forced_hit_accuracy", "kl_bits", "r_loss", "reconstruction"}
    proc = subprocess.run(
        [sys.executable, "-m", "hmm_live.cli", "eval", tmp_path / "m", grooves, "--split", "train"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    scores = json.loads(proc.stdout)
    assert set(scores["baseline"]) == set(scores["reconstruction"])
    assert "realism" not in scores
