"""Ableton Link as the engine's clock (optional: `pip install 'hmm_live[link]'`, which brings aalink).

A LinkClock is a Clock whose tempo and bar lines follow a Link session, so the
engine plays in time with every other Link peer on the network (Live, Bitwig,
phone apps, ...). One thread ("hmm_live link") runs the asyncio loop that aalink
needs and, every 10 ms, reads the session's beat (at a quantum of 4 beats: bar
lines fall where every peer's do) and tempo, and re-locks the Clock when the
tempo changed or the phase is off by more than 1 ms. Link's beats are read
between two `time.monotonic()` calls, because Link keeps its own clock.
`set_bpm` proposes the tempo to the session; this clock, like every peer,
follows it once the session has it.

Joining a session can move the beat by up to a bar (Link keeps the phase,
not the beat count), and answers already scheduled keep the times they had.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from hmm_live.errors import ConfigError
from hmm_live.grid import STEPS_PER_BAR, STEPS_PER_QUARTER
from hmm_live.live.clock import BPM_RANGE, Clock, check_bpm, in_bpm_range

QUANTUM = STEPS_PER_BAR // STEPS_PER_QUARTER  # beats per bar
POLL_S = 0.01
PHASE_TOLERANCE_S = 0.001
MAX_READ_S = 0.0005  # a beat read that took longer (preempted) is not trusted
INSTALL = "Ableton Link needs the aalink package: pip install 'hmm_live[link]'"
log = logging.getLogger("hmm_live.live")


class LinkClock(Clock):
    """A Clock that follows an Ableton Link session; `start()` joins it, `stop()` leaves it,
    and `set_bpm` proposes a tempo to the session."""

    def __init__(self, bpm: float = 120.0):
        super().__init__(bpm)
        try:
            from aalink import Link
        except ImportError:
            raise ConfigError(INSTALL) from None
        self._link_class = Link
        self._proposed: float | None = None
        self._leave = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._refused: float | None = None  # the last tempo out of the Clock's range, warned about once
        self.peers = 0  # other peers in the session

    def start(self, at: float | None = None, timeout: float = 5.0) -> None:
        """Join the session; returns once the clock follows it. Link places the bar lines, so no `at`."""
        if at is not None:
            raise ConfigError("a LinkClock's bar lines come from the Link session: start() takes no time")
        if self._thread is not None and self._thread.is_alive():
            return
        self._leave.clear()
        self._ready.clear()
        self._failure = None
        self._thread = threading.Thread(target=self._run, name="hmm_live link", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout) or self._failure is not None:
            self.stop()
            raise ConfigError(f"cannot join an Ableton Link session: {self._failure or 'no answer'}")

    def stop(self) -> None:
        """Leave the session (the thread ends within one poll)."""
        self._leave.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(1.0)
        self._thread = None
        super().stop()

    def set_bpm(self, bpm: float) -> None:
        """Propose a tempo to the session; this clock follows it within one poll."""
        self._proposed = check_bpm(bpm)

    def _run(self) -> None:
        try:
            asyncio.run(self._follow())
        except BaseException as e:  # reported by start(), or logged if it happens later
            self._failure = e
            log.error("Ableton Link stopped: %s: %s", type(e).__name__, e)
            self._ready.set()

    async def _follow(self) -> None:
        link = self._link_class(self.bpm)  # aalink binds to the running asyncio loop
        link.quantum = QUANTUM
        link.enabled = True
        try:
            while not self._leave.is_set():
                proposed, self._proposed = self._proposed, None
                if proposed is not None:
                    link.tempo = proposed
                self._sync(link)
                await asyncio.sleep(POLL_S)
        finally:
            link.enabled = False

    def _sync(self, link) -> None:
        """Lock the Clock to Link's beat and tempo when they differ from what it would say."""
        before = time.monotonic()
        beat = link.beat
        after = time.monotonic()
        tempo, self.peers = link.tempo, link.num_peers
        if after - before > MAX_READ_S:
            return
        if not in_bpm_range(tempo):
            if tempo != self._refused:
                log.warning(
                    "the Link session's tempo %.1f BPM is outside %g..%g: keeping %.1f", tempo, *BPM_RANGE, self.bpm
                )
            self._refused = tempo
            return
        t, step = (before + after) / 2, beat * STEPS_PER_QUARTER
        off_s = abs(self.step_at(t) - step) * self.step_seconds
        if not self.running or abs(tempo - self.bpm) > 1e-6 or off_s > PHASE_TOLERANCE_S:
            self.lock(step, t, tempo)
        self._ready.set()
