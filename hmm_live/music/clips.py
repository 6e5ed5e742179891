"""Clips: the performer's own short phrases, the training data of the subspace.

A clip is a named, quantised NoteSequence of a fixed number of 4/4 bars, like
a clip in a DAW's session view. A ClipLibrary holds clips of one length; it is
filled from MIDI files now and from the live capture later.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import mido
import numpy as np

from hmm_live.errors import SequenceError
from hmm_live.limits import naming
from hmm_live.music.sequences import (
    STEPS_PER_BAR,
    BarSlicer,
    NoteSequence,
    quantize,
    read_midi_events,
    slice_bars,
    steps_per_bar,
)

PITCHES = 128

# A bar as the Responder hears it: a list of (step, pitch) hits, a [128, 16] roll or a sequence.
Bar: TypeAlias = NoteSequence | np.ndarray | Sequence[tuple[int, int]]


@dataclass(frozen=True)
class Clip:
    """A named phrase of exactly `bars` bars (quantised to 16ths, 4/4)."""

    name: str
    sequence: NoteSequence
    bars: int

    def bar(self, index: int) -> NoteSequence:
        return slice_bars(self.sequence, index, 1)

    def rolls(self) -> np.ndarray:
        """One [128, 16] piano roll per bar, shape [bars, 128, 16]."""
        return np.stack([to_roll(self.bar(i)) for i in range(self.bars)])


class ClipLibrary:
    """An ordered set of clips of one length, by unique name."""

    def __init__(self, bars: int = 2, clips: Iterable[tuple[str, NoteSequence]] = ()):
        if not 1 <= int(bars) <= 16:
            raise SequenceError(f"a clip is 1 to 16 bars long, got bars={bars}")
        self.bars = int(bars)
        self._clips: dict[str, Clip] = {}
        for name, sequence in clips:
            self.add(name, sequence)

    @classmethod
    def from_midi(cls, paths: str | os.PathLike | Iterable[str | os.PathLike], bars: int = 2) -> ClipLibrary:
        """One clip per `bars` bars with notes in each MIDI file (folders are read recursively).

        A file longer than a clip is cut into consecutive clips named after where
        they come from: "file, bars 3-4", or, in a file whose marker events name
        its sections (tunes, song parts), "section, bars 1-2", counted from the
        section's first bar.
        """
        folders = [Path(p) for p in ([paths] if isinstance(paths, (str, os.PathLike)) else paths)]
        files: list[Path] = []
        for p in folders:
            files += sorted(q for q in p.rglob("*") if q.suffix.lower() in (".mid", ".midi")) if p.is_dir() else [p]
        library = cls(bars)
        for path in files:
            with naming(path):
                sequence, midi = read_midi_events(path)
                slicer, sections = BarSlicer(sequence), markers(midi)
                for start in slicer.occupied(bars):
                    library.add(
                        path.stem
                        if slicer.num_bars <= bars and not sections
                        else clip_name(sections, path.stem, start, bars),
                        slicer.slice(start, bars),
                    )
        if not library:
            raise SequenceError(f"no clip with notes in {', '.join(map(str, files or folders))}")
        return library

    def add(self, name: str, sequence: NoteSequence) -> Clip:
        """Add a clip; it must have notes and fit in `bars` 4/4 bars."""
        if name in self._clips:
            raise SequenceError(f"there is already a clip named {name!r}")
        seq = quantize(sequence)
        if not seq.notes:
            raise SequenceError(f"clip {name!r} has no notes")
        if steps_per_bar(seq) != STEPS_PER_BAR:
            raise SequenceError(f"clip {name!r} is not in 4/4")
        last = max(n.quantized_start_step for n in seq.notes)
        if last >= self.bars * STEPS_PER_BAR:
            raise SequenceError(
                f"clip {name!r} has notes up to bar {last // STEPS_PER_BAR + 1}, "
                f"the library holds {self.bars}-bar clips"
            )
        clip = Clip(name, slice_bars(seq, 0, self.bars), self.bars)
        clip.sequence.id = clip.sequence.id or name  # so errors about the sequence name the clip
        self._clips[name] = clip
        return clip

    def remove(self, name: str) -> None:
        if self._clips.pop(name, None) is None:
            raise KeyError(f"no clip named {name!r}")

    @property
    def names(self) -> list[str]:
        return list(self._clips)

    def sequences(self) -> list[NoteSequence]:
        return [c.sequence for c in self._clips.values()]

    def __getitem__(self, key: str | int) -> Clip:
        if isinstance(key, int):
            return list(self._clips.values())[key]
        return self._clips[key]

    def __iter__(self) -> Iterator[Clip]:
        return iter(list(self._clips.values()))

    def __len__(self) -> int:
        return len(self._clips)

    def __repr__(self) -> str:
        return f"ClipLibrary({len(self)} clips of {self.bars} bars)"


def markers(midi: mido.MidiFile) -> list[tuple[int, str]]:
    """The (bar, text) of each marker event in a 4/4 MIDI file, in order: how a file of several
    tunes or song parts names them (the note reader drops them, so mido reads these)."""
    found = []
    for track in midi.tracks:
        tick = 0
        for message in track:
            tick += message.time
            if message.type == "marker" and message.text.strip():
                found.append((tick // (4 * midi.ticks_per_beat), message.text.strip()))
    return sorted(found)


def clip_name(sections: list[tuple[int, str]], fallback: str, start: int, bars: int) -> str:
    """A clip's name from the section it starts in ("Tune, bars 1-2"), else the file's."""
    first, name = 0, fallback
    for bar, text in sections:
        if bar <= start:
            first, name = bar, text
    lo, hi = start - first + 1, start - first + bars
    return f"{name}, bar {lo}" if bars == 1 else f"{name}, bars {lo}-{hi}"


def to_roll(bar: Bar) -> np.ndarray:
    """A bar as a binary [128 pitches, 16 steps] roll: 1 where a note sounds.

    Sequences contribute the notes that start in their first bar; hits are
    (step, pitch) pairs of one-step notes; a roll is checked and returned as float32.
    """
    if isinstance(bar, NoteSequence):
        roll = np.zeros((PITCHES, STEPS_PER_BAR), np.float32)
        for n in quantize(bar).notes:
            if 0 <= n.quantized_start_step < STEPS_PER_BAR:
                roll[
                    n.pitch,
                    n.quantized_start_step : max(min(n.quantized_end_step, STEPS_PER_BAR), n.quantized_start_step + 1),
                ] = 1.0
        return roll
    arr = np.asarray(bar, np.float32)
    if arr.shape == (PITCHES, STEPS_PER_BAR):
        if not np.isfinite(arr).all():
            raise SequenceError("the piano roll holds NaN or infinite values")
        return arr
    if (arr.ndim == 2 and arr.shape[1] == 2) or arr.size == 0:
        roll = np.zeros((PITCHES, STEPS_PER_BAR), np.float32)
        for step, pitch in arr.reshape(-1, 2).astype(int):
            if not (0 <= step < STEPS_PER_BAR and 0 <= pitch < PITCHES):
                raise SequenceError(
                    f"hit (step {step}, pitch {pitch}) is outside a bar "
                    f"(steps 0..{STEPS_PER_BAR - 1}, pitches 0..{PITCHES - 1})"
                )
            roll[pitch, step] = 1.0
        return roll
    raise SequenceError(
        f"a bar is a NoteSequence, a [{PITCHES}, {STEPS_PER_BAR}] roll or a list of "
        f"(step, pitch) hits; got an array of shape {list(arr.shape)}"
    )
