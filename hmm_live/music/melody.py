"""Monophonic melodies as Magenta's 90-class one-hot events.

Class 0 = no event (hold or rest), 1 = note off, 2.. = note-on of
min_pitch.. max_pitch. Follows Python Magenta (note_seq.Melody), which the
official checkpoints were trained with: notes starting on the same step keep
the highest pitch, and a later note clears the earlier note's note-off
(60@0-8 then 64@4-12 gives 60 - - - 64 - - - - - - - OFF; magenta-js 1.23.1
would keep the OFF at step 8). Drum notes are ignored; all other
instruments are merged. Unlike note_seq, velocity-0 notes are kept: protos
built by hand often leave velocity at its default of 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hmm_live.errors import ConfigError, SequenceError
from hmm_live.limits import int_field
from hmm_live.music.converters import DataConverter, handles
from hmm_live.music.sequences import STEPS_PER_BAR, NoteSequence, from_notes

NO_EVENT, NOTE_OFF, FIRST_PITCH = 0, 1, 2
MIN_PITCH, MAX_PITCH = 21, 108  # Magenta's default range: the piano's keys


@handles("MelodyConverter")
class MelodyConverter(DataConverter):
    js_type = "MelodyConverter"

    def __init__(
        self,
        num_steps: int = 32,
        min_pitch: int = MIN_PITCH,
        max_pitch: int = MAX_PITCH,
        num_segments: int | None = None,
    ):
        super().__init__(num_steps, num_segments)
        min_pitch = int_field(min_pitch, "dataConverter field 'minPitch'", 0, 127)
        max_pitch = int_field(max_pitch, "dataConverter field 'maxPitch'", 0, 127)
        if min_pitch > max_pitch:
            raise ConfigError(f"melody pitch range {min_pitch}..{max_pitch} is not within 0..127")
        self.min_pitch, self.max_pitch = min_pitch, max_pitch
        self.input_depth = self.output_depth = max_pitch - min_pitch + 1 + FIRST_PITCH

    @classmethod
    def from_args(cls, kind: str, args: dict[str, Any]) -> MelodyConverter:
        return cls(
            args["numSteps"], args.get("minPitch", MIN_PITCH), args.get("maxPitch", MAX_PITCH), args.get("numSegments")
        )

    def to_labels(self, sequence: NoteSequence) -> np.ndarray:
        seq = self.prepare(sequence)
        return self._events([n for n in seq.notes if not n.is_drum], seq.filename)[: self.num_steps]

    def _tracks(self, sequence: NoteSequence) -> list[np.ndarray]:
        """One melody per instrument (Magenta extracts melodies per instrument)."""
        tracks: dict[tuple[int, int], list] = {}
        for n in sequence.notes:
            if not n.is_drum:
                tracks.setdefault((n.instrument, n.program), []).append(n)
        return [self._events(notes, sequence.filename, out_of_range=-1) for notes in tracks.values()]

    def _has_onset(self, labels: np.ndarray) -> bool:
        return bool((labels >= FIRST_PITCH).any())

    def _events(self, notes, name: str, out_of_range: int | None = None) -> np.ndarray:
        """Event labels of monophonic-ised notes, padded to whole bars. A pitch outside
        the range raises, or is written as `out_of_range` when one is given."""
        notes = sorted(notes, key=lambda n: (n.quantized_start_step, -n.pitch))
        length = max([self.num_steps] + [n.quantized_end_step + 1 for n in notes])
        events = np.zeros(-(-length // STEPS_PER_BAR) * STEPS_PER_BAR, np.int64)
        last_on = -1
        for n in notes:
            start, end = n.quantized_start_step, n.quantized_end_step
            if start == last_on:
                continue  # same onset: the highest pitch came first and wins
            label = n.pitch - self.min_pitch + FIRST_PITCH
            if not self.min_pitch <= n.pitch <= self.max_pitch:
                if out_of_range is None:
                    raise SequenceError(
                        f"{name or 'the melody'}: pitch {n.pitch} at step {start} is outside "
                        f"the model's range {self.min_pitch}..{self.max_pitch}"
                    )
                label = out_of_range
            events[start] = label
            events[start + 1 :] = NO_EVENT  # drop the tail of an earlier, longer note, as note_seq does
            events[end] = NOTE_OFF
            last_on = start
        return events

    def to_inputs(self, sequence: NoteSequence) -> np.ndarray:
        return self.one_hot(self.to_labels(sequence))

    def from_labels(self, labels: np.ndarray) -> NoteSequence:
        notes, pitch, start = [], None, 0
        for step, label in enumerate(np.asarray(labels).tolist()):
            if label == NO_EVENT:
                continue
            if pitch is not None:
                notes.append((pitch, start, step))
                pitch = None
            if label >= FIRST_PITCH:
                pitch, start = label - FIRST_PITCH + self.min_pitch, step
        if pitch is not None:
            notes.append((pitch, start, len(labels)))
        return from_notes(notes, len(labels))

    def args(self) -> dict[str, Any]:
        return {"minPitch": self.min_pitch, "maxPitch": self.max_pitch}
