"""Multitrack: up to `numSegments` instruments, each a track of performance tokens.

magenta-js's MultitrackConverter (the multitrack* models; Python Magenta's
MultiInstrumentPerformanceConverter, hier-multiperf_vel_1bar_*). Notes are
quantised at `stepsPerQuarter` (24) and grouped by instrument; each
instrument is one performance (performance.py) of `totalSteps` steps. Its
track of `numSteps / numSegments` rows holds a program token (drums have
their own), the events' tokens, an end token and rows of zeros. Tokens:
note-on and note-off per pitch of minPitch..maxPitch, time shifts of
1..totalSteps, velocity bins, 128 programs and drums, the end token. Tracks
are sorted by program with drums last, as magenta-js's sort leaves them; past
`numSegments` tracks the last are dropped, and past its length a track's last
events; missing tracks are an end token alone. Notes outside the pitch range
are dropped, as magenta-js drops them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from hmm_live import limits
from hmm_live.errors import ConfigError, SequenceError, UnsupportedModelError
from hmm_live.limits import int_field
from hmm_live.music.converters import DataConverter, handles
from hmm_live.music.performance import (
    NOTE_OFF,
    NOTE_ON,
    TIME_SHIFT,
    VELOCITY,
    Event,
    events_of,
    notes_of,
    set_num_steps,
)
from hmm_live.music.sequences import OUTPUT_VELOCITY, NoteSequence, from_notes, quantize

NUM_PROGRAMS = 129  # MIDI's 128, and one for drums
DRUM_PROGRAM = NUM_PROGRAMS - 1


@dataclass
class Track:
    """One instrument's performance: its events, program and whether it is drums."""

    events: list[Event]
    program: int
    is_drum: bool


@handles("MultitrackConverter")
class MultitrackConverter(DataConverter):
    js_type = "MultitrackConverter"
    whole_bars = False  # numSteps counts token rows: numSegments tracks of numSteps / numSegments
    by_track = True
    end_token: int

    def __init__(
        self,
        num_steps: int = 512,
        num_segments: int | None = 8,
        steps_per_quarter: int = 24,
        total_steps: int = 96,
        num_velocity_bins: int = 8,
        min_pitch: int = 0,
        max_pitch: int = 127,
    ):
        if num_segments is None:
            raise ConfigError("a MultitrackConverter needs numSegments (its number of tracks)")
        super().__init__(num_steps, num_segments)
        self.num_tracks: int = num_segments
        self.steps_per_quarter = int_field(
            steps_per_quarter, "dataConverter field 'stepsPerQuarter'", 1, limits.MAX_STEPS
        )
        self.total_steps = int_field(total_steps, "dataConverter field 'totalSteps'", 1, limits.MAX_STEPS)
        self.velocity_bins = int_field(num_velocity_bins, "dataConverter field 'numVelocityBins'", 0, 127)
        self.min_pitch = int_field(min_pitch, "dataConverter field 'minPitch'", 0, 127)
        self.max_pitch = int_field(max_pitch, "dataConverter field 'maxPitch'", self.min_pitch, 127)
        self.track_length = self.num_steps // self.num_tracks
        if self.track_length < 2:
            raise ConfigError(
                f"numSteps {num_steps} leaves tracks of {self.track_length} rows: a track needs 2 or more"
            )
        num_pitches = self.max_pitch - self.min_pitch + 1
        self.performance_depth = 2 * num_pitches + self.total_steps + self.velocity_bins
        self.end_token = self.performance_depth + NUM_PROGRAMS
        self.input_depth = self.output_depth = self.end_token + 1
        # first token of each kind
        self._firsts = {NOTE_ON: 0, NOTE_OFF: num_pitches, TIME_SHIFT: 2 * num_pitches}
        self._firsts[VELOCITY] = self._firsts[TIME_SHIFT] + self.total_steps

    @property
    def num_bars(self) -> int:
        return max(self.total_steps // (4 * self.steps_per_quarter), 1)

    @classmethod
    def from_args(cls, kind: str, args: dict[str, Any]) -> MultitrackConverter:
        return cls(
            args["numSteps"],
            args.get("numSegments"),
            args["stepsPerQuarter"],
            args["totalSteps"],
            args["numVelocityBins"],
            args.get("minPitch") or 0,
            args.get("maxPitch") or 127,
        )

    def args(self) -> dict[str, Any]:
        return {
            "stepsPerQuarter": self.steps_per_quarter,
            "totalSteps": self.total_steps,
            "numVelocityBins": self.velocity_bins,
            "minPitch": self.min_pitch,
            "maxPitch": self.max_pitch,
        }

    # -- NoteSequence -> tokens ---------------------------------------------
    def _quantized(self, sequence: NoteSequence) -> NoteSequence:
        return quantize(sequence, self.steps_per_quarter)

    def prepare(self, sequence: NoteSequence) -> NoteSequence:
        """Quantise at stepsPerQuarter and check the notes fit `totalSteps` steps."""
        seq = self._quantized(sequence)
        name = seq.filename or seq.id or "the NoteSequence"
        for n in seq.notes:
            where = f"{name}: note {n.pitch} (instrument {n.instrument}) at steps {n.quantized_start_step}.."
            if n.quantized_start_step < 0 or n.quantized_end_step < n.quantized_start_step:
                raise SequenceError(f"{where}{n.quantized_end_step} must start at step 0 or later and not end before")
            if n.quantized_start_step >= self.total_steps:
                raise SequenceError(
                    f"{where}{n.quantized_end_step} starts past the model's {self.total_steps} steps "
                    f"({self.total_steps / self.steps_per_quarter:g} quarters): slice it first, as "
                    f"hmm_live.music.slice_bars(sequence, bar, {self.num_bars}, {self.steps_per_quarter}) does"
                )
            if self.velocity_bins and not 1 <= n.velocity <= 127:
                raise SequenceError(f"{where}{n.quantized_end_step} has velocity {n.velocity}, not 1..127")
        return seq

    def tracks(self, sequence: NoteSequence) -> list[Track | None]:
        """The sequence's `num_segments` tracks, as magenta-js picks and orders them (None: no track)."""
        seq = self.prepare(sequence)
        notes = [n for n in seq.notes if self.min_pitch <= n.pitch <= self.max_pitch]
        by_instrument: dict[int, list] = {}
        for n in notes:
            by_instrument.setdefault(n.instrument, []).append(n)
        found = []
        for instrument, own in by_instrument.items():
            drums, programs = {n.is_drum for n in own}, sorted({n.program for n in own})
            if len(drums) > 1 or (not own[0].is_drum and len(programs) > 1):
                raise SequenceError(
                    f"{seq.filename or 'the NoteSequence'}: instrument {instrument} mixes "
                    f"{'drum and other notes' if len(drums) > 1 else f'programs {programs}'}; "
                    f"a multitrack model needs one program (or drums) per instrument"
                )
            events = events_of(own, self.total_steps, self.velocity_bins)
            set_num_steps(events, seq.total_quantized_steps, self.total_steps)
            found.append(Track(events, 0 if own[0].is_drum else own[0].program, own[0].is_drum))

        def drums_last(a: Track, b: Track) -> int:  # magenta-js's comparator, inconsistent between drum tracks
            return -1 if b.is_drum else 1 if a.is_drum else a.program - b.program

        kept: list[Track | None] = []
        for track in _v8_sort(found, drums_last)[: self.num_tracks]:
            set_num_steps(track.events, self.total_steps, self.total_steps)
            kept.append(track)
        return kept + [None] * (self.num_tracks - len(kept))

    def to_labels(self, sequence: NoteSequence) -> np.ndarray:
        """Tokens [num_steps]: each track's program, events and end token, then -1 (a row of zeros)."""
        rows = np.full((self.num_tracks, self.track_length), -1, np.int64)
        for row, track in zip(rows, self.tracks(sequence)):
            tokens = [self.end_token]
            if track is not None:
                program = DRUM_PROGRAM if track.is_drum else track.program
                events = track.events[: self.track_length - 2]
                tokens = [self.performance_depth + program, *(self._token(e) for e in events), self.end_token]
            row[: len(tokens)] = tokens
        return rows.reshape(-1)

    def _token(self, event: Event) -> int:
        kind, value = event
        if kind == NOTE_ON or kind == NOTE_OFF:
            return self._firsts[kind] + value - self.min_pitch
        return self._firsts[kind] + value - 1  # time shifts from 1 step, velocity bins from 1

    def to_inputs(self, sequence: NoteSequence) -> np.ndarray:
        labels = self.to_labels(sequence)
        return np.eye(self.input_depth + 1, dtype=np.float32)[labels][:, :-1]  # -1 picks the dropped column

    # -- tokens -> NoteSequence ---------------------------------------------
    def from_labels(self, labels: np.ndarray) -> NoteSequence:
        """Tokens [num_steps] back to notes: track i is instrument i, read up to its end token; its
        first program token sets its program (none: piano). Notes before any velocity token
        get velocity 100 (magenta-js leaves them without one, which plays silent)."""
        seq = from_notes([], self.total_steps, steps_per_quarter=self.steps_per_quarter)
        for instrument, tokens in enumerate(np.asarray(labels).reshape(self.num_tracks, -1).tolist()):
            tokens = tokens[: tokens.index(self.end_token)] if self.end_token in tokens else tokens
            programs = [t - self.performance_depth for t in tokens if t >= self.performance_depth]
            program = programs[0] if programs else 0
            is_drum = program == DRUM_PROGRAM
            events = [self._event(t) for t in tokens if t < self.performance_depth]
            set_num_steps(events, self.total_steps, self.total_steps)
            notes = notes_of(events, self.velocity_bins)
            track = from_notes(
                [note[:3] for note in notes],
                self.total_steps,
                is_drum=is_drum,
                steps_per_quarter=self.steps_per_quarter,
            ).notes
            for note, (*_, velocity) in zip(track, notes):
                note.instrument, note.program = instrument, 0 if is_drum else program
                note.velocity = OUTPUT_VELOCITY if velocity is None else velocity
            seq.notes.extend(track)
        return seq

    def _event(self, token: int) -> Event:
        kind = max(k for k, first in self._firsts.items() if token >= first)
        if kind == NOTE_ON or kind == NOTE_OFF:
            return kind, token - self._firsts[kind] + self.min_pitch
        return kind, token - self._firsts[kind] + 1

    # -- training (not supported) -----------------------------------------
    def _tracks(self, sequence: NoteSequence) -> list[np.ndarray]:
        raise UnsupportedModelError("training multitrack models is not supported by hmm_live")

    def _has_onset(self, labels: np.ndarray) -> bool:
        raise UnsupportedModelError("training multitrack models is not supported by hmm_live")


T = TypeVar("T")


def _v8_sort(items: list[T], compare: Callable[[T, T], int]) -> list[T]:
    """Array.prototype.sort as node's V8 runs it on fewer than 64 items (one run, then binary
    insertion): magenta-js's track comparator is inconsistent between two drum tracks, so
    their order is the algorithm's."""
    a = list(items)
    if len(a) < 2:
        return a
    run, descending = 2, compare(a[1], a[0]) < 0
    while run < len(a) and (compare(a[run], a[run - 1]) < 0) == descending:
        run += 1
    if descending:
        a[:run] = a[:run][::-1]
    for start in range(run, len(a)):
        pivot, left, right = a[start], 0, start
        while left < right:
            mid = (left + right) // 2
            if compare(pivot, a[mid]) < 0:
                right = mid
            else:
                left = mid + 1
        a[left + 1 : start + 1] = a[left:start]
        a[left] = pivot
    return a
