"""Trios (hmm_live.music.trio) and NADE drum rolls: which notes go where, and back."""

from __future__ import annotations

import numpy as np
import pytest

from hmm_live import SequenceError
from hmm_live.music import (
    DrumRollConverter,
    DrumsConverter,
    NoteSequence,
    TrioConverter,
    converter_from_spec,
    from_notes,
)
from hmm_live.music.melody import FIRST_PITCH
from tests.support import note_triples


def trio_sequence(programs=(0, 33)) -> NoteSequence:
    """A melody (60, 62), a bass line (36) and a kick and snare, in two bars."""
    seq = from_notes([(60, 0, 4), (62, 4, 8)], 32)
    bass = from_notes([(36, 0, 8)], 32)
    for note in seq.notes:
        note.program = programs[0]
    for note in bass.notes:
        note.program = programs[1]
    seq.notes.extend(bass.notes)
    seq.notes.extend(from_notes([(36, 0, 1), (38, 4, 5)], 32, is_drum=True).notes)
    return seq


def test_trio_depths_are_magentas():
    conv = TrioConverter(32)
    assert conv.split_depths == (90, 90, 512)
    assert conv.input_depth == conv.output_depth == 692


def test_programs_pick_the_instrument():
    labels = TrioConverter(32).to_labels(trio_sequence())
    assert labels[[0, 4], 0].tolist() == [60 - 21 + FIRST_PITCH, 62 - 21 + FIRST_PITCH]
    assert labels[0, 1] == 36 - 21 + FIRST_PITCH
    assert labels[[0, 4], 2].tolist() == [1, 2]  # kick, snare


def test_programs_outside_melody_and_bass_are_left_out():
    labels = TrioConverter(32).to_labels(trio_sequence(programs=(40, 33)))
    assert not labels[:, 0].any()


def test_inputs_are_the_three_one_hots():
    inputs = TrioConverter(32).to_inputs(trio_sequence())
    assert inputs.shape == (32, 692)
    np.testing.assert_array_equal(inputs.sum(axis=1), np.full(32, 3.0))


def test_decoded_notes_carry_magenta_js_instruments():
    conv = TrioConverter(32)
    seq = conv.from_labels(conv.to_labels(trio_sequence()))
    parts = [(n.instrument, n.program, n.is_drum) for n in seq.notes]
    assert parts == [(0, 0, False), (0, 0, False), (1, 32, False), (2, 0, True), (2, 0, True)]


def test_decoding_gives_the_notes_back():
    conv = TrioConverter(32)
    seq = conv.from_labels(conv.to_labels(trio_sequence()))
    assert note_triples(seq) == [[60, 0, 4], [62, 4, 8], [36, 0, 8], [36, 0, 1], [38, 4, 5]]


def test_the_spec_round_trips():
    conv = TrioConverter(64, 4, (48, 84), (24, 60))
    again = converter_from_spec(conv.spec())
    assert (again.num_steps, again.num_segments, again.split_depths) == (64, 4, (39, 39, 512))


def test_a_trio_too_long_for_the_model_is_refused():
    seq = trio_sequence()
    seq.notes.extend(from_notes([(38, 20, 21)], 32, is_drum=True).notes)
    with pytest.raises(SequenceError, match="longer than the model's 16 steps"):
        TrioConverter(16).to_labels(seq)


def test_training_windows_hold_every_instrument():
    windows = TrioConverter(16).training_windows(trio_sequence())
    assert windows.shape == (1, 16, 3)


def test_drum_roll_labels_are_the_drum_bit_masks():
    roll, drums = DrumRollConverter(32), DrumsConverter(32)
    seq = from_notes([(36, 0, 1), (38, 0, 1), (42, 3, 4)], 32, is_drum=True)
    np.testing.assert_array_equal(roll.to_labels(seq), drums.to_labels(seq))


def test_drum_roll_has_one_output_per_class():
    roll = DrumRollConverter(32)
    assert (roll.input_depth, roll.output_depth, roll.multi_label) == (10, 9, True)


def test_drum_roll_spec_names_its_type():
    assert converter_from_spec(DrumRollConverter(32).spec()).js_type == "DrumRollConverter"
