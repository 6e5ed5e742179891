"""The internal clock: 4/4 at a tempo, in 16th-note steps, drift-free.

Step times are computed from one monotonic anchor (t0 + n * step), never by
adding up sleeps, so a late wake-up never shifts the steps after it. A tempo
change re-anchors at the current step, so the step count runs on unbroken.
"""
from __future__ import annotations

import threading
import time

from hmm_live.errors import ConfigError
from hmm_live.music.sequences import STEPS_PER_BAR, STEPS_PER_QUARTER

BPM_RANGE = (20.0, 400.0)  # the tempi the clock, its followers, the session and the controls accept


class Clock:
    def __init__(self, bpm: float = 120.0):
        self._lock = threading.Lock()
        self._anchor_time = 0.0
        self._anchor_step = 0
        self.bpm = self._check(bpm)
        self.running = False

    @staticmethod
    def _check(bpm: float) -> float:
        if not BPM_RANGE[0] <= float(bpm) <= BPM_RANGE[1]:
            raise ConfigError(f"bpm must be within {BPM_RANGE[0]:g}..{BPM_RANGE[1]:g}, got {bpm}")
        return float(bpm)

    @property
    def step_seconds(self) -> float:
        return 60.0 / self.bpm / STEPS_PER_QUARTER

    def start(self, at: float | None = None) -> None:
        """Step 0 (the first downbeat) is at `at` (time.monotonic()), by default now + 0.1 s."""
        with self._lock:
            self._anchor_time = time.monotonic() + 0.1 if at is None else at
            self._anchor_step = 0
            self.running = True

    def stop(self) -> None:
        self.running = False

    def lock(self, step: float, t: float, bpm: float) -> None:
        """Put `step` at monotonic time t at this tempo (following an external clock)."""
        with self._lock:
            self._anchor_time, self._anchor_step, self.bpm = t, step, self._check(bpm)
            self.running = True

    def set_bpm(self, bpm: float) -> None:
        """Change tempo from the next step on, keeping the step count."""
        bpm = self._check(bpm)
        with self._lock:
            now = time.monotonic()
            step = max(self._anchor_step, int(self._step_at(now)) + 1)
            self._anchor_time = self._time_of(step)
            self._anchor_step = step
            self.bpm = bpm

    def time_of(self, step: float) -> float:
        """The monotonic time of a (fractional) step."""
        with self._lock:
            return self._time_of(step)

    def step_at(self, t: float) -> float:
        """The (fractional) step at monotonic time t."""
        with self._lock:
            return self._step_at(t)

    def _time_of(self, step: float) -> float:
        return self._anchor_time + (step - self._anchor_step) * self.step_seconds

    def _step_at(self, t: float) -> float:
        return self._anchor_step + (t - self._anchor_time) / self.step_seconds

    def bar_time(self, bar: int) -> float:
        return self.time_of(bar * STEPS_PER_BAR)

