"""Melodies and their 90 classes (hmm_live.music.melody) against Python Magenta's meaning.

note_seq, the library Python Magenta's converters are built on, is the
reference wherever it has the same notion.
"""

from __future__ import annotations

import note_seq
import numpy as np
import pytest

from hmm_live import SequenceError
from hmm_live.music import MelodyConverter, NoteSequence, from_notes, is_quantized, quantize
from tests.support import note_triples, random_melody, unquantized

NO_EVENT, NOTE_OFF = 0, 1


def random_polyphony(rng: np.random.Generator, steps: int = 32) -> NoteSequence:
    """Overlapping notes, chords (shared onsets) and notes running past the window."""
    notes = [
        (int(rng.integers(21, 109)), s, s + int(rng.integers(1, 12)))
        for s in rng.integers(0, steps, int(rng.integers(1, 14))).tolist()
    ]
    notes.append((int(rng.integers(21, 109)), int(rng.integers(0, 16)), int(rng.integers(17, 40))))
    order = rng.permutation(len(notes))
    return from_notes([notes[i] for i in order], steps)


def note_seq_labels(seq: NoteSequence, num_steps: int = 32) -> np.ndarray:
    """Python Magenta's melody events for `seq`, as hmm_live's 90 classes.

    note_seq drops a melody's very last event when it is a note-off
    (melodies_lib: "Strip final MELODY_NOTE_OFF event"); hmm_live keeps that
    note-off, as magenta-js does, so it is put back here. Everything else is
    note_seq's own result.
    """
    melody = note_seq.Melody()
    melody.from_quantized_sequence(seq, gap_bars=10_000, ignore_polyphonic_notes=True)
    events = list(melody) + ([note_seq.MELODY_NOTE_OFF] if len(melody) else [])
    out = np.zeros(num_steps, np.int64)
    for step, event in enumerate(events, start=melody.start_step):
        if step < num_steps:
            out[step] = {note_seq.MELODY_NO_EVENT: NO_EVENT, note_seq.MELODY_NOTE_OFF: NOTE_OFF}.get(
                event, event - 21 + 2
            )
    return out


def test_melody_classes():
    conv = MelodyConverter(32)
    assert conv.input_depth == conv.output_depth == 90
    seq = from_notes([(21, 0, 2), (108, 4, 6), (60, 8, 32)], 32)
    labels = conv.to_labels(seq)
    assert labels.shape == (32,)
    assert labels.dtype.kind == "i"
    assert labels[0] == 2
    assert labels[4] == 89
    assert labels[8] == 60 - 21 + 2
    assert labels[2] == labels[6] == NOTE_OFF
    assert set(labels[[1, 3, 5, 7]].tolist() + labels[9:].tolist()) == {NO_EVENT}
    inputs = conv.to_inputs(seq)
    assert inputs.shape == (32, 90)
    assert inputs.dtype == np.float32
    np.testing.assert_array_equal(inputs, np.eye(90, dtype=np.float32)[labels])


def test_melody_same_onset_keeps_highest_pitch():
    conv = MelodyConverter(32)
    chord = from_notes([(60, 0, 4), (67, 0, 4), (64, 0, 8)], 32)
    labels = conv.to_labels(chord)
    assert labels[0] == 67 - 21 + 2
    assert labels[4] == NOTE_OFF
    assert labels[8] == NO_EVENT  # the dropped 64's end leaves no trace


def test_melody_overlap_follows_python_magenta():
    """The notes file's example: 60@0-8, 64@4-12 -> 60 - - - 64 - - - - - - - OFF."""
    seq = from_notes([(60, 0, 8), (64, 4, 12)], 32)
    expected = np.zeros(32, np.int64)
    expected[0], expected[4], expected[12] = 60 - 19, 64 - 19, NOTE_OFF
    np.testing.assert_array_equal(MelodyConverter(32).to_labels(seq), expected)
    np.testing.assert_array_equal(note_seq_labels(seq), expected)


def test_melody_overlap_shorter_later_note_clears_earlier_note_off():
    """60@0-12 then 64@4-6: note_seq truncates the melody at the new note-off, so the
    first note's note-off at step 12 is gone; only 64's note-off at 6 remains."""
    seq = from_notes([(60, 0, 12), (64, 4, 6)], 32)
    expected = np.zeros(32, np.int64)
    expected[0], expected[4], expected[6] = 60 - 19, 64 - 19, NOTE_OFF
    np.testing.assert_array_equal(note_seq_labels(seq), expected)
    np.testing.assert_array_equal(MelodyConverter(32).to_labels(seq), expected)


@pytest.mark.parametrize("kind", ["monophonic", "polyphonic"])
def test_melody_matches_note_seq(kind):
    rng = np.random.default_rng(2024 if kind == "monophonic" else 4202)
    conv = MelodyConverter(32)
    for i in range(60):
        seq = random_melody(rng, low=21, high=109) if kind == "monophonic" else random_polyphony(rng)
        np.testing.assert_array_equal(
            conv.to_labels(seq), note_seq_labels(seq), err_msg=f"sequence {i}: {note_triples(seq)}"
        )


def test_melody_round_trip():
    rng = np.random.default_rng(8)
    conv = MelodyConverter(32)
    for _ in range(50):
        seq = random_melody(rng, low=21, high=109)
        back = conv.from_labels(conv.to_labels(seq))
        assert note_triples(back) == note_triples(seq)
        assert back.total_quantized_steps == 32
        assert is_quantized(back)
        assert all(n.velocity > 0 and not n.is_drum for n in back.notes)


def test_melody_from_labels_meaning():
    conv = MelodyConverter(32)
    labels = np.zeros(32, np.int64)
    labels[[0, 3, 5, 20]] = [60 - 19, 62 - 19, NOTE_OFF, 108 - 19]
    assert note_triples(conv.from_labels(labels)) == [[60, 0, 3], [62, 3, 5], [108, 20, 32]]
    assert note_triples(conv.from_labels(np.zeros(32, np.int64))) == []


def test_melody_unquantized_input_is_quantized_to_16ths():
    qpm = 90.0
    step = 60.0 / qpm / 4
    notes = [(60, 0, 4), (62, 4, 6), (67, 9, 17), (72, 20, 31)]
    seq = unquantized([(p, s * step, e * step) for p, s, e in notes], qpm=qpm)
    assert not is_quantized(seq)
    q = quantize(seq)
    assert q.quantization_info.steps_per_quarter == 4
    assert note_triples(q) == [list(n) for n in notes]
    conv = MelodyConverter(32)
    np.testing.assert_array_equal(conv.to_labels(seq), conv.to_labels(from_notes(notes, 32)))


def test_melody_rejects_out_of_range_pitch():
    with pytest.raises(SequenceError, match="pitch 109"):
        MelodyConverter(32).to_labels(from_notes([(60, 0, 2), (109, 4, 6)], 32))


def test_melody_ignores_drum_notes():
    seq = from_notes([(60, 0, 4)], 32)
    seq.notes.add(pitch=36, velocity=100, is_drum=True, quantized_start_step=2, quantized_end_step=3)
    np.testing.assert_array_equal(
        MelodyConverter(32).to_labels(seq), MelodyConverter(32).to_labels(from_notes([(60, 0, 4)], 32))
    )
