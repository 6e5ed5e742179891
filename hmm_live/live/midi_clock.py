"""External MIDI clock (24 ticks per quarter): follow one (ClockFollower) or send one (ClockSender).

Following: Start puts step 0 on the next tick, Continue goes on from where
Stop left it, a Song Position Pointer (in 16ths) moves the position. The
tempo is the least-squares slope over the last `window` ticks, which smooths
the jitter of a clock that arrives through a MIDI server; every tick then
locks the clock's phase to it.
"""

from __future__ import annotations

import collections
import threading

import mido
import numpy as np

from hmm_live.grid import STEPS_PER_BAR, STEPS_PER_QUARTER
from hmm_live.live.clock import Clock, first_step, in_bpm_range

TICKS_PER_QUARTER = 24
TICKS_PER_STEP = TICKS_PER_QUARTER // STEPS_PER_QUARTER


class ClockFollower(Clock):
    """A Clock whose tempo and bar lines come from the MIDI clock at the engine's input.

    The engine passes its input's messages to `feed`; this clock takes the
    real-time ones (Start, Stop, Continue, Song Position Pointer, ticks). It
    runs from the master's Start (or Continue), not from `start()`, and keeps
    the master's tempo: `set_bpm` is ignored. `bpm` is the tempo it starts
    from, until two ticks have given one.
    """

    def __init__(self, bpm: float = 120.0, window: int = 48):
        super().__init__(bpm)
        self._ticks: collections.deque = collections.deque(maxlen=window)  # (tick count, time)
        self._count = 0  # ticks since step 0
        self._playing = False
        self._midi_lock = threading.Lock()

    def start(self, at: float | None = None) -> None:
        """Nothing to do: the master's Start or Continue starts the steps."""

    def set_bpm(self, bpm: float) -> None:
        """Ignored: the master sets the tempo."""

    def _estimate(self) -> float | None:
        if len(self._ticks) < 2:
            return None
        n, t = np.array(self._ticks, float).T
        seconds_per_tick = np.polyfit(n, t, 1)[0]
        return 60.0 / (seconds_per_tick * TICKS_PER_QUARTER) if seconds_per_tick > 0 else None

    def feed(self, message: mido.Message, t: float) -> bool:
        """Take a real-time message received at monotonic time t; False if it is not one."""
        kind = message.type
        with self._midi_lock:
            if kind == "start":
                self._count, self._playing = -1, True  # the next tick is step 0
                self._ticks.clear()
            elif kind == "continue":
                self._playing = True
                self._count -= 1
                self._ticks.clear()
            elif kind == "stop":
                self._playing = False
                self.stop()
            elif kind == "songpos":
                self._count = message.pos * TICKS_PER_STEP - 1
                self._ticks.clear()
            elif kind == "clock":
                if not self._playing:
                    return True
                self._count += 1
                self._ticks.append((self._count, t))
                bpm = self._estimate()  # until there are two ticks, the last tempo is the guess
                if bpm is None or not in_bpm_range(bpm):
                    bpm = self.bpm
                self.lock(self._count / TICKS_PER_STEP, t, bpm)
            else:
                return False
            return True


class ClockSender(Clock):
    """The internal clock, also sent as MIDI clock on the engine's output: the master that
    other instruments follow (Start before bar 0, then 24 ticks per quarter)."""

    def to_send(self, bar: int) -> list[tuple[float, mido.Message]]:
        """The 96 ticks of one bar (with Start before bar 0), timed on this clock."""
        first = first_step(bar) * TICKS_PER_STEP
        ticks = [
            (self.time_of((first + i) / TICKS_PER_STEP), mido.Message("clock"))
            for i in range(STEPS_PER_BAR * TICKS_PER_STEP)
        ]
        return ([(ticks[0][0] - 0.001, mido.Message("start"))] if bar == 0 else []) + ticks
