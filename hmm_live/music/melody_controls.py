"""A melody's rhythm, shape and register: the control signals of magenta-js's melody-control MusicVAEs.

mel_rhythm_* models encode and write only a melody's rhythm, mel_shape_* only its
contour; mel_2bar_multicontrol_* writes a melody conditioned on chords and on these
signals (its `extra_controls`). The signals follow magenta-js 1.23.1
(core/melodies.ts MelodyRhythm, MelodyShape, MelodyRegister), read off the melody
events hmm_live's MelodyConverter extracts (which place every onset as magenta-js does).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from hmm_live.errors import UnsupportedModelError
from hmm_live.music.converters import DataConverter, handles
from hmm_live.music.melody import FIRST_PITCH, MAX_PITCH, MIN_PITCH, NOTE_OFF, MelodyConverter
from hmm_live.music.sequences import NoteSequence, from_notes

SNARE = 38  # magenta-js writes a decoded rhythm as snare hits
DOWN, SAME, UP = 0, 1, 2  # contour classes (a Parsons code)
NO_CONTOUR = -1  # a step magenta-js leaves without a direction (a row of zeros)


def rhythm(events: np.ndarray) -> np.ndarray:
    """Melody events -> 1 at each onset, 0 elsewhere."""
    return (np.asarray(events) >= FIRST_PITCH).astype(np.int64)


def contour(events: np.ndarray) -> np.ndarray:
    """Melody events -> the direction (DOWN, SAME, UP) from each onset's previous onset, filled
    back over the steps since it (the first direction back to step 0) and forward after the last
    onset; all SAME with fewer than two onsets. magenta-js leaves every step undirected
    (NO_CONTOUR) when a melody's only onset is on its last step: so does this."""
    events = np.asarray(events)
    steps = len(events)
    onsets = np.flatnonzero(events >= FIRST_PITCH)
    out = np.full(steps, NO_CONTOUR, np.int64)
    if len(onsets) == 1 and onsets[0] == steps - 1:
        return out
    if len(onsets) < 2:
        return np.full(steps, SAME, np.int64)
    for k, (before, step) in enumerate(itertools.pairwise(onsets)):
        change = np.sign(events[step] - events[before])
        out[0 if k == 0 else before + 1 : step + 1] = SAME + change
    out[onsets[-1] + 1 :] = out[onsets[-1]]
    return out


def shape(events: np.ndarray) -> np.ndarray:
    """Melody events -> the contour one-hot, [steps, 3]; an undirected step is a row of zeros."""
    return (contour(events)[:, None] == np.arange(3)).astype(np.float32)


def register(events: np.ndarray, min_pitch: int, boundaries: Sequence[int]) -> np.ndarray:
    """Melody events -> [steps, len(boundaries) + 1]: one-hot at every step, the bin of the
    mean pitch sounding (weighted by the steps each note holds) between the boundary pitches;
    zeros for a silent melody."""
    events = np.asarray(events)
    pitches, current = [], None
    for event in events.tolist():
        if event == NOTE_OFF:
            current = None
        elif event >= FIRST_PITCH:
            current = min_pitch + event - FIRST_PITCH
        if current is not None:
            pitches.append(current)
    out = np.zeros((len(events), len(boundaries) + 1), np.float32)
    if pitches:
        out[:, int(np.searchsorted(np.asarray(boundaries), np.mean(pitches), side="right"))] = 1.0
    return out


class _MelodyControlConverter(DataConverter):
    """A melody read as one of its control signals; decoding writes the signal back as notes."""

    def __init__(
        self,
        num_steps: int = 32,
        min_pitch: int = MIN_PITCH,
        max_pitch: int = MAX_PITCH,
        num_segments: int | None = None,
    ):
        super().__init__(num_steps, num_segments)
        self.melody = MelodyConverter(num_steps, min_pitch, max_pitch, num_segments)

    @classmethod
    def from_args(cls, kind: str, args: dict[str, Any]) -> _MelodyControlConverter:
        return cls(
            args["numSteps"], args.get("minPitch", MIN_PITCH), args.get("maxPitch", MAX_PITCH), args.get("numSegments")
        )

    def args(self) -> dict[str, Any]:
        return self.melody.args()

    def events(self, sequence: NoteSequence) -> np.ndarray:
        """The melody's events over the model's steps (pitches out of range raise SequenceError)."""
        return self.melody.to_labels(sequence)

    def _tracks(self, sequence: NoteSequence) -> list[np.ndarray]:
        raise self._no_windows()

    def _has_onset(self, labels: np.ndarray) -> bool:
        raise self._no_windows()

    def _no_windows(self) -> UnsupportedModelError:
        """hmm_live trains and evaluates no melody-control model (magenta-js publishes no training)."""
        return UnsupportedModelError(
            f"hmm_live cuts no training or evaluation windows for a {self.js_type} model from whole pieces"
        )


@handles("MelodyRhythmConverter")
class MelodyRhythmConverter(_MelodyControlConverter):
    """A melody's onsets, [steps, 1]: one Bernoulli label per step (magenta-js's boolean decoder)."""

    js_type = "MelodyRhythmConverter"
    input_depth = output_depth = 1
    multi_label = True

    def to_labels(self, sequence: NoteSequence) -> np.ndarray:
        return rhythm(self.events(sequence))

    def to_inputs(self, sequence: NoteSequence) -> np.ndarray:
        return rhythm(self.events(sequence))[:, None].astype(np.float32)

    def from_labels(self, labels: np.ndarray) -> NoteSequence:
        """The rhythm as snare hits of one step each, as magenta-js writes it."""
        steps = np.asarray(labels).reshape(len(labels), -1)[:, 0]
        return from_notes([(SNARE, s, s + 1) for s in np.flatnonzero(steps).tolist()], len(steps), is_drum=True)


@handles("MelodyShapeConverter")
class MelodyShapeConverter(_MelodyControlConverter):
    """A melody's contour: DOWN, SAME or UP at each step (see `contour`)."""

    js_type = "MelodyShapeConverter"
    input_depth = output_depth = 3

    def to_labels(self, sequence: NoteSequence) -> np.ndarray:
        """The contour classes; an undirected step (see `contour`) counts as SAME."""
        labels = contour(self.events(sequence))
        return np.where(labels == NO_CONTOUR, SAME, labels)

    def to_inputs(self, sequence: NoteSequence) -> np.ndarray:
        """One-hot contour classes, an undirected step a row of zeros (as magenta-js)."""
        return shape(self.events(sequence))

    def from_labels(self, labels: np.ndarray) -> NoteSequence:
        """A note on every step, from the middle of the range a semitone down, the same or up
        as the contour says (kept within the range), as magenta-js writes it."""
        pitch, notes = (self.melody.min_pitch + self.melody.max_pitch + 1) // 2, []
        for step, label in enumerate(np.asarray(labels).tolist()):
            pitch = min(max(pitch + label - SAME, self.melody.min_pitch), self.melody.max_pitch)
            notes.append((pitch, step, step + 1))
        return from_notes(notes, len(labels))


REGISTER_BOUNDARIES = (50, 63, 70)  # the register bins of magenta-js's melody-controls demo


def melody_controls(
    sequence: NoteSequence, num_steps: int = 32, boundaries: Sequence[int] = REGISTER_BOUNDARIES
) -> dict[str, np.ndarray]:
    """A melody's rhythm [steps, 1], shape [steps, 3] and register [steps, len(boundaries) + 1]:
    the `extra_controls` of a mel_2bar_multicontrol_* model, taken from a melody one likes."""
    melody = MelodyConverter(num_steps, 0, 127)
    events = melody.to_labels(sequence)
    return {
        "rhythm": rhythm(events)[:, None].astype(np.float32),
        "shape": shape(events),
        "register": register(events, melody.min_pitch, boundaries),
    }
