"""Training the hierarchical 16-bar and the chord-conditioned configs: teacher forcing
against decoding, chords per step, learning, exact resuming, the saved model, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from hmm_live import MusicVAE
from hmm_live.errors import ChordError, UnsupportedModelError
from hmm_live.models.musicvae.configs import get_config
from hmm_live.music import from_notes, write_midi
from hmm_live.music.chords import ChordEncoder
from hmm_live.music.melody import MelodyConverter
from hmm_live.training import extract, train_musicvae
from hmm_live.training.examples import _chord_indices
from hmm_live.training.sources import music21_to_sequence
from tests.support import random_melody, randomize

TINY = dict(z_size=8, encoder_sizes=[16], decoder_sizes=[16, 16], batch_size=8, log=lambda _: None, verbose=0)
HIER = {**TINY, "encoder_sizes": [16, 16]}  # hier-mel_16bar: one size per encoder level
TRIADS = {"C": (60, 64, 67), "Am": (57, 60, 64), "F": (53, 57, 60), "G": (55, 59, 62), "Dm": (50, 53, 57)}


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HMM_LIVE_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def long_tunes(tmp_path):
    """Six 17-bar tunes: two 16-bar windows each."""
    rng = np.random.default_rng(0)
    for i in range(6):
        write_midi(random_melody(rng, steps=16 * 17, low=60, high=72), tmp_path / "long" / f"tune{i}.mid")
    return tmp_path / "long"


def arpeggios(progression: list[str]):
    """One bar per chord: its triad and the root an octave up, a quarter note each."""
    notes = [
        (pitch, 16 * bar + 4 * i, 16 * bar + 4 * i + 3)
        for bar, chord in enumerate(progression)
        for i, pitch in enumerate((*TRIADS[chord], TRIADS[chord][0] + 12))
    ]
    return from_notes(notes, 16 * len(progression))


@pytest.fixture
def chord_tunes(tmp_path):
    """Eight 4-bar arpeggiated progressions (no chord symbols: they are inferred)."""
    rng = np.random.default_rng(1)
    for i in range(8):
        write_midi(arpeggios(list(rng.choice(list(TRIADS), 4))), tmp_path / "chords" / f"tune{i}.mid")
    return tmp_path / "chords"


@pytest.mark.parametrize(
    "config, extra",
    [
        ("hierdec-mel_16bar", dict(conductor_sizes=[12])),
        ("hier-mel_16bar", dict(conductor_sizes=[12], hierarchical_encoder=True)),
        ("cat-mel_2bar_med_chords", {}),
    ],
)
def test_teacher_forcing_agrees_with_decoding(config, extra):
    """Fed its own greedy output, the training pass predicts that output: per bar from the
    conductor (each bar starting from the bar before's last label), and on chords."""
    encoder = [16, 16] if extra.get("hierarchical_encoder") else [16]
    model = randomize(MusicVAE.create(config, 8, encoder, [16, 16], **extra), seed=4, scale=0.6)
    z = np.random.default_rng(3).standard_normal((5, 8)).astype(np.float32)
    controls = model.controls(["C", "Am", "F", "G"]) if model.chord_encoder else None
    greedy = model.decode_labels(z, controls=controls)
    assert len(set(greedy.reshape(-1).tolist())) > 8  # not a constant output: the comparison means something
    tiled = None if controls is None else tf.tile(tf.constant(controls)[None], [5, 1, 1])
    logits = model.network.teacher_forced(
        tf.constant(z), tf.constant(greedy, tf.int32), 0.0, tf.ones([5, model.num_steps, 2]), tiled
    )
    np.testing.assert_array_equal(tf.argmax(logits, -1).numpy(), greedy)


def test_windows_carry_their_chords():
    conv = MelodyConverter()
    seq = arpeggios(["C", "Am", "F", "G"])
    windows = conv.training_windows(seq, np.repeat([0, 1, 2, 3], 16))
    assert windows.shape == (3, 64)  # labels, then the chord of each step
    np.testing.assert_array_equal(windows[1, 32:], np.repeat([1, 2], 16))
    again = from_notes([(60, s, s + 3) for s in range(0, 64, 4)], 64)  # one window, repeated
    assert len(conv.training_windows(again)) == 1
    assert len(conv.training_windows(again, np.repeat([0, 1, 0, 1], 16))) == 2  # on other chords: twice


def test_chords_are_inferred_or_read(tmp_path):
    write_midi(arpeggios(["C", "Am", "F", "G"]), tmp_path / "one" / "tune.mid")
    splits, report = extract([tmp_path / "one"], MelodyConverter(), chords=ChordEncoder("TriadChordEncoder"))
    assert report.used == 1
    chords = np.concatenate([splits[f"{s}_chords"] for s in ("train", "validation", "test")])
    progressions = {tuple(splits["chord_symbols"][row[::16]]) for row in chords}
    assert progressions == {("C", "Am"), ("Am", "F"), ("F", "G")}  # inferred: one chord a bar, as played

    from music21 import converter

    abc = 'X:1\nT:Chords\nM:4/4\nL:1/8\nK:C\n"F"cccc "G"cccc|"Dm"cccc "E"cccc|"A"c8|]\n'  # not the melody's chords
    seq = music21_to_sequence(converter.parse(abc, format="abc"), "abc")
    symbols: dict[str, int] = {}
    steps = _chord_indices(seq, symbols, ChordEncoder("TriadChordEncoder"))
    assert [list(symbols)[i] for i in steps[::8]] == ["F", "G", "Dm", "E", "A", "A"]


def trained(folder, out, config, settings, steps, **kwargs):
    return train_musicvae(
        [folder], out, config, steps=steps, save_every=10, seed=3, learning_rate=1e-2, **settings, **kwargs
    )


def initial_weights(config, settings):
    """The weights a run of `trained` starts from (same seed, same sizes)."""
    model = MusicVAE.create(
        config,
        settings["z_size"],
        settings["encoder_sizes"],
        settings["decoder_sizes"],
        conductor_sizes=settings["decoder_sizes"] if get_config(config).conductor else (),
        hierarchical_encoder=get_config(config).hierarchical_encoder,
        seed=3,
    )
    return model.weights()


def assert_learned(run, folder, config, settings) -> MusicVAE:
    """The loss fell well below where it started (a zero or wrong-signed gradient would
    leave it near 1x), and every weight moved: gradients reach every part."""
    assert run.history[-1]["loss"] < 0.6 * run.history[0]["loss"]
    model = MusicVAE.load(folder)
    first = initial_weights(config, settings)
    assert sorted(model.weights()) == sorted(first)
    unmoved = [name for name, value in model.weights().items() if np.allclose(value, first[name])]
    assert unmoved == []
    return model


def assert_resumes_exactly(folder, tmp_path, config, settings):
    """20 steps in one run, and 10 + 10 in two, give the same weights."""
    trained(folder, tmp_path / "straight", config, settings, 20)
    trained(folder, tmp_path / "halves", config, settings, 10, keep_state=True)
    resumed = trained(folder, tmp_path / "halves", config, settings, 20)
    assert resumed.steps == 20
    straight, halves = MusicVAE.load(tmp_path / "straight").weights(), MusicVAE.load(tmp_path / "halves").weights()
    for name, value in straight.items():
        np.testing.assert_allclose(halves[name], value, atol=1e-6, err_msg=name)


@pytest.mark.parametrize(
    "config, settings, conductor",
    [("hierdec-mel_16bar", TINY, (16, 16)), ("hier-mel_16bar", HIER, (16, 16)), ("flat-mel_16bar", TINY, ())],
)
def test_16_bar_training_learns_and_decodes_16_bars(long_tunes, tmp_path, config, settings, conductor):
    model = assert_learned(trained(long_tunes, tmp_path / "m", config, settings, 30), tmp_path / "m", config, settings)
    assert model.spec.conductor_sizes == conductor  # the decoder's sizes, as in Magenta
    assert model.spec.hierarchical_encoder == config.startswith("hier-")
    samples = model.sample(2, seed=0)
    assert [s.total_quantized_steps for s in samples] == [256, 256]  # 16 bars


def test_hierarchical_training_resumes_exactly(long_tunes, tmp_path):
    assert_resumes_exactly(long_tunes, tmp_path, "hierdec-mel_16bar", TINY)


def test_chord_conditioned_training_learns_and_decodes_on_chords(chord_tunes, tmp_path):
    config = "cat-mel_2bar_med_chords"
    model = assert_learned(trained(chord_tunes, tmp_path / "m", config, TINY, 30), tmp_path / "m", config, TINY)
    assert model.chord_encoder is not None
    assert model.chord_encoder.name == "TriadChordEncoder"
    # The chords' rows of the encoder's and the decoder's input kernels were trained
    first = initial_weights(config, TINY)
    for cell, offset in (
        ("encoder/cell_0/bidirectional_rnn/fw/multi_rnn_cell/cell_0/lstm_cell/kernel", 90),
        ("decoder/multi_rnn_cell/cell_0/lstm_cell/kernel", 90 + 8),
    ):
        rows = slice(offset, offset + 49)
        assert not np.allclose(model.weights()[cell][rows], first[cell][rows]), cell
    z = np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32)
    assert [s.total_quantized_steps for s in model.decode(z, chords=["C", "G"])] == [32] * 4
    assert len(model.sample(3, chords=["Am", "F", "C", "G"], seed=1)) == 3
    with pytest.raises(ChordError, match="pass chords"):
        model.decode(z)


def test_chord_conditioned_training_resumes_exactly(chord_tunes, tmp_path):
    """Transposed melodies with their chords transposed: still a function of the step."""
    assert_resumes_exactly(chord_tunes, tmp_path, "cat-mel_2bar_med_chords", TINY)


@pytest.mark.parametrize(
    "config, why",
    [
        ("hierdec-trio_16bar", "trio"),
        ("nade-drums_2bar_reduced", "NADE"),
        ("hier-multiperf_vel_1bar_med", "multitrack"),
    ],
)
def test_other_families_are_refused_naming_why(long_tunes, tmp_path, config, why):
    with pytest.raises(UnsupportedModelError, match=why):
        train_musicvae([long_tunes], tmp_path / "o", config, **TINY)


def cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hmm_live.cli", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )


def test_cli_trains_a_hierarchical_model(long_tunes, tmp_path):
    tiny = ["--z-size", "8", "--encoder-sizes", "16", "--decoder-sizes", "16,16", "--batch-size", "8"]
    proc = cli(
        "train-musicvae", long_tunes, "--out", tmp_path / "h", "--config", "hierdec-mel_16bar", "--steps", 2, *tiny
    )
    assert proc.returncode == 0, proc.stdout
    assert "steps=256" in proc.stdout
    assert MusicVAE.load(tmp_path / "h").spec.num_segments == 16


def test_cli_evaluates_a_chord_conditioned_model(chord_tunes, tmp_path):
    trained(chord_tunes, tmp_path / "c", "cat-mel_2bar_med_chords", TINY, 10)
    proc = cli("eval", tmp_path / "c", chord_tunes, "--split", "train", "--out", tmp_path / "e.json")
    assert proc.returncode == 0, proc.stdout
    result = json.loads((tmp_path / "e.json").read_text())
    assert 0 <= result["reconstruction_accuracy"] <= 1
    assert result["realism"]["windows_per_set"] > 0  # samples on the windows' chords
