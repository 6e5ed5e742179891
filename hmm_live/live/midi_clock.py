"""External MIDI clock: follow one (24 ticks per quarter) or send one as master.

Following: Start puts step 0 on the next tick, Continue goes on from where
Stop left it, a Song Position Pointer (in 16ths) moves the position. The
tempo is the least-squares slope over the last `window` ticks, which smooths
the jitter of a clock that arrives through a MIDI server; every tick then
locks the internal Clock's phase to it.
"""
from __future__ import annotations

import collections
import threading

import mido
import numpy as np

from hmm_live.live.clock import BPM_RANGE, Clock
from hmm_live.music.sequences import STEPS_PER_BAR, STEPS_PER_QUARTER

TICKS_PER_QUARTER = 24
TICKS_PER_STEP = TICKS_PER_QUARTER // STEPS_PER_QUARTER


class ClockFollower:
    def __init__(self, clock: Clock, window: int = 48):
        self.clock = clock
        self._ticks: collections.deque = collections.deque(maxlen=window)  # (tick count, time)
        self._count = 0  # ticks since step 0
        self._playing = False
        self._lock = threading.Lock()

    @property
    def bpm(self) -> float | None:
        """The estimated tempo, once two ticks have arrived."""
        with self._lock:
            return self._estimate()

    def _estimate(self) -> float | None:
        if len(self._ticks) < 2:
            return None
        n, t = np.array(self._ticks, float).T
        seconds_per_tick = np.polyfit(n, t, 1)[0]
        return 60.0 / (seconds_per_tick * TICKS_PER_QUARTER) if seconds_per_tick > 0 else None

    def feed(self, message: mido.Message, t: float) -> bool:
        """Take a real-time message received at monotonic time t; False if it is not one."""
        kind = message.type
        with self._lock:
            if kind == "start":
                self._count, self._playing = -1, True  # the next tick is step 0
                self._ticks.clear()
            elif kind == "continue":
                self._playing = True
                self._count -= 1
                self._ticks.clear()
            elif kind == "stop":
                self._playing = False
                self.clock.stop()
            elif kind == "songpos":
                self._count = message.pos * TICKS_PER_STEP - 1
                self._ticks.clear()
            elif kind == "clock":
                if not self._playing:
                    return True
                self._count += 1
                self._ticks.append((self._count, t))
                bpm = self._estimate()  # until there are two ticks, the last tempo is the guess
                if bpm is None or not BPM_RANGE[0] <= bpm <= BPM_RANGE[1]:
                    bpm = self.clock.bpm
                self.clock.lock(self._count / TICKS_PER_STEP, t, bpm)
            else:
                return False
            return True


def clock_messages(clock: Clock, bar: int) -> list[tuple[float, mido.Message]]:
    """The 96 ticks of one bar (with Start before bar 0), timed on `clock`: for sending as master."""
    first = bar * STEPS_PER_BAR * TICKS_PER_STEP
    ticks = [(clock.time_of((first + i) / TICKS_PER_STEP), mido.Message("clock"))
             for i in range(STEPS_PER_BAR * TICKS_PER_STEP)]
    return ([(ticks[0][0] - 0.001, mido.Message("start"))] if bar == 0 else []) + ticks
