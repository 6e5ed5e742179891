"""The Player: sends scheduled notes to an output port at the clock's times.

One thread ("hmm_live player") waits for the next due message and sends it to
every output (a MIDI port, the built-in synth). It remembers which notes sound,
so `all_notes_off()` (called on stop, on a model swap and on errors) can end
every one of them: no stuck notes. Each note belongs to a part ("answers",
"drums"): all notes off can end one part's and let the other play on.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import threading
import time
from collections.abc import Callable

import mido

from hmm_live.live.clock import Clock
from hmm_live.music.sequences import NoteSequence, qpm_of, step_seconds

ANSWERS, DRUMS = "answers", "drums"  # the parts played: the answers, the drummer's drums


def _is_note(msg: mido.Message) -> bool:
    return msg.type in ("note_on", "note_off")


class Player:
    """Plays sequences at their times on `clock`, to any number of outputs; `start()`, `stop()`.

    `play(sequence, start_step)` schedules a quantised sequence's notes (on `channel`,
    moved by `transpose` semitones, at `velocity` or each note's own), `perform` an
    unquantised performance's (micro-timing kept: the drummer's); `send_at` any
    message at a time (MIDI clock). Outputs come and go with `set_output` while
    it plays: the engine adds its MIDI port and the built-in synth.
    `late_ms` keeps how late each message was sent (for bench/live.py).
    """

    def __init__(self, clock: Clock, channel: int = 0, velocity: int | None = None, transpose: int = 0):
        self.clock = clock
        self._outputs: dict[str, Callable[[mido.Message], None]] = {}  # where messages go, by name
        self._sending = threading.Lock()  # held while sending: an output is never closed mid-send
        self.channel, self.velocity, self.transpose = channel, velocity, transpose
        self._order = itertools.count()
        self._queue: list[tuple[float, int, mido.Message, str | None]] = []  # (time, order, message, part)
        self._sounding: dict[tuple[int, int], str | None] = {}  # (channel, pitch) of the notes on -> their part
        self._channels = {channel}  # every channel notes were scheduled on: all_notes_off ends them all
        self._cleared: collections.Counter[str | None] = collections.Counter()  # all_notes_off calls, by part
        # (None: every part): a note-on taken before one is never sent after it
        self._wake = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.late_ms: collections.deque = collections.deque(maxlen=10000)  # send lateness, for bench/
        self.errors = 0

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="hmm_live player", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 1.0) -> None:
        self._stop.set()
        with self._wake:
            self._wake.notify()
        if self._thread:
            self._thread.join(timeout)
        self.all_notes_off()

    def play(self, sequence: NoteSequence, start_step: int, channel: int | None = None, part: str = ANSWERS) -> None:
        """Schedule a quantised sequence to start at absolute clock step `start_step` (on `channel`,
        by default the player's), as notes of `part`."""
        notes = [
            (n.pitch + self.transpose, n.quantized_start_step, n.quantized_end_step, n.velocity) for n in sequence.notes
        ]
        self._schedule(notes, start_step, channel, part)

    def perform(
        self,
        sequence: NoteSequence,
        start_step: int,
        channel: int | None = None,
        earliest: float = 0.0,
        part: str = ANSWERS,
    ) -> None:
        """Schedule an unquantised performance (note times in seconds at its own tempo: GrooVAE's
        drums) from clock step `start_step`: each onset at its fractional step, so at the clock's
        tempo, none before `earliest` steps ahead of `start_step`; a note ends before the next
        onset of its pitch (a repeated drum hit is two notes, never one cut short by a late note-off)."""
        step = step_seconds(qpm_of(sequence))
        notes = sorted(
            (n.pitch, max(n.start_time / step, -earliest), n.end_time / step, n.velocity) for n in sequence.notes
        )
        for i, (pitch, start, end, velocity) in enumerate(notes[:-1]):
            if notes[i + 1][0] == pitch:
                notes[i] = (pitch, start, min(end, notes[i + 1][1]), velocity)
        self._schedule(notes, start_step, channel, part)

    def _schedule(
        self, notes: list[tuple[int, float, float, int]], start_step: int, channel: int | None, part: str
    ) -> None:
        """(pitch, start, end, velocity) notes, steps from `start_step` -> a note-on and, after it, a note-off each."""
        channel = self.channel if channel is None else channel
        events = []
        for pitch, start, end, velocity in notes:
            if not 0 <= pitch <= 127:
                continue
            on = self.clock.time_of(start_step + start)
            off = max(on, self.clock.time_of(start_step + end) - 0.001)  # before a repeat's note-on
            velocity = self.velocity or velocity or 100
            events += [
                (on, mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)),
                (off, mido.Message("note_off", channel=channel, note=pitch, velocity=0)),
            ]
        with self._wake:
            self._channels.add(channel)
        self.send_at(events, part)

    def send_at(self, events: list[tuple[float, mido.Message]], part: str | None = None) -> None:
        """Schedule messages at monotonic times (dropped once `stop()` began: nothing sounds after it);
        notes as `part`'s."""
        with self._wake:
            if self._stop.is_set():
                return
            for t, msg in events:
                heapq.heappush(self._queue, (t, next(self._order), msg, part))
            self._wake.notify()

    def all_notes_off(self, part: str | None = None) -> None:
        """Drop every scheduled note (clock messages stay) and end every sounding note (and CC 123),
        on every channel played on; with `part`, only that part's notes (no CC 123: it would end
        the other part's too)."""
        with self._sending:  # a note-on the player thread took before this is sent before it, or never
            with self._wake:
                self._queue = [e for e in self._queue if not _is_note(e[2]) or part not in (None, e[3])]
                heapq.heapify(self._queue)
                sounding = sorted(k for k, p in self._sounding.items() if part in (None, p))
                for key in sounding:
                    del self._sounding[key]
                channels = sorted(self._channels) if part is None else []
                self._cleared[part] += 1
            for channel, pitch in sounding:
                self._send(mido.Message("note_off", channel=channel, note=pitch, velocity=0))
            for channel in channels:
                self._send(mido.Message("control_change", channel=channel, control=123, value=0))

    def _clears(self, part: str | None) -> tuple[int, int]:
        """How often `part`'s notes were cleared (all_notes_off of every part, of it); under `_wake`."""
        return self._cleared[None], self._cleared[part]

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._wake:
                if not self._queue:
                    self._wake.wait(0.1)
                    continue
                due = self._queue[0][0]
                left = due - time.monotonic()
                if left > 0:
                    self._wake.wait(left)
                    continue
                _, _, msg, part = heapq.heappop(self._queue)
                cleared = self._clears(part)
            self.late_ms.append((time.monotonic() - due) * 1e3)
            with self._sending:  # what sounds is noted as it is sent: a note-off taken, not yet sent, is still owed
                if msg.type == "note_on" and cleared != self._clears(part):
                    continue  # all notes off went out since it was taken: it would sound on, stuck
                self._send(msg)
                if msg.type == "note_on":
                    self._sounding[(msg.channel, msg.note)] = part
                elif msg.type == "note_off":
                    self._sounding.pop((msg.channel, msg.note), None)

    def set_output(self, name: str, send: Callable[[mido.Message], None] | None) -> None:
        """Add, replace or (None) remove an output. Once this returns, the old one is not in
        use and may be closed (closing a port while another thread sends crashed python-rtmidi)."""
        with self._sending:
            if send is None:
                self._outputs.pop(name, None)
            else:
                self._outputs[name] = send

    def _send(self, msg: mido.Message) -> None:
        """To every output; the caller holds `_sending`."""
        for output in self._outputs.values():
            try:
                output(msg)
            except Exception:  # a vanished port: count it, keep the clock and the thread alive
                self.errors += 1
