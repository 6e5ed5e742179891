"""The engine's clock, and the bar and tempo rules every part of hmm_live uses.

Step times are computed from one monotonic anchor (t0 + n * step), never by
adding up sleeps, so a late wake-up never shifts the steps after it. A tempo
change re-anchors at the current step, so the step count runs on unbroken.

`Clock` is the internal clock and the interface of every clock the Engine
takes; the others follow an outside source by re-anchoring with `lock()`:
`ClockFollower` (MIDI clock in) and `ClockSender` (MIDI clock out, as master)
in midi_clock.py, `LinkClock` (Ableton Link) in link.py.

Light on purpose (no music package, no models): the CLI checks `--bpm`
against BPM_RANGE at once.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from hmm_live.errors import ConfigError
from hmm_live.grid import STEPS_PER_BAR, step_seconds

if TYPE_CHECKING:
    import mido

BPM_RANGE = (20.0, 400.0)  # the tempi the clocks, the session, the controls and the CLI accept
CLOSE_EARLY = 0.5  # steps: a bar closes half a step before the next bar line (later onsets round into that bar)


def in_bpm_range(bpm: float) -> bool:
    return BPM_RANGE[0] <= bpm <= BPM_RANGE[1]


def check_bpm(bpm: float) -> float:
    """The tempo as a float; a ConfigError outside BPM_RANGE."""
    if not in_bpm_range(float(bpm)):
        raise ConfigError(f"bpm must be within {BPM_RANGE[0]:g}..{BPM_RANGE[1]:g}, got {bpm}")
    return float(bpm)


def first_step(bar: int) -> int:
    """The absolute step bar `bar` starts on (bar 0 starts on step 0)."""
    return bar * STEPS_PER_BAR


class Clock:
    """4/4 in 16th-note steps on `time.monotonic()`: the internal clock, at its own tempo.

    What the Engine (and its capture, player, the session and the UI) use of
    a clock, so what every clock keeps:
    - `bpm`, `step_seconds`, `bar_seconds`, `running`;
    - `start()` (step 0 shortly after; a follower waits for its source
      instead) and `stop()`;
    - `set_bpm(bpm)`: the performer's tempo (a follower ignores it or passes
      it on to its source);
    - the time line: `time_of(step)`, `step_at(t)`, and the bar rules
      `bar_time`, `bar_at`, `next_bar`, `open_bar`, `close_time`;
    - `feed(message, t)`: a message from the engine's input, True if the
      clock took it (MIDI clock in);
    - `to_send(bar)`: what the engine sends on its output for that bar
      (MIDI clock out).
    A clock serves one engine run at a time.
    """

    def __init__(self, bpm: float = 120.0):
        self._lock = threading.Lock()
        self._anchor_time = 0.0
        self._anchor_step: float = 0  # an external clock may lock it between steps
        self.bpm = check_bpm(bpm)
        self.running = False

    @property
    def step_seconds(self) -> float:
        return step_seconds(self.bpm)

    @property
    def bar_seconds(self) -> float:
        return self.step_seconds * STEPS_PER_BAR

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
            self._anchor_time, self._anchor_step, self.bpm = t, step, check_bpm(bpm)
            self.running = True

    def set_bpm(self, bpm: float) -> None:
        """Change tempo from the next step on, keeping the step count."""
        bpm = check_bpm(bpm)
        with self._lock:
            now = time.monotonic()
            step = max(self._anchor_step, int(self._step_at(now)) + 1)
            self._anchor_time = self._time_of(step)
            self._anchor_step = step
            self.bpm = bpm

    def feed(self, message: mido.Message, t: float) -> bool:
        """Take a message from the engine's input, received at monotonic time t: True if it
        was for the clock. The internal clock takes none."""
        return False

    def to_send(self, bar: int) -> list[tuple[float, mido.Message]]:
        """The timed messages to send on the engine's output for bar `bar`, which the engine
        asks for two bars ahead. The internal clock sends none."""
        return []

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

    # -- bars ----------------------------------------------------------------------
    def bar_time(self, bar: int) -> float:
        """The monotonic time bar `bar` starts at."""
        return self.time_of(first_step(bar))

    def bar_at(self, t: float) -> float:
        """The (fractional) bar at monotonic time t: 2.5 is halfway through bar 2."""
        return self.step_at(t) / STEPS_PER_BAR

    def next_bar(self, t: float | None = None) -> int:
        """The first bar that starts after t (by default now): where something scheduled now can begin."""
        return int(self.step_at(time.monotonic() if t is None else t) // STEPS_PER_BAR) + 1

    def open_bar(self, t: float) -> int:
        """The bar an onset at t still falls into (onsets go to the nearest step): it closes at `close_time`."""
        return int((self.step_at(t) + CLOSE_EARLY) // STEPS_PER_BAR)

    def close_time(self, bar: int) -> float:
        """When bar `bar` is closed: half a step before the next bar line, so no later onset rounds into it."""
        return self.time_of((bar + 1) * STEPS_PER_BAR - CLOSE_EARLY)
