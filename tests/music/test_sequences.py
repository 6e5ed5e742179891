"""NoteSequences (hmm_live.music.sequences): MIDI files, bars, windows and the 4/4 grid."""

from __future__ import annotations

import os

import numpy as np
import pytest

from hmm_live import MidiFileError, SequenceError
from hmm_live.music import (
    DrumsConverter,
    MelodyConverter,
    NoteSequence,
    from_notes,
    is_quantized,
    quantize,
    read_midi,
    slice_bars,
    windows,
    write_midi,
)
from tests.support import note_triples, unquantized


def test_midi_round_trip_quantized(tmp_path):
    seq = from_notes([(60, 0, 4), (64, 4, 6), (67, 6, 16), (72, 20, 32), (48, 0, 32)], 32, qpm=100.0)
    path = write_midi(seq, tmp_path / "out.mid")
    back = read_midi(path)
    assert back.filename == str(path)
    assert not is_quantized(back)
    assert back.tempos[0].qpm == pytest.approx(100.0)
    assert (back.time_signatures[0].numerator, back.time_signatures[0].denominator) == (4, 4)
    assert sorted(note_triples(quantize(back))) == sorted(note_triples(seq))


def test_midi_round_trip_unquantized(tmp_path):
    seq = unquantized([(60, 0.0, 0.5, 80), (62, 0.25, 1.0, 100), (36, 1.5, 1.75, 127)])
    seq.notes.add(pitch=38, velocity=70, start_time=0.5, end_time=0.6, is_drum=True, instrument=9)
    write_midi(seq, tmp_path / "u.mid")
    back = read_midi(tmp_path / "u.mid")
    key = lambda n: (n.is_drum, n.pitch, round(n.start_time, 3))  # noqa: E731
    got, want = sorted(back.notes, key=key), sorted(seq.notes, key=key)
    assert [(n.pitch, n.velocity, n.is_drum) for n in got] == [(n.pitch, n.velocity, n.is_drum) for n in want]
    for g, w in zip(got, want):
        assert g.start_time == pytest.approx(w.start_time, abs=1e-3)
        assert g.end_time == pytest.approx(w.end_time, abs=1e-3)


def test_write_midi_is_atomic(tmp_path):
    target = tmp_path / "take.mid"
    write_midi(from_notes([(60, 0, 4)], 32), target)
    write_midi(from_notes([(62, 0, 8)], 32), target)  # overwrite in place
    assert os.listdir(tmp_path) == ["take.mid"]
    good = target.read_bytes()
    assert note_triples(quantize(read_midi(target))) == [[62, 0, 8]]
    bad = from_notes([(60, 0, 4)], 32)
    bad.notes[0].pitch = 200  # not a MIDI data byte: writing fails part-way
    with pytest.raises(MidiFileError, match=r"take.mid"):
        write_midi(bad, target)
    assert os.listdir(tmp_path) == ["take.mid"]  # no temp file left behind
    assert target.read_bytes() == good  # the previous take is untouched
    write_midi(from_notes([(60, 0, 4)], 32), tmp_path / "new" / "dir" / "x.mid")
    assert os.listdir(tmp_path / "new" / "dir") == ["x.mid"]


def four_bars() -> NoteSequence:
    return from_notes(
        [(60, 0, 4), (62, 14, 20), (64, 16, 18), (65, 30, 40), (67, 40, 48), (69, 50, 64), (71, 63, 64)], 64
    )


def test_slice_bars():
    seq = four_bars()
    part = slice_bars(seq, 1, 2)  # bars 1-2 = steps 16..47
    assert note_triples(part) == [[64, 0, 2], [65, 14, 24], [67, 24, 32]]
    assert part.total_quantized_steps == 32
    assert is_quantized(part)
    step = 60.0 / 120.0 / 4
    assert [(n.start_time, n.end_time) for n in part.notes] == [
        (0.0, 2 * step),
        (14 * step, 24 * step),
        (24 * step, 32 * step),
    ]
    first = slice_bars(seq, 0, 2)
    assert note_triples(first) == [[60, 0, 4], [62, 14, 20], [64, 16, 18], [65, 30, 32]]  # 65 clipped at 32
    assert note_triples(seq)[3] == [65, 30, 40]  # the input is not modified


def test_windows():
    seq = four_bars()
    got = list(windows(seq, bars=2, hop_bars=1))
    assert len(got) == 3
    for i, w in enumerate(got):
        assert note_triples(w) == note_triples(slice_bars(seq, i, 2))
        assert w.total_quantized_steps == 32
        assert all(0 <= n.quantized_start_step < 32 and n.quantized_end_step <= 32 for n in w.notes)
    assert note_triples(got[2]) == [[67, 8, 16], [69, 18, 32], [71, 31, 32]]
    assert len(list(windows(seq, bars=2, hop_bars=2))) == 2
    assert len(list(windows(seq, bars=4))) == 1
    assert len(list(windows(from_notes([(60, 0, 4)], 16), bars=2))) == 1
    conv = MelodyConverter(32)
    for w in got:  # every window fits a 2-bar model
        conv.to_labels(w)


def test_unquantized_windows():
    step = 60.0 / 120.0 / 4
    seq = unquantized([(60, 0.0, 4 * step), (62, 40 * step, 44 * step)])
    seq.total_time = 64 * step
    got = list(windows(seq, 2, 1))
    assert len(got) == 3
    assert note_triples(got[1]) == [[62, 24, 28]]
    assert note_triples(got[2]) == [[62, 8, 12]]


def test_non_4_4_is_rejected():
    three_four = from_notes([(60, 0, 4)], 32)
    three_four.time_signatures[0].numerator = 3
    with pytest.raises(SequenceError, match="4/4"):
        MelodyConverter(32).to_labels(three_four)
    added = from_notes([(60, 0, 4)], 32)
    added.time_signatures.add(numerator=3, denominator=4)
    with pytest.raises(SequenceError, match="3/4"):
        MelodyConverter(32).to_labels(added)
    later = from_notes([(60, 0, 4)], 32)
    later.time_signatures.add(numerator=3, denominator=4, time=2.0)
    with pytest.raises(SequenceError, match="3/4"):
        DrumsConverter(32).to_labels(later)
    raw = unquantized([(60, 0.0, 0.5)])
    raw.time_signatures[0].numerator = 6
    raw.time_signatures[0].denominator = 8
    with pytest.raises(SequenceError, match="4/4"):
        MelodyConverter(32).to_labels(raw)


def test_sequence_without_time_signature_is_4_4():
    seq = from_notes([(60, 0, 4)], 32)
    del seq.time_signatures[:]
    np.testing.assert_array_equal(
        MelodyConverter(32).to_labels(seq), MelodyConverter(32).to_labels(from_notes([(60, 0, 4)], 32))
    )


def test_bad_note_steps_are_rejected():
    for start, end in [(-1, 3), (5, 3)]:
        with pytest.raises(SequenceError, match="step"):
            MelodyConverter(32).to_labels(from_notes([(60, 0, 2), (62, start, end)], 32))
