"""MIDI Capture: incoming notes quantised to the clock's 16ths, published bar by bar.

Rules (what a performer can rely on):
- an onset goes to the nearest 16th; so a note played up to half a step
  before a bar line is step 0 of the next bar;
- a bar is closed half a step before the next bar line (no later onset can
  still round into it) and published on the bus (a messages.CapturedBar);
  a note still held then is cut at the bar line and not repeated in the next bar;
- a length is a whole number of steps, at least one; a note's `start_time`
  keeps when it was played (seconds from the bar line, at the clock's tempo:
  off the grid), which tap2drum reads as the tap's timing;
- velocity-0 note-ons are note-offs; note-offs with no note-on are ignored; a
  repeated note-on of a sounding pitch ends it and starts a new one; SysEx,
  clock and controller messages are ignored; with `channel` set, other
  channels are ignored. Each ignored kind is counted in `ignored`.
"""

from __future__ import annotations

import collections
import threading
import time

import mido

from hmm_live.live.bus import Bus
from hmm_live.live.clock import Clock, first_step
from hmm_live.live.messages import CapturedBar
from hmm_live.music.sequences import STEPS_PER_BAR, NoteSequence, from_notes


class Capture:
    """Turns timed MIDI messages into one-bar NoteSequences on the clock's 16ths (the rules above).

    `feed` takes messages from any thread; the engine's clock thread calls
    `close_bar`, which publishes each bar on `stream` of `bus` and keeps the
    last `history` bars. `record()` ... `stop_recording()` collects bars for
    training clips. `ignored` counts what was ignored, by kind.
    """

    def __init__(self, clock: Clock, bus: Bus, stream: str = "capture", channel: int | None = None, history: int = 64):
        self.clock, self.bus, self.stream, self.channel = clock, bus, stream, channel
        self.history: collections.deque = collections.deque(maxlen=history)
        self.ignored: collections.Counter = collections.Counter()
        self._lock = threading.Lock()
        self._sounding: dict[int, tuple[int, int, float]] = {}  # pitch -> (start step, velocity, exact step)
        self._cut: set[int] = set()  # pitches cut at a bar line while held: their note-off is expected
        self._notes: list[tuple[int, int, int, int, float]] = []  # (pitch, start, end, velocity, exact start)
        self._recording: list[NoteSequence] | None = None

    # -- input (any thread: the input port's, a test, the demo) --------------
    def feed(self, message: mido.Message, t: float | None = None) -> None:
        """Take one message, received at monotonic time t (now by default)."""
        t = time.monotonic() if t is None else t
        kind = message.type
        if kind not in ("note_on", "note_off"):
            self.ignored[kind] += 1
            return
        if self.channel is not None and message.channel != self.channel:
            self.ignored["other channel"] += 1
            return
        exact = self.clock.step_at(t)
        step = round(exact)
        with self._lock:
            if kind == "note_on" and message.velocity > 0:
                self._end(message.note, step)
                self._cut.discard(message.note)
                self._sounding[message.note] = (step, message.velocity, exact)
            elif not self._end(message.note, step) and not self._take_cut(message.note):
                self.ignored["note-off without note-on"] += 1

    def _take_cut(self, pitch: int) -> bool:
        """Whether this note-off ends a note already cut at a bar line (expected, not an error)."""
        if pitch in self._cut:
            self._cut.discard(pitch)
            return True
        return False

    def _end(self, pitch: int, step: int) -> bool:
        started = self._sounding.pop(pitch, None)
        if started is None:
            return False
        start, velocity, exact = started
        self._notes.append((pitch, start, max(step, start + 1), velocity, exact))
        return True

    # -- bars (the engine's clock thread) ---------------------------------------
    def close_bar(self, bar: int) -> CapturedBar:
        """Cut bar `bar` out of what was played, publish it and return it."""
        first, end = first_step(bar), first_step(bar + 1)
        with self._lock:
            mine = [n for n in self._notes if first <= n[1] < end]
            self._notes = [n for n in self._notes if n[1] >= end]
            for pitch, (start, velocity, exact) in list(self._sounding.items()):
                if first <= start < end:  # still held: cut at the bar line, not carried on
                    mine.append((pitch, start, end, velocity, exact))
                    del self._sounding[pitch]
                    self._cut.add(pitch)
                elif start < first:
                    del self._sounding[pitch]
                    self._cut.add(pitch)
        mine.sort(key=lambda n: (n[1], n[0]))
        sequence = from_notes(
            [(p, s - first, min(e, end) - first) for p, s, e, _, _ in mine], STEPS_PER_BAR, qpm=self.clock.bpm
        )
        step_seconds = self.clock.step_seconds
        for note, (_, _, _, velocity, exact) in zip(sequence.notes, mine):
            note.velocity = velocity
            note.start_time = (exact - first) * step_seconds
        item = CapturedBar(bar, sequence, self.clock.bar_time(bar), time.monotonic())
        self.history.append(item)
        if self._recording is not None:
            self._recording.append(sequence)
        self.bus.publish(self.stream, item)
        return item

    # -- record mode -------------------------------------------------------------
    def record(self) -> None:
        """Start collecting every closed bar (for training clips)."""
        self._recording = []

    def stop_recording(self) -> list[NoteSequence]:
        """The bars collected since `record()`."""
        bars, self._recording = self._recording or [], None
        return bars
