"""Chord conditioning: chord symbols -> one control vector per step.

Two encodings, named as in magenta-js configs:
- `TriadChordEncoder` (Python Magenta's `cat-mel_2bar_med_chords`): one-hot
  over no-chord + 12 roots x {major, minor, augmented, diminished} = 49.
- `PitchChordEncoder` (magenta-js): no-chord flag + root one-hot + chord
  pitch classes + bass one-hot (bass = root, as magenta-js does) = 37.
`MajorMinorChordEncoder` (25) is also accepted. A progression of n chords
over T steps gives step s the chord floor(s * n / T).
"""

from __future__ import annotations

from collections.abc import Sequence

import note_seq
import numpy as np
from note_seq import chord_symbols_lib

from hmm_live.errors import ChordError, ConfigError

NO_CHORD = note_seq.NO_CHORD  # "N.C."


class ChordEncoder:
    def __init__(self, name: str):
        one_hots = {
            "TriadChordEncoder": note_seq.TriadChordOneHotEncoding,
            "MajorMinorChordEncoder": note_seq.MajorMinorChordOneHotEncoding,
        }
        if name == "PitchChordEncoder":
            self._one_hot, self.depth = None, 37
        elif name in one_hots:
            self._one_hot = one_hots[name]()
            self.depth = self._one_hot.num_classes
        else:
            raise ConfigError(
                f"unknown chordEncoder {name!r}; known: PitchChordEncoder, TriadChordEncoder, MajorMinorChordEncoder"
            )
        self.name = name

    def encode(self, chord: str) -> np.ndarray:
        """One chord symbol ("Am7", "F#dim", "N.C.") as a control vector."""
        vec = np.zeros(self.depth, np.float32)
        if not isinstance(chord, str):
            raise ChordError(f"chord {chord!r} is not a chord symbol string such as 'Am7' or 'N.C.'")
        try:
            if self._one_hot is not None:
                vec[self._one_hot.encode_event(chord)] = 1.0
            elif chord == NO_CHORD:
                vec[0] = 1.0
            else:
                root = chord_symbols_lib.chord_symbol_root(chord)
                vec[1 + root] = vec[25 + root] = 1.0
                for pc in chord_symbols_lib.chord_symbol_pitches(chord):
                    vec[13 + pc % 12] = 1.0
        except (chord_symbols_lib.ChordSymbolError, note_seq.ChordEncodingError) as e:
            raise ChordError(f"chord {chord!r} cannot be encoded with {self.name}: {e}") from None
        return vec

    def encode_progression(self, chords: Sequence[str], num_steps: int) -> np.ndarray:
        """[num_steps, depth]: the chords spread evenly over the steps."""
        if isinstance(chords, str):
            chords = [chords]
        if not 1 <= len(chords) <= num_steps:
            raise ChordError(f"a progression needs 1 to {num_steps} chords, got {len(chords)}")
        encoded = [self.encode(c) for c in chords]
        return np.stack([encoded[s * len(chords) // num_steps] for s in range(num_steps)])

    def encode_tracks(self, chords: Sequence[str], num_tracks: int, track_length: int) -> np.ndarray:
        """[num_tracks * track_length, depth] for a model whose segments are tracks (multitrack):
        one chord for every track, each track's first step (its program) on no chord, as
        magenta-js conditions them."""
        if isinstance(chords, str):
            chords = [chords]
        if len(chords) != 1:
            raise ChordError(
                f"a multitrack model takes one chord for all its tracks (as magenta-js), got {len(chords)}"
            )
        track = np.concatenate([self.encode(NO_CHORD)[None], self.encode_progression(chords, track_length - 1)])
        return np.tile(track, (num_tracks, 1))
