"""Drum rolls and their 512 classes (hmm_live.music.drums) against Python Magenta's meaning."""

from __future__ import annotations

import note_seq
import numpy as np
import pytest
from note_seq.drums_encoder_decoder import DEFAULT_DRUM_TYPE_PITCHES

from hmm_live import SequenceError
from hmm_live.music import DrumsConverter, from_notes
from tests.support import note_triples, random_drums

PYTHON_DRUM_TABLE = [
    [36, 35],
    [38, 27, 28, 31, 32, 33, 34, 37, 39, 40, 56, 65, 66, 75, 85],
    [42, 44, 54, 68, 69, 70, 71, 73, 78, 80, 22],
    [46, 67, 72, 74, 79, 81, 26],
    [45, 29, 41, 43, 61, 64, 84],
    [48, 47, 60, 63, 77, 86, 87],
    [50, 30, 62, 76, 83],
    [49, 52, 55, 57, 58],
    [51, 53, 59, 82],
]


def test_drum_table_is_python_magentas():
    conv = DrumsConverter(32)
    assert conv.pitch_classes == PYTHON_DRUM_TABLE
    assert conv.pitch_classes == [list(c) for c in DEFAULT_DRUM_TYPE_PITCHES]
    assert conv.output_depth == 512
    assert conv.input_depth == 10
    labels = conv.to_labels(from_notes([(22, 0, 1), (26, 1, 2), (43, 2, 3), (52, 3, 4)], 32, is_drum=True))
    assert labels[:4].tolist() == [1 << 2, 1 << 3, 1 << 4, 1 << 7]  # closed hat, open hat, low tom, crash


def test_drum_labels_are_bit_sums_kick_lowest():
    conv = DrumsConverter(32)
    hits = [(36, 0), (38, 0), (42, 1), (35, 2), (51, 2), (49, 2), (46, 5), (50, 6), (48, 6), (45, 7)]
    labels = conv.to_labels(from_notes([(p, s, s + 1) for p, s in hits], 32, is_drum=True))
    expected = np.zeros(32, np.int64)
    expected[:8] = [1 + 2, 4, 1 + 256 + 128, 0, 0, 8, 64 + 32, 16]
    np.testing.assert_array_equal(labels, expected)


def test_drum_labels_match_note_seq():
    rng = np.random.default_rng(3)
    conv = DrumsConverter(32)
    encoding = note_seq.MultiDrumOneHotEncoding()
    for _ in range(30):
        seq = random_drums(rng)
        track = note_seq.DrumTrack()
        track.from_quantized_sequence(seq, gap_bars=10_000)
        ref = np.zeros(32, np.int64)
        for step, event in enumerate(track, start=track.start_step):
            ref[step] = encoding.encode_event(event)
        np.testing.assert_array_equal(conv.to_labels(seq), ref)


def test_drum_roll_input_no_hit_column_on_the_same_step():
    conv = DrumsConverter(32)
    seq = from_notes([(36, 0, 1), (42, 2, 3), (38, 3, 4), (42, 3, 4)], 32, is_drum=True)
    inputs = conv.to_inputs(seq)
    assert inputs.shape == (32, 10)
    assert inputs.dtype == np.float32
    assert inputs[:5, 9].tolist() == [0, 1, 0, 0, 1]  # not one row early (magenta-js 1.23.1's bug)
    assert inputs[0, :9].tolist() == [1, 0, 0, 0, 0, 0, 0, 0, 0]
    assert inputs[3, :9].tolist() == [0, 1, 1, 0, 0, 0, 0, 0, 0]
    rng = np.random.default_rng(4)
    for _ in range(20):
        seq = random_drums(rng)
        labels, inputs = conv.to_labels(seq), conv.to_inputs(seq)
        np.testing.assert_array_equal(inputs[:, 9], (labels == 0).astype(np.float32))
        bits = (labels[:, None] >> np.arange(9)) & 1
        np.testing.assert_array_equal(inputs[:, :9], bits.astype(np.float32))


def test_drum_one_hot_input_variant():
    conv = DrumsConverter(32, roll_input=False)
    seq = from_notes([(36, 0, 1), (42, 0, 1)], 32, is_drum=True)
    assert conv.input_depth == 512
    np.testing.assert_array_equal(conv.to_inputs(seq), np.eye(512, dtype=np.float32)[conv.to_labels(seq)])


def test_drum_output_uses_first_pitch_of_each_class():
    conv = DrumsConverter(32)
    labels = np.zeros(32, np.int64)
    labels[0], labels[5] = 511, 1 + 4
    seq = conv.from_labels(labels)
    assert all(n.is_drum for n in seq.notes)
    assert note_triples(seq) == ([[c[0], 0, 1] for c in PYTHON_DRUM_TABLE] + [[36, 5, 6], [42, 5, 6]])
    rng = np.random.default_rng(5)
    for _ in range(10):
        labels = conv.to_labels(random_drums(rng))
        np.testing.assert_array_equal(conv.to_labels(conv.from_labels(labels)), labels)


def test_drums_reject_sequences_without_drum_notes():
    with pytest.raises(SequenceError, match="is_drum"):
        DrumsConverter(32).to_labels(from_notes([(36, 0, 1), (38, 4, 5)], 32))
    mixed = from_notes([(36, 0, 1)], 32, is_drum=True)
    mixed.notes.add(pitch=38, velocity=100, quantized_start_step=4, quantized_end_step=5)
    assert DrumsConverter(32).to_labels(mixed)[:5].tolist() == [1, 0, 0, 0, 0]  # non-drum note ignored
    empty = from_notes([], 32, is_drum=True)
    assert DrumsConverter(32).to_labels(empty).tolist() == [0] * 32


def test_drums_ignore_unknown_pitches():
    conv = DrumsConverter(32)
    seq = from_notes([(20, 0, 1), (90, 1, 2), (127, 2, 3), (36, 3, 4), (0, 3, 4)], 32, is_drum=True)
    assert conv.to_labels(seq)[:5].tolist() == [0, 0, 0, 1, 0]
    assert conv.to_inputs(seq)[:5, 9].tolist() == [1, 1, 1, 0, 1]
