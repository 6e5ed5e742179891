"""The data layer (melody, drums, chords, sequences) against Python Magenta's meaning.

note_seq, the library Python Magenta's converters are built on, is the
reference wherever it has the same notion.
"""
from __future__ import annotations

import os

import note_seq
import numpy as np
import pytest
from conftest import note_triples, random_drums, random_melody
from note_seq import chord_symbols_lib
from note_seq.drums_encoder_decoder import DEFAULT_DRUM_TYPE_PITCHES

from hmm_live import ChordError, ConfigError, MidiFileError, SequenceError
from hmm_live.music import (
    NO_CHORD,
    ChordEncoder,
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

NO_EVENT, NOTE_OFF = 0, 1


def unquantized(notes, qpm: float = 120.0, is_drum: bool = False) -> NoteSequence:
    """An unquantised 4/4 sequence from (pitch, start_s, end_s[, velocity]) tuples."""
    seq = NoteSequence(ticks_per_quarter=note_seq.STANDARD_PPQ)
    seq.tempos.add(qpm=qpm)
    seq.time_signatures.add(numerator=4, denominator=4)
    for pitch, start, end, *velocity in notes:
        seq.notes.add(pitch=pitch, start_time=start, end_time=end, is_drum=is_drum,
                      velocity=velocity[0] if velocity else 90)
    seq.total_time = max((n.end_time for n in seq.notes), default=0.0)
    return seq


def random_polyphony(rng: np.random.Generator, steps: int = 32) -> NoteSequence:
    """Overlapping notes, chords (shared onsets) and notes running past the window."""
    notes = [(int(rng.integers(21, 109)), s, s + int(rng.integers(1, 12)))
             for s in rng.integers(0, steps, int(rng.integers(1, 14))).tolist()]
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
            out[step] = {note_seq.MELODY_NO_EVENT: NO_EVENT,
                         note_seq.MELODY_NOTE_OFF: NOTE_OFF}.get(event, event - 21 + 2)
    return out


# -- melody -----------------------------------------------------------------

def test_melody_classes():
    conv = MelodyConverter(32)
    assert conv.input_depth == conv.output_depth == 90
    seq = from_notes([(21, 0, 2), (108, 4, 6), (60, 8, 32)], 32)
    labels = conv.to_labels(seq)
    assert labels.shape == (32,) and labels.dtype.kind == "i"
    assert labels[0] == 2 and labels[4] == 89 and labels[8] == 60 - 21 + 2
    assert labels[2] == labels[6] == NOTE_OFF
    assert set(labels[[1, 3, 5, 7]].tolist() + labels[9:].tolist()) == {NO_EVENT}
    inputs = conv.to_inputs(seq)
    assert inputs.shape == (32, 90) and inputs.dtype == np.float32
    np.testing.assert_array_equal(inputs, np.eye(90, dtype=np.float32)[labels])


def test_melody_same_onset_keeps_highest_pitch():
    conv = MelodyConverter(32)
    chord = from_notes([(60, 0, 4), (67, 0, 4), (64, 0, 8)], 32)
    labels = conv.to_labels(chord)
    assert labels[0] == 67 - 21 + 2
    assert labels[4] == NOTE_OFF and labels[8] == NO_EVENT  # the dropped 64's end leaves no trace


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
        np.testing.assert_array_equal(conv.to_labels(seq), note_seq_labels(seq),
                                      err_msg=f"sequence {i}: {note_triples(seq)}")


def test_melody_round_trip():
    rng = np.random.default_rng(8)
    conv = MelodyConverter(32)
    for _ in range(50):
        seq = random_melody(rng, low=21, high=109)
        back = conv.from_labels(conv.to_labels(seq))
        assert note_triples(back) == note_triples(seq)
        assert back.total_quantized_steps == 32 and is_quantized(back)
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
    np.testing.assert_array_equal(MelodyConverter(32).to_labels(seq),
                                  MelodyConverter(32).to_labels(from_notes([(60, 0, 4)], 32)))


# -- drums ------------------------------------------------------------------

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
    assert conv.output_depth == 512 and conv.input_depth == 10
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
    assert inputs.shape == (32, 10) and inputs.dtype == np.float32
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
    assert note_triples(seq) == ([[c[0], 0, 1] for c in PYTHON_DRUM_TABLE]
                                 + [[36, 5, 6], [42, 5, 6]])
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


# -- chords -----------------------------------------------------------------

def test_triad_chord_encoder_matches_note_seq():
    enc = ChordEncoder("TriadChordEncoder")
    ref = note_seq.TriadChordOneHotEncoding()
    assert enc.depth == 49 == ref.num_classes
    for chord, index in [("C", 1), ("Em", 1 + 12 + 4), ("Abaug", 1 + 24 + 8), ("Fdim", 1 + 36 + 5),
                         ("C#", 2), ("Bbm", 1 + 12 + 10), (NO_CHORD, 0)]:
        vec = enc.encode(chord)
        assert vec.dtype == np.float32 and vec.sum() == 1.0
        assert int(vec.argmax()) == index == ref.encode_event(chord), chord
    for chord in ["G7", "Bbmaj7", "Am7b5", "E/G#", "F#m9", "Dbaug7", "Bdim7", "C13", "Cm(maj7)"]:
        assert int(enc.encode(chord).argmax()) == ref.encode_event(chord), chord


def test_pitch_chord_encoder_layout():
    enc = ChordEncoder("PitchChordEncoder")
    assert enc.depth == 37
    nc = enc.encode(NO_CHORD)
    assert nc[0] == 1.0 and nc.sum() == 1.0
    for chord in ["Am7", "C", "F#dim", "Ebmaj7", "C/E"]:
        vec = enc.encode(chord)
        root = chord_symbols_lib.chord_symbol_root(chord)
        pcs = {p % 12 for p in chord_symbols_lib.chord_symbol_pitches(chord)}
        assert vec[0] == 0.0
        assert np.flatnonzero(vec[1:13]).tolist() == [root]
        assert set(np.flatnonzero(vec[13:25]).tolist()) == pcs
        assert np.flatnonzero(vec[25:37]).tolist() == [root]  # bass = root, as in magenta-js
    am7 = enc.encode("Am7")
    assert np.flatnonzero(am7).tolist() == [1 + 9, 13 + 0, 13 + 4, 13 + 7, 13 + 9, 25 + 9]


def test_chord_progression_spreading():
    enc = ChordEncoder("TriadChordEncoder")
    chords = ["C", "F", "G"]
    prog = enc.encode_progression(chords, 32)
    assert prog.shape == (32, 49) and prog.dtype == np.float32
    expected = [enc.encode(chords[s * 3 // 32]).argmax() for s in range(32)]
    assert prog.argmax(axis=1).tolist() == expected
    assert expected[10] == expected[0] != expected[11] and expected[21] != expected[22]
    assert prog.argmax(axis=1).tolist() == [1] * 11 + [6] * 11 + [8] * 10
    one = enc.encode_progression(["Am"], 32)
    assert (one.argmax(axis=1) == 1 + 12 + 9).all()
    assert (enc.encode_progression("Am", 32) == one).all()
    every = enc.encode_progression([NO_CHORD, "C"] * 16, 32)
    assert every.argmax(axis=1).tolist() == [0, 1] * 16
    assert enc.encode_progression([NO_CHORD], 32)[:, 0].tolist() == [1.0] * 32


def test_chord_errors():
    enc = ChordEncoder("TriadChordEncoder")
    with pytest.raises(ChordError, match="Xyz"):
        enc.encode("Xyz")
    with pytest.raises(ChordError, match="Gsus4"):
        enc.encode("Gsus4")  # no third: not a triad
    with pytest.raises(ChordError, match="Xyz"):
        ChordEncoder("PitchChordEncoder").encode("Xyz")
    with pytest.raises(ChordError, match="33"):
        enc.encode_progression(["C"] * 33, 32)
    with pytest.raises(ChordError, match="got 0"):
        enc.encode_progression([], 32)
    with pytest.raises(ConfigError, match="Nope"):
        ChordEncoder("Nope")


# -- sequences ----------------------------------------------------------------

def test_midi_round_trip_quantized(tmp_path):
    seq = from_notes([(60, 0, 4), (64, 4, 6), (67, 6, 16), (72, 20, 32), (48, 0, 32)], 32, qpm=100.0)
    path = write_midi(seq, tmp_path / "out.mid")
    back = read_midi(path)
    assert back.filename == str(path) and not is_quantized(back)
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
    return from_notes([(60, 0, 4), (62, 14, 20), (64, 16, 18), (65, 30, 40), (67, 40, 48),
                       (69, 50, 64), (71, 63, 64)], 64)


def test_slice_bars():
    seq = four_bars()
    part = slice_bars(seq, 1, 2)  # bars 1-2 = steps 16..47
    assert note_triples(part) == [[64, 0, 2], [65, 14, 24], [67, 24, 32]]
    assert part.total_quantized_steps == 32 and is_quantized(part)
    step = 60.0 / 120.0 / 4
    assert [(n.start_time, n.end_time) for n in part.notes] == [(0.0, 2 * step), (14 * step, 24 * step),
                                                                (24 * step, 32 * step)]
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
    assert note_triples(got[1]) == [[62, 24, 28]] and note_triples(got[2]) == [[62, 8, 12]]


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
    np.testing.assert_array_equal(MelodyConverter(32).to_labels(seq),
                                  MelodyConverter(32).to_labels(from_notes([(60, 0, 4)], 32)))


def test_bad_note_steps_are_rejected():
    for start, end in [(-1, 3), (5, 3)]:
        with pytest.raises(SequenceError, match="step"):
            MelodyConverter(32).to_labels(from_notes([(60, 0, 2), (62, start, end)], 32))
