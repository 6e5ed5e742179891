"""GrooVAE's groove tensors (hmm_live.music.groove): hits, velocities and timing offsets, tapped and humanised."""

from __future__ import annotations

import numpy as np
import pytest
from note_seq.drums_encoder_decoder import DEFAULT_DRUM_TYPE_PITCHES

from hmm_live import ConfigError, SequenceError, UnsupportedModelError
from hmm_live.music import GrooveConverter, converter_from_spec, from_notes
from tests.support import random_groove, unquantized

STEP = 0.125  # seconds per 16th at 120 qpm


def class_of(pitch: int) -> int:
    return next(c for c, pitches in enumerate(DEFAULT_DRUM_TYPE_PITCHES) if pitch in pitches)


def test_a_groove_bar_keeps_hits_velocities_and_timing_through_tensors():
    rng = np.random.default_rng(1)
    conv = GrooveConverter(32)
    performance = random_groove(rng, rate=0.1)
    loudest: dict[tuple[int, int], tuple[int, float]] = {}  # (step, class) -> (velocity, start)
    for n in performance.notes:
        key = (round(n.start_time / STEP), class_of(n.pitch))
        if key not in loudest or loudest[key][0] < n.velocity:
            loudest[key] = (n.velocity, n.start_time)
    decoded = conv.from_labels(conv.to_labels(performance))
    got = {(round(n.start_time / STEP), class_of(n.pitch)): (n.velocity, n.start_time) for n in decoded.notes}
    assert sorted(got) == sorted(loudest)  # the hits: one per step and class
    assert {k: v for k, (v, _) in got.items()} == {k: v for k, (v, _) in loudest.items()}  # velocities, exactly
    starts = np.array([[got[k][1], loudest[k][1]] for k in sorted(got)])
    np.testing.assert_allclose(starts[:, 0], starts[:, 1], atol=1e-6)  # the micro-timing


def test_decoded_notes_are_the_first_pitch_of_their_class_for_one_step():
    conv = GrooveConverter(16)
    groove = np.zeros((16, 27), np.float32)
    groove[2, [0, 2]] = 1.0  # kick and closed hi-hat at step 2
    groove[2, [9, 11]] = [100 / 127, 0.3]
    groove[2, [18, 20]] = [0.5, -1.6]  # a quarter step early; past the limit, so half a step late
    notes = sorted(conv.from_labels(groove).notes, key=lambda n: n.pitch)
    assert [n.pitch for n in notes] == [36, 42]
    assert [n.velocity for n in notes] == [100, 38]
    np.testing.assert_allclose([n.start_time for n in notes], [1.75 * STEP, 2.5 * STEP])
    np.testing.assert_allclose([n.end_time - n.start_time for n in notes], [STEP, STEP])
    assert all(n.is_drum for n in notes)


def test_offsets_are_half_steps_early_positive_and_follow_the_tempo():
    conv = GrooveConverter(16)
    step = 60 / 90 / 4
    groove = conv.to_labels(unquantized([(38, 4 * step - 0.2 * step, 4.5 * step, 64)], qpm=90, is_drum=True))
    assert groove[4, 1] == 1.0
    assert groove[4, 10] == pytest.approx(64 / 127)
    assert groove[4, 19] == pytest.approx(0.4, abs=1e-6)


def test_the_loudest_of_a_class_in_a_step_wins():
    conv = GrooveConverter(16)
    groove = conv.to_labels(unquantized([(42, 0.01, 0.1, 50), (44, 0.0, 0.1, 90), (22, 0.02, 0.1, 70)], is_drum=True))
    assert groove[0, 11] == pytest.approx(90 / 127)
    assert groove[0, 20] == 0.0


def test_humanize_hides_velocities_and_timing():
    conv = GrooveConverter(32, humanize=True)
    performance = random_groove(np.random.default_rng(2))
    inputs, targets = conv.to_inputs(performance), conv.to_labels(performance)
    np.testing.assert_array_equal(inputs[:, :9], targets[:, :9])
    assert not inputs[:, 9:].any()
    assert targets[:, 9:].any()  # the targets keep them


def test_tapify_makes_one_tap_voice_from_any_instrument():
    # magenta-js 1.23.1 zeroes the taps' velocities; Python Magenta does so only with fixed_velocities,
    # which the published tap2drum models were trained with (groovae_2bar_tap_fixed_velocity): followed here.
    conv = GrooveConverter(16, tapify=True)
    played = unquantized([(60, 0.02, 0.2, 40), (64, 0.01, 0.2, 90), (72, 0.49, 0.6, 70)])  # a piano, no drums
    inputs = conv.to_inputs(played)
    assert np.nonzero(inputs[:, 3])[0].tolist() == [0, 4]  # taps on the open hi-hat class
    assert inputs[0, 21] == pytest.approx(-0.16, abs=1e-6)  # the loudest note's timing
    assert inputs[4, 21] == pytest.approx(0.16, abs=1e-6)
    assert not np.delete(inputs, [3, 21], axis=1).any()  # no velocities, nothing else


def test_drums_come_from_is_drum_notes_only():
    # Both references take any note whose pitch is in the table; the published models saw only drum tracks
    # (the Groove MIDI Dataset), so hmm_live reads drums as its drum converter does: is_drum notes.
    conv = GrooveConverter(16)
    mixed = unquantized([(36, 0.0, 0.1, 80), (38, 0.25, 0.3, 80)])
    mixed.notes[0].is_drum = True
    assert np.nonzero(conv.to_labels(mixed)[:, :9])[0].tolist() == [0]
    with pytest.raises(SequenceError, match="none marked is_drum"):
        conv.to_labels(unquantized([(36, 0.0, 0.1, 80)]))


def test_a_quantized_pattern_has_no_offsets():
    conv = GrooveConverter(16)
    groove = conv.to_labels(from_notes([(36, 0, 1), (38, 4, 5), (42, 6, 7)], 16, is_drum=True))
    assert groove[[0, 4, 6], [0, 1, 2]].tolist() == [1.0, 1.0, 1.0]
    assert not groove[:, 18:].any()


def test_a_hit_past_the_window_is_an_error():
    conv = GrooveConverter(16)
    with pytest.raises(SequenceError, match="longer than the model's 16 steps"):
        conv.to_labels(unquantized([(36, 16 * STEP - 0.01, 16 * STEP + 0.1, 80)], is_drum=True))  # rounds to 16


def test_spec_round_trips_and_unsupported_args_are_named():
    conv = GrooveConverter(48, tapify=True)
    again = converter_from_spec(conv.spec())
    assert again.spec() == conv.spec()
    assert isinstance(again, GrooveConverter)
    assert again.tapify
    assert converter_from_spec({"type": "GrooveConverter", "args": {"numSteps": 32}}).pitch_classes == [
        list(c) for c in DEFAULT_DRUM_TYPE_PITCHES
    ]
    for args, message in (
        ({"splitInstruments": True}, "splitInstruments"),
        ({"stepsPerQuarter": 3}, "stepsPerQuarter 3"),
        ({"numSegments": 2}, "numSegments"),
    ):
        with pytest.raises(UnsupportedModelError, match=message):
            converter_from_spec({"type": "GrooveConverter", "args": {"numSteps": 32, **args}})
    with pytest.raises(ConfigError, match="pitchClasses"):
        GrooveConverter(32, pitch_classes=[[36], [38]])
    with pytest.raises(ConfigError, match="field 'tapify' must be a bool, got str"):
        converter_from_spec({"type": "GrooveConverter", "args": {"numSteps": 32, "tapify": "no"}})


def test_a_performance_is_written_at_the_tempo_asked_for():
    conv = GrooveConverter(16)
    groove = np.zeros((16, 27), np.float32)
    groove[8, 0], groove[8, 18] = 1.0, -0.5  # a quarter step late
    (note,) = conv.from_labels(groove, qpm=60.0).notes
    assert note.start_time == pytest.approx(8.25 * 0.25)
    assert note.end_time == pytest.approx(9.25 * 0.25)
