"""A melody's rhythm, shape and register, and the converters of the melody-control MusicVAEs."""

from __future__ import annotations

import numpy as np
import pytest

from hmm_live import ConfigError, SequenceError, UnsupportedModelError
from hmm_live.music import MelodyRhythmConverter, MelodyShapeConverter, converter_from_spec, from_notes, melody_controls
from hmm_live.music.melody_controls import DOWN, SAME, UP
from tests.support import note_triples


def test_rhythm_marks_each_onset_the_highest_of_a_chord_once():
    seq = from_notes([(60, 0, 4), (64, 0, 2), (62, 4, 5), (67, 9, 31)], 32)
    labels = MelodyRhythmConverter().to_labels(seq)
    assert np.flatnonzero(labels).tolist() == [0, 4, 9]
    assert MelodyRhythmConverter().to_inputs(seq).shape == (32, 1)


def test_shape_fills_each_direction_back_to_the_onset_before():
    seq = from_notes([(60, 2, 4), (64, 4, 6), (62, 8, 9), (62, 12, 13)], 32)
    expected = [UP] * 5 + [DOWN] * 4 + [SAME] * 23  # the first direction reaches back to step 0
    assert MelodyShapeConverter().to_labels(seq).tolist() == expected
    np.testing.assert_array_equal(MelodyShapeConverter().to_inputs(seq), np.eye(3)[expected])


@pytest.mark.parametrize("notes", [[], [(60, 3, 8)], [(60, 0, 32)]], ids=["silence", "one-note", "one-long-note"])
def test_fewer_than_two_onsets_are_a_flat_shape(notes):
    inputs = MelodyShapeConverter().to_inputs(from_notes(notes, 32))
    np.testing.assert_array_equal(inputs, np.eye(3)[[SAME] * 32])


def test_a_lone_onset_on_the_last_step_leaves_the_shape_undirected_as_magenta_js():
    seq = from_notes([(60, 31, 32)], 32)
    assert not MelodyShapeConverter().to_inputs(seq).any()
    assert MelodyShapeConverter().to_labels(seq).tolist() == [SAME] * 32


def test_register_is_the_held_mean_pitch_binned_at_every_step():
    low_and_high = from_notes([(48, 0, 8), (72, 8, 16)], 32)  # 8 steps each: mean 60, bin 1 of 50, 63, 70
    controls = melody_controls(low_and_high)
    np.testing.assert_array_equal(controls["register"], np.tile([0, 1, 0, 0], (32, 1)))
    held_long = from_notes([(48, 0, 8), (72, 8, 32)], 32)  # 72 held 24 steps: mean 66, bin 2
    assert melody_controls(held_long)["register"][0].tolist() == [0, 0, 1, 0]
    assert melody_controls(from_notes([(80, 0, 1)], 32), boundaries=(60,))["register"][5].tolist() == [0, 1]
    assert not melody_controls(from_notes([], 32))["register"].any()


def test_melody_controls_are_the_converters_signals():
    seq = from_notes([(40, 0, 3), (90, 5, 6), (55, 20, 21)], 32)
    controls = melody_controls(seq)
    assert {name: v.shape for name, v in controls.items()} == {"rhythm": (32, 1), "shape": (32, 3), "register": (32, 4)}
    np.testing.assert_array_equal(controls["rhythm"], MelodyRhythmConverter().to_inputs(seq))
    np.testing.assert_array_equal(controls["shape"], MelodyShapeConverter().to_inputs(seq))


def test_a_decoded_rhythm_is_snare_hits_and_a_decoded_shape_a_note_per_step():
    rhythm = MelodyRhythmConverter().from_labels(np.array([1, 0, 0, 1] + [0] * 28))
    assert note_triples(rhythm) == [[38, 0, 1], [38, 3, 4]]
    assert all(n.is_drum for n in rhythm.notes)
    assert rhythm.total_quantized_steps == 32
    shape = MelodyShapeConverter().from_labels(np.array([UP, UP, SAME, DOWN]))
    assert note_triples(shape) == [[66, 0, 1], [67, 1, 2], [67, 2, 3], [66, 3, 4]]  # from 65, the middle of 21..108
    narrow = MelodyShapeConverter(32, 60, 61).from_labels(np.array([UP, UP, UP, DOWN, DOWN, DOWN]))
    assert [n.pitch for n in narrow.notes] == [61, 61, 61, 60, 60, 60]  # kept within the range


def test_specs_round_trip_and_bad_ones_are_named():
    for cls in (MelodyRhythmConverter, MelodyShapeConverter):
        converter = cls(32, 40, 90)
        again = converter_from_spec(converter.spec())
        assert type(again) is cls
        assert (
            again.spec()
            == converter.spec()
            == {"type": cls.js_type, "args": {"numSteps": 32, "minPitch": 40, "maxPitch": 90}}
        )
    with pytest.raises(ConfigError, match="lacks the argument 'numSteps'"):
        converter_from_spec({"type": "MelodyShapeConverter", "args": {}})
    with pytest.raises(ConfigError, match=r"pitch range 90\.\.40"):
        converter_from_spec({"type": "MelodyRhythmConverter", "args": {"numSteps": 32, "minPitch": 90, "maxPitch": 40}})


def test_bad_melodies_are_named():
    seq = from_notes([(110, 3, 4)], 32)
    seq.filename = "tune.mid"
    with pytest.raises(SequenceError, match=r"tune.mid: pitch 110 at step 3 is outside the model's range 21..108"):
        MelodyShapeConverter().to_inputs(seq)
    with pytest.raises(SequenceError, match="longer than the model's 32 steps"):
        MelodyRhythmConverter().to_inputs(from_notes([(60, 40, 41)], 48))
    with pytest.raises(UnsupportedModelError, match="no training or evaluation windows for a MelodyRhythmConverter"):
        MelodyRhythmConverter().training_windows(from_notes([(60, 0, 4)], 32))
