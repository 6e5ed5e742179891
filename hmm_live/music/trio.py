"""Trios: melody, bass and drums at once, as Magenta's TrioConverter encodes them.

Each step is three labels, one per instrument: the melody's and the bass's
90-class events (melody.py) and the drums' 512 classes (drums.py). The encoder
reads the three one-hots side by side (90 + 90 + 512); the decoder has one
LSTM per instrument (`split_depths`). Which notes are which instrument follows
magenta-js: drum notes are the drums, programs 0-31 the melody, 32-39 the bass,
and other programs are left out. Decoded notes come back as magenta-js writes
them: melody on instrument 0 (program 0), bass on instrument 1 (program 32),
drums on instrument 2.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from hmm_live.music.converters import DataConverter, handles
from hmm_live.music.drums import DrumsConverter
from hmm_live.music.melody import FIRST_PITCH, MAX_PITCH, MIN_PITCH, MelodyConverter
from hmm_live.music.sequences import STEPS_PER_BAR, NoteSequence

MELODY_PROGRAMS = range(32)
BASS_PROGRAMS = range(32, 40)


@handles("TrioConverter")
class TrioConverter(DataConverter):
    js_type = "TrioConverter"

    def __init__(
        self,
        num_steps: int = 256,
        num_segments: int | None = None,
        melody_range: tuple[int, int] = (MIN_PITCH, MAX_PITCH),
        bass_range: tuple[int, int] = (MIN_PITCH, MAX_PITCH),
        drum_classes: list[list[int]] | None = None,
    ):
        super().__init__(num_steps, num_segments)
        self.melody = MelodyConverter(num_steps, *melody_range)
        self.bass = MelodyConverter(num_steps, *bass_range)
        self.drums = DrumsConverter(num_steps, drum_classes, roll_input=False)
        self.parts: list[tuple[DataConverter, Callable[[Any], bool]]] = [
            (self.melody, lambda n: not n.is_drum and n.program in MELODY_PROGRAMS),
            (self.bass, lambda n: not n.is_drum and n.program in BASS_PROGRAMS),
            (self.drums, lambda n: n.is_drum),
        ]
        self.split_depths = tuple(part.output_depth for part, _ in self.parts)
        self.input_depth = self.output_depth = sum(self.split_depths)

    @classmethod
    def from_args(cls, kind: str, args: dict[str, Any]) -> TrioConverter:
        def pitch_range(name: str) -> tuple[int, int]:
            part = args.get(name) or {}
            return part.get("minPitch", MIN_PITCH), part.get("maxPitch", MAX_PITCH)

        drums = args.get("drumsArgs") or {}
        return cls(
            args["numSteps"],
            args.get("numSegments"),
            pitch_range("melArgs"),
            pitch_range("bassArgs"),
            drums.get("pitchClasses"),
        )

    def args(self) -> dict[str, Any]:
        return {
            "melArgs": self.melody.args(),
            "bassArgs": self.bass.args(),
            "drumsArgs": self.drums.args(),
        }

    def _split(self, sequence: NoteSequence) -> list[NoteSequence]:
        """The sequence's melody, bass and drum notes, each as a sequence of its own."""
        seq = self.prepare(sequence)
        parts = []
        for _, belongs in self.parts:
            part = NoteSequence()
            part.CopyFrom(seq)
            del part.notes[:]
            part.notes.extend(n for n in seq.notes if belongs(n))
            parts.append(part)
        return parts

    def to_labels(self, sequence: NoteSequence) -> np.ndarray:
        """Labels [num_steps, 3]: melody, bass, drums."""
        parts = self._split(sequence)
        return np.stack([conv.to_labels(part) for (conv, _), part in zip(self.parts, parts)], axis=-1)

    def to_inputs(self, sequence: NoteSequence) -> np.ndarray:
        labels = self.to_labels(sequence)
        return np.concatenate([conv.one_hot(labels[:, i]) for i, (conv, _) in enumerate(self.parts)], axis=-1)

    def from_labels(self, labels: np.ndarray) -> NoteSequence:
        """Labels [steps, 3] back to one NoteSequence of the three instruments."""
        labels = np.asarray(labels)
        out: NoteSequence | None = None
        for i, ((conv, _), program) in enumerate(zip(self.parts, (MELODY_PROGRAMS[0], BASS_PROGRAMS[0], 0))):
            part = conv.from_labels(labels[:, i])
            for note in part.notes:
                note.instrument, note.program = i, program
            if out is None:
                out = part
            else:
                out.notes.extend(part.notes)
        assert out is not None
        return out

    def _tracks(self, sequence: NoteSequence) -> list[np.ndarray]:
        """The whole piece as one track of labels [steps, 3], padded to whole bars."""
        seq = self._quantized(sequence)
        last = max((n.quantized_end_step for n in seq.notes), default=0)
        steps = max(self.num_steps, -(-(last + 1) // STEPS_PER_BAR) * STEPS_PER_BAR)
        melody, bass = ((m.min_pitch, m.max_pitch) for m in (self.melody, self.bass))
        return [TrioConverter(steps, None, melody, bass, self.drums.pitch_classes).to_labels(seq)]

    def _has_onset(self, labels: np.ndarray) -> bool:
        return bool((labels[:, :2] >= FIRST_PITCH).any() or labels[:, 2].any())
