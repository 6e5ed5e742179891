"""Chord encoders (hmm_live.music.chords) against note_seq's chord symbols."""

from __future__ import annotations

import note_seq
import numpy as np
import pytest
from note_seq import chord_symbols_lib

from hmm_live import ChordError, ConfigError
from hmm_live.music import NO_CHORD, ChordEncoder


def test_triad_chord_encoder_matches_note_seq():
    enc = ChordEncoder("TriadChordEncoder")
    ref = note_seq.TriadChordOneHotEncoding()
    assert enc.depth == 49 == ref.num_classes
    for chord, index in [
        ("C", 1),
        ("Em", 1 + 12 + 4),
        ("Abaug", 1 + 24 + 8),
        ("Fdim", 1 + 36 + 5),
        ("C#", 2),
        ("Bbm", 1 + 12 + 10),
        (NO_CHORD, 0),
    ]:
        vec = enc.encode(chord)
        assert vec.dtype == np.float32
        assert vec.sum() == 1.0
        assert int(vec.argmax()) == index == ref.encode_event(chord), chord
    for chord in ["G7", "Bbmaj7", "Am7b5", "E/G#", "F#m9", "Dbaug7", "Bdim7", "C13", "Cm(maj7)"]:
        assert int(enc.encode(chord).argmax()) == ref.encode_event(chord), chord


def test_pitch_chord_encoder_layout():
    enc = ChordEncoder("PitchChordEncoder")
    assert enc.depth == 37
    nc = enc.encode(NO_CHORD)
    assert nc[0] == 1.0
    assert nc.sum() == 1.0
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
    assert prog.shape == (32, 49)
    assert prog.dtype == np.float32
    expected = [enc.encode(chords[s * 3 // 32]).argmax() for s in range(32)]
    assert prog.argmax(axis=1).tolist() == expected
    assert expected[10] == expected[0] != expected[11]
    assert expected[21] != expected[22]
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
