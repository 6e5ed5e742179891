"""Drum patterns as Magenta's 9 drum classes.

Output: 512 classes per step, label = sum of 2**c over the classes hit
(kick is the lowest bit). Input ("roll"): 10 columns, column c = an onset
of class c, the last column = no hit at this step. This is Python Magenta's
meaning, which the official drum checkpoints were trained with (magenta-js
1.23.1 writes the last column one row early). The pitch table is
note_seq's, which maps 22 and 26 (hi-hat edge hits in the Groove MIDI
Dataset) to hi-hats; the first pitch of a class is written on output.
Only `is_drum` notes count, and pitches outside the table are ignored, as
in Python Magenta.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from note_seq.drums_encoder_decoder import DEFAULT_DRUM_TYPE_PITCHES

from hmm_live.errors import ConfigError, SequenceError
from hmm_live.limits import MAX_DRUM_CLASSES, int_list
from hmm_live.music.converters import DataConverter, handles
from hmm_live.music.sequences import STEPS_PER_BAR, NoteSequence, from_notes


@handles("DrumsConverter", "DrumsOneHotConverter")
class DrumsConverter(DataConverter):
    def __init__(
        self,
        num_steps: int = 32,
        pitch_classes: Sequence[Sequence[int]] | None = None,
        roll_input: bool = True,
        num_segments: int | None = None,
    ):
        super().__init__(num_steps, num_segments)
        classes = DEFAULT_DRUM_TYPE_PITCHES if pitch_classes is None else pitch_classes
        if not isinstance(classes, (list, tuple)) or not 1 <= len(classes) <= MAX_DRUM_CLASSES:
            raise ConfigError(
                f"drum pitchClasses must be 1..{MAX_DRUM_CLASSES} non-empty lists of pitches, got {classes!r:.60}"
            )
        self.pitch_classes = [list(int_list(c, f"drum pitchClasses[{i}]", 0, 127, 128)) for i, c in enumerate(classes)]
        self.class_of = {p: c for c, ps in enumerate(self.pitch_classes) for p in ps}
        self.roll_input = roll_input
        self.js_type = "DrumsConverter" if roll_input else "DrumsOneHotConverter"
        self.output_depth = 2 ** len(self.pitch_classes)
        self.input_depth = len(self.pitch_classes) + 1 if roll_input else self.output_depth

    @classmethod
    def from_args(cls, kind: str, args: dict[str, Any]) -> DrumsConverter:
        """A "DrumsConverter" spec reads a roll of the classes hit, a "DrumsOneHotConverter" the classes."""
        return cls(args["numSteps"], args.get("pitchClasses"), kind == "DrumsConverter", args.get("numSegments"))

    def _roll(self, sequence: NoteSequence, steps: int | None = None) -> np.ndarray:
        seq = self.prepare(sequence) if steps is None else sequence
        drums = [n for n in seq.notes if n.is_drum]
        if seq.notes and not drums:
            raise SequenceError(
                f"{seq.filename or 'the drum sequence'} has {len(seq.notes)} notes but none "
                f"marked is_drum (MIDI channel 10)"
            )
        roll = np.zeros((steps or self.num_steps, len(self.pitch_classes)), np.float32)
        for n in drums:
            c = self.class_of.get(n.pitch)
            if c is not None:
                roll[n.quantized_start_step, c] = 1.0
        return roll

    def _tracks(self, sequence: NoteSequence) -> list[np.ndarray]:
        """All drum notes make one track (Magenta's drum extraction)."""
        last = max((n.quantized_start_step for n in sequence.notes), default=0)
        roll = self._roll(sequence, steps=-(-(last + 1) // STEPS_PER_BAR) * STEPS_PER_BAR)
        return [self._labels(roll)]

    def _has_onset(self, labels: np.ndarray) -> bool:
        return bool(labels.any())

    def to_labels(self, sequence: NoteSequence) -> np.ndarray:
        return self._labels(self._roll(sequence))

    def _labels(self, roll: np.ndarray) -> np.ndarray:
        return (roll @ 2 ** np.arange(len(self.pitch_classes))).astype(np.int64)

    def to_inputs(self, sequence: NoteSequence) -> np.ndarray:
        if not self.roll_input:
            return self.one_hot(self.to_labels(sequence))
        roll = self._roll(sequence)
        silent = (roll.sum(axis=1, keepdims=True) == 0).astype(np.float32)
        return np.concatenate([roll, silent], axis=1)

    def from_labels(self, labels: np.ndarray) -> NoteSequence:
        notes = [
            (pitches[0], step, step + 1)
            for step, label in enumerate(np.asarray(labels).tolist())
            for c, pitches in enumerate(self.pitch_classes)
            if label >> c & 1
        ]
        return from_notes(notes, len(labels), is_drum=True)

    def args(self) -> dict[str, Any]:
        return {"pitchClasses": self.pitch_classes}


@handles("DrumRollConverter")
class DrumRollConverter(DrumsConverter):
    """Drums for a NADE decoder (Magenta's roll output): the same roll input, and one binary
    label per class, so any classes may sound together. A step's labels are kept as the
    DrumsConverter's bit mask, so decoding reads them the same way."""

    js_type = "DrumRollConverter"
    multi_label = True

    def __init__(
        self, num_steps: int = 32, pitch_classes: Sequence[Sequence[int]] | None = None, num_segments: int | None = None
    ):
        super().__init__(num_steps, pitch_classes, True, num_segments)
        self.js_type = "DrumRollConverter"
        self.output_depth = len(self.pitch_classes)

    @classmethod
    def from_args(cls, kind: str, args: dict[str, Any]) -> DrumRollConverter:
        return cls(args["numSteps"], args.get("pitchClasses"), args.get("numSegments"))
