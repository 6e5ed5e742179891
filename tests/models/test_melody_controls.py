"""The melody-control MusicVAEs through the API: a rhythm model's boolean decoder, and a melody
model's extra controls by name next to its chords, checked as magenta-js checks them."""

from __future__ import annotations

import numpy as np
import pytest

from hmm_live import ChordError, ConfigError, MusicVAE, UnsupportedModelError
from hmm_live.cli import main
from hmm_live.music import ChordEncoder, from_notes, melody_controls
from hmm_live.training import evaluate
from tests.models.test_conformance import melody_control_model
from tests.support import MULTICONTROL, random_melody


@pytest.fixture(scope="module")
def multicontrol():
    chords = ChordEncoder("PitchChordEncoder")
    return melody_control_model("MelodyConverter", 60, chords=chords, extra=MULTICONTROL, scale=0.5)


@pytest.fixture(scope="module")
def rhythm():
    return melody_control_model("MelodyRhythmConverter", 61, boolean=True, scale=0.5)


@pytest.fixture(scope="module")
def controls():
    return melody_controls(random_melody(np.random.default_rng(1)))


def test_extra_controls_reach_the_encoder_and_the_decoder(multicontrol, controls):
    melodies = [random_melody(np.random.default_rng(2))]
    _, mu, _ = multicontrol.encode(melodies, ["C"], extra_controls=controls)
    other = {**controls, "rhythm": 1.0 - controls["rhythm"]}
    _, mu_other, _ = multicontrol.encode(melodies, ["C"], extra_controls=other)
    assert not np.allclose(mu, mu_other)
    z = np.random.default_rng(3).standard_normal((4, multicontrol.z_size)).astype(np.float32)
    labels = multicontrol.decode_labels(z, controls=multicontrol.controls(["C"], controls))
    assert (labels != multicontrol.decode_labels(z, controls=multicontrol.controls(["C"], other))).any()
    decoded = multicontrol.decode(z, chords=["C"], extra_controls=controls)
    assert [multicontrol.data_converter.to_labels(s).tolist() for s in decoded] == labels.tolist()


def test_every_call_takes_extra_controls(multicontrol, controls):
    melody = random_melody(np.random.default_rng(4))
    assert len(multicontrol.sample(2, chords=["Am"], seed=5, extra_controls=controls)) == 2
    assert len(multicontrol.interpolate(melody, melody, 3, chords=["Am"], extra_controls=controls)) == 3
    assert len(multicontrol.similar(melody, 2, 0.5, chords=["Am"], seed=6, extra_controls=controls)) == 2


def test_extra_controls_survive_save_and_load(multicontrol, controls, tmp_path):
    multicontrol.save(tmp_path / "m")
    loaded = MusicVAE.load(tmp_path / "m")
    assert loaded.extra_controls == MULTICONTROL
    assert loaded.js_config()["extraControls"] == [{"name": n, "depth": d} for n, d in MULTICONTROL]
    z = np.zeros((1, multicontrol.z_size), np.float32)
    np.testing.assert_array_equal(
        loaded.decode_labels(z, controls=loaded.controls(["F"], controls)),
        multicontrol.decode_labels(z, controls=multicontrol.controls(["F"], controls)),
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda c: {k: v for k, v in c.items() if k != "shape"},
            r"needs the extra control 'shape': pass extra_controls",
        ),
        (lambda c: {**c, "key": np.zeros((32, 12))}, r"takes no control 'key' \(its extra controls are 'rhythm' "),
        (
            lambda c: {**c, "register": np.zeros((32, 3))},
            r"'register' must be finite with shape \[32, 4\], got \[32, 3\]",
        ),
        (lambda c: {**c, "rhythm": np.zeros(32)}, r"'rhythm' must be finite with shape \[32, 1\], got \[32\]"),
        (lambda c: {**c, "rhythm": np.full((32, 1), np.nan)}, r"'rhythm' must be finite"),
        (lambda c: {**c, "shape": [[0, 1], [1]]}, r"'shape' is not an array of numbers"),
        (lambda c: None, r"needs the extra control 'rhythm'"),
    ],
    ids=["missing", "unexpected", "wrong-depth", "not-2d", "nan", "ragged", "none"],
)
def test_bad_extra_controls_are_named(multicontrol, controls, change, message):
    with pytest.raises(ConfigError, match=message):
        multicontrol.sample(1, chords=["C"], extra_controls=change(controls))


def test_chords_are_checked_as_before_and_other_models_take_no_extra_controls(multicontrol, rhythm, controls):
    with pytest.raises(ChordError, match="conditioned on chords"):
        multicontrol.sample(1, extra_controls=controls)
    with pytest.raises(ConfigError, match=r"takes no control 'rhythm' \(it has no extra controls"):
        rhythm.sample(1, extra_controls={"rhythm": controls["rhythm"]})


def test_a_rhythm_model_writes_onsets_as_snare_hits(rhythm):
    z = np.random.default_rng(7).standard_normal((6, rhythm.z_size)).astype(np.float32)
    labels = rhythm.decode_labels(z)
    assert set(np.unique(labels)) == {0, 1}
    for row, seq in zip(labels, rhythm.decode(z)):
        assert [n.quantized_start_step for n in seq.notes] == np.flatnonzero(row).tolist()
        assert {(n.pitch, n.is_drum) for n in seq.notes} <= {(38, True)}
    again = rhythm.encode([from_notes([(60, s, s + 1) for s in np.flatnonzero(labels[0])], 32)])[1]
    assert again.shape == (1, rhythm.z_size)


def test_a_rhythm_model_samples_at_a_temperature(rhythm):
    z = np.zeros((2, rhythm.z_size), np.float32)
    greedy = rhythm.decode_labels(z)
    a, b = (rhythm.decode_labels(z, temperature=1.0, seed=8) for _ in range(2))
    np.testing.assert_array_equal(a, b)
    assert (a != greedy).any()
    assert set(np.unique(a)) <= {0, 1}


def test_a_boolean_decoder_is_not_trained(rhythm):
    with pytest.raises(UnsupportedModelError, match="training a boolean decoder"):
        rhythm.network.decoder.teacher_forced(np.zeros((1, 16), np.float32), np.zeros((1, 32), np.int64), 0.0, None)


def test_hmm_live_info_lists_the_extra_controls_and_evaluate_refuses_them(multicontrol, tmp_path, capsys):
    multicontrol.save(tmp_path / "m")
    assert main(["info", str(tmp_path / "m")]) == 0
    assert "extra controls: rhythm (1 per step), shape (3 per step), register (4 per step)" in capsys.readouterr().out
    with pytest.raises(UnsupportedModelError, match=r"extra controls \(rhythm, shape, register\)"):
        evaluate(multicontrol, np.zeros((2, 32), np.int64))
