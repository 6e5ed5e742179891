"""A performer in software: notes sent in real time at their places on the engine's clock.

The demo (demo.py), the tests and the live benchmark play into the engine with
it, through a MIDI port's `send` or straight into `Engine.feed`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import mido
import numpy as np

from hmm_live.live.clock import Clock, first_step
from hmm_live.music.sequences import NoteSequence

DEFAULT_VELOCITY = 90  # for notes that have none


def perform(
    send: Callable[[mido.Message], None],
    clock: Clock,
    bars: Sequence[NoteSequence],
    *,
    first_bar: int = 0,
    jitter: float = 0.0,
    rng: np.random.Generator | None = None,
    velocity: int | None = None,
    release: float = 0.02,
) -> None:
    """Send one-bar sequences as they fall due, `bars[0]` in the clock's bar `first_bar`; returns
    once the last note-off is sent (call it in a thread of its own to play along).

    Each onset moves by up to `jitter` seconds either way (uniform, drawn from `rng`, note by
    note; default: seeded 0), as a human plays. Each note-off goes `release` seconds before its
    note's end, so a pitch played again at once is two notes. `velocity`: every note's, else
    each note's own (DEFAULT_VELOCITY where it has none).
    """
    rng = np.random.default_rng(0) if rng is None else rng
    events = []
    for b, bar in enumerate(bars, first_bar):
        for n in bar.notes:
            on = clock.time_of(first_step(b) + n.quantized_start_step)
            if jitter:
                on += rng.uniform(-jitter, jitter)
            off = clock.time_of(first_step(b) + n.quantized_end_step) - release
            loud = velocity or n.velocity or DEFAULT_VELOCITY
            events += [
                (on, 1, mido.Message("note_on", note=n.pitch, velocity=loud)),
                (off, 0, mido.Message("note_off", note=n.pitch)),
            ]
    for t, _, message in sorted(events, key=lambda e: (e[0], e[1])):  # a note-off before a note-on at one time
        time.sleep(max(0.0, t - time.monotonic()))
        send(message)


def perform_in_thread(
    send: Callable[[mido.Message], None], clock: Clock, bars: Sequence[NoteSequence], name: str, **options
) -> threading.Thread:
    """`perform` in a named daemon thread, started; returns the thread."""
    thread = threading.Thread(target=perform, args=(send, clock, bars), kwargs=options, name=name, daemon=True)
    thread.start()
    return thread
