"""Clips (hmm_live.music.clips): the clip library and piano rolls."""

from __future__ import annotations

import numpy as np
import pytest

from hmm_live import HmmLiveError, SequenceError
from hmm_live.music import from_notes, write_midi
from hmm_live.music.clips import ClipLibrary, to_roll


def test_clip_library_checks_clips(tmp_path):
    lib = ClipLibrary(2)
    with pytest.raises(SequenceError, match="no notes"):
        lib.add("silence", from_notes([], 32))
    with pytest.raises(SequenceError, match="bar 3"):
        lib.add("too long", from_notes([(60, 40, 41)], 48))
    lib.add("a", from_notes([(60, 0, 4)], 32))
    with pytest.raises(SequenceError, match="already a clip named 'a'"):
        lib.add("a", from_notes([(62, 0, 4)], 32))
    assert lib["a"].rolls().shape == (2, 128, 16)
    assert lib.names == ["a"]
    with pytest.raises(SequenceError, match="1 to 16 bars"):
        ClipLibrary(0)


def test_clips_from_midi_cuts_long_files(tmp_path):
    write_midi(from_notes([(60, 0, 4), (64, 40, 44)], 64), tmp_path / "tune.mid")
    lib = ClipLibrary.from_midi(tmp_path, bars=2)
    assert lib.names == ["tune, bars 1-2", "tune, bars 3-4"]  # bars 1-2 and 3-4, both with notes
    (tmp_path / "broken.mid").write_bytes(b"MThd junk")
    with pytest.raises(HmmLiveError, match=r"broken.mid"):
        ClipLibrary.from_midi(tmp_path)


def test_to_roll_accepts_three_forms():
    seq = from_notes([(60, 0, 2), (64, 4, 5)], 16)
    roll = to_roll(seq)
    assert roll[60, :2].tolist() == [1, 1]
    assert roll[64, 4] == 1
    assert roll.sum() == 3
    assert (to_roll([(0, 60), (1, 60), (4, 64)]) == roll).all()
    assert (to_roll(roll) == roll).all()
    with pytest.raises(SequenceError, match="step 16, pitch 60"):
        to_roll([(16, 60)])
    with pytest.raises(SequenceError, match="shape"):
        to_roll(np.zeros((12, 16)))
