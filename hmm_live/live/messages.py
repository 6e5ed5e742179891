"""What travels on the session bus (bus.py): one small frozen dataclass per kind of item.

The live threads publish these and the UI, the terminal jam, the tests and the
benchmarks read them, by attribute. Stream by stream:

- "capture": CapturedBar (the clock thread, each bar closed);
- "points": Point and "answers": Answer (the responder thread, each bar answered);
- "drums": Drums (the drummer thread, each bar drummed to, with a tap2drum model);
- "status": Status (the engine: start, stop, each port event, each error);
- "training": TrainingProgress per epoch, then one TrainingDone (a session's training run);
- "settings": Settings (the session, each `configure`).

Times are on the engine's clock (`time.monotonic()` seconds).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hmm_live.music.sequences import NoteSequence


@dataclass(frozen=True)
class CapturedBar:
    """A bar the performer played, quantised to 16ths, closed half a step before the next bar line."""

    bar: int  # counted from 0 on the clock
    sequence: NoteSequence  # one bar (16 steps)
    time: float  # when the bar started
    closed_at: float  # when it was closed: the answer's compute time is measured from here


@dataclass(frozen=True)
class Point:
    """Where the responder placed a captured bar in the subspace (the map draws the trail)."""

    bar: int  # the captured bar's number
    point: np.ndarray  # shape (latent_dims,)


@dataclass(frozen=True)
class Answer:
    """An answer scheduled on the player: `sequence` sounds in bar `bar`, answering bar `answering`."""

    bar: int  # the bar it sounds in
    answering: int  # the captured bar it answers (bar - 1 when continuous)
    sequence: NoteSequence  # one bar (16 steps)
    input: NoteSequence  # the captured bar it answers
    time: float  # when bar `bar` starts: a note sounds at time + its start step * step_seconds
    step_seconds: float  # a 16th at the tempo it was scheduled at
    performance: NoteSequence | None = None  # drum answers humanised: what is played instead (times as in Drums)


@dataclass(frozen=True)
class Drums:
    """The drummer's bar, scheduled on the player (GM drum channel): `sequence` sounds in bar
    `bar`, made from the rhythm of bar `drumming`."""

    bar: int  # the bar it sounds in
    drumming: int  # the captured bar whose rhythm it comes from (bar - 1)
    sequence: NoteSequence  # unquantised drum notes with velocities: a note sounds at time + its start_time
    input: NoteSequence  # the captured bar
    time: float  # when bar `bar` starts
    step_seconds: float  # a 16th at the tempo it was scheduled at (start_time / step_seconds: its step, off the grid)


@dataclass(frozen=True)
class Status:
    """The engine's state, as `Engine.status()` gives it, plus what this update reports.

    Published at start and stop (event and traceback None), with `event` for a
    port event (e.g. a port that disappeared), with `traceback` for an error
    (whose message is in `last_error`)."""

    running: bool
    bar: int | None  # the last bar closed
    answered: int  # bars answered since start
    last_error: str | None
    last_event: str | None
    bpm: float
    ignored: dict[str, int]  # MIDI messages the capture ignored, by kind
    midi: str  # which MIDI system the ports are on, or why there are none
    sound: str  # where the built-in synth plays, or why it is off
    ports: dict[str, str | None]  # "input" and "output": the names of the ports opened
    event: str | None = None
    traceback: str | None = None
    drummed: int = 0  # bars the drummer played to since start (0 without one)


@dataclass(frozen=True)
class TrainingProgress:
    """An epoch of a session's training run done."""

    stage: str  # "subspacer", then "responder"
    epoch: int  # counted from 1
    epochs: int | None  # None while the subspacer trains until its clips decode back
    logs: dict[str, float] = field(default_factory=dict)  # Keras's logs: the losses


@dataclass(frozen=True)
class TrainingDone:
    """The end of a session's training run: the new models are in use unless `error` says why not."""

    error: str | None = None  # "ErrorType: message"
    seconds: float | None = None  # how long it took (None after an error)


@dataclass(frozen=True)
class Settings:
    """The session's settings after a change (`Session.configure`), for views that follow them."""

    values: dict[str, object]
