"""The Engine: clock, capture, responder and player as named threads in the kernel.

- "hmm_live clock" closes each bar half a step before the next bar line and
  publishes it (stream "capture");
- "hmm_live responder" answers each captured bar: Responder -> subspace point
  -> Subspacer -> MusicVAE decode of one bar, scheduled for the bar after it
  (streams "points" and "answers"); it never blocks the clock; an empty bar
  (the performer resting) gets no answer;
- "hmm_live player" sends the answers on time.
MIDI input arrives on rtmidi's own thread and goes straight to the capture.
"""
from __future__ import annotations

import collections
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any

import mido
import numpy as np

from hmm_live.errors import ConfigError
from hmm_live.live import ports
from hmm_live.live.bus import Bus
from hmm_live.live.capture import Capture
from hmm_live.live.clock import Clock, sleep_until
from hmm_live.live.player import Player
from hmm_live.models import MusicVAE, Responder, Subspacer
from hmm_live.music.sequences import STEPS_PER_BAR, from_notes

MODES = ("continuous", "call_response")


@dataclass(frozen=True)
class Models:
    """What the responder thread uses for one bar (swapped as a whole)."""
    musicvae: MusicVAE
    subspacer: Subspacer
    responder: Responder


class Engine:
    """`start()`, `stop()`, `status()`; a context manager; safe to recreate many times.

    `input` / `output`: a port name or substring to open, None for a virtual
    port ("hmm_live in" / "hmm_live out") other programs connect to, or False
    for none (feed the capture with `feed()`; answers still go to the bus).
    """

    def __init__(self, musicvae: MusicVAE, subspacer: Subspacer, responder: Responder, *,
                 input: str | None | bool = None, output: str | None | bool = None, api: str | None = None,
                 bpm: float = 120.0, channel: int | None = None, out_channel: int = 0,
                 temperature: float | None = None, mode: str = "continuous", every: int = 1,
                 bus: Bus | None = None):
        if mode not in MODES:
            raise ConfigError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
        if int(every) < 1:
            raise ConfigError(f"every must be >= 1 bar, got {every}")
        self.models = Models(musicvae, subspacer, responder)
        self.bus = bus or Bus()
        self.clock = Clock(bpm)
        self.capture = Capture(self.clock, self.bus, channel=channel)
        self.temperature, self.mode, self.every = temperature, mode, int(every)
        self._input_spec, self._output_spec, self.api = input, output, api
        self._in_port = self._out_port = None
        self.player = Player(self.clock, None, channel=out_channel)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.last_bar: int | None = None
        self.last_error: str | None = None
        self.answered = 0
        self.compute_s: collections.deque = collections.deque(maxlen=10000)  # bar closed -> answer scheduled

    # -- models ----------------------------------------------------------------
    def set_models(self, musicvae: MusicVAE | None = None, subspacer: Subspacer | None = None,
                   responder: Responder | None = None) -> None:
        """Swap in retrained models; the responder thread picks them up at the next bar.

        The new models answer a test bar first: if they cannot, this raises and
        the old ones stay."""
        m = self.models
        models = Models(musicvae or m.musicvae, subspacer or m.subspacer, responder or m.responder)
        self._warm_up(models)
        self.models = models

    def _warm_up(self, models: Models) -> None:
        """Answer a silent bar once, so no traced graph is built during the first live bar."""
        self.answer({"sequence": from_notes([(60, 0, 1)], STEPS_PER_BAR)}, models)

    def answer(self, bar: dict, models: Models) -> Any:
        """One captured bar -> (point, one-bar answer NoteSequence)."""
        point = models.responder.predict(bar["sequence"])
        z = models.subspacer.decode(point)
        answer = models.musicvae.decode(z, self.temperature, length=STEPS_PER_BAR)[0]
        return point, answer

    # -- life cycle ----------------------------------------------------------------
    def start(self) -> "Engine":
        if self.running:
            return self
        self._stop.clear()
        self._warm_up(self.models)
        self._open_ports()
        self.clock.start()
        self.player.start()
        subscription = self.bus.subscribe("capture")
        self._threads = [threading.Thread(target=self._clock_loop, name="hmm_live clock", daemon=True),
                         threading.Thread(target=self._responder_loop, args=(subscription,),
                                          name="hmm_live responder", daemon=True)]
        for t in self._threads:
            t.start()
        self.bus.publish("status", self.status())
        return self

    def stop(self) -> None:
        """Stop every thread (joined within 1 s), end every note, close the ports."""
        self._stop.set()
        deadline = time.monotonic() + 1.0
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self.player.stop(max(0.05, deadline - time.monotonic()))
        self.clock.stop()
        if self._out_port is not None:
            time.sleep(0.02)  # a MIDI server delivers once per period: let the final note-offs out
        for port in (self._in_port, self._out_port):
            if port is not None:
                port.close()
        self._in_port = self._out_port = None
        self._threads = []
        self.bus.publish("status", self.status())

    def __enter__(self) -> "Engine":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def status(self) -> dict:
        return {"running": self.running, "bar": self.last_bar, "answered": self.answered,
                "last_error": self.last_error, "bpm": self.clock.bpm, "ignored": dict(self.capture.ignored)}

    def feed(self, message: mido.Message, t: float | None = None) -> None:
        """Play into the capture without a port."""
        self.capture.feed(message, t)

    # -- threads -----------------------------------------------------------------
    def _open_ports(self) -> None:
        if self._input_spec is not False:
            self._in_port = ports.open_input(self._input_spec or ports.IN_PORT, callback=self.capture.feed,
                                             virtual=self._input_spec is None, api=self.api)
        if self._output_spec is not False:
            try:
                self._out_port = ports.open_output(self._output_spec or ports.OUT_PORT,
                                                   virtual=self._output_spec is None, api=self.api)
            except Exception:
                if self._in_port is not None:
                    self._in_port.close()
                raise
            self.player._send = self._out_port.send

    def _clock_loop(self) -> None:
        bar = 0
        while True:
            close_at = self.clock.time_of((bar + 1) * STEPS_PER_BAR - 0.5)
            if not sleep_until(close_at, self._stop):
                return
            try:
                self.capture.close_bar(bar)
                self.last_bar = bar
            except Exception as e:  # never let one bad bar stop the clock
                self._error(f"capture of bar {bar}", e)
            bar += 1

    def _responder_loop(self, subscription) -> None:
        current = self.models
        while not self._stop.is_set():
            try:
                bar = subscription.get(timeout=0.1)
            except TimeoutError:
                continue
            models = self.models
            if models is not current:  # retrained: silence the old model's notes first
                self.player.all_notes_off()
                current = models
            n = bar["bar"]
            if not bar["sequence"].notes:
                continue
            if self.mode == "call_response" and n % (2 * self.every) >= self.every:
                continue  # the machine's own turn: nothing to answer
            target = n + (1 if self.mode == "continuous" else self.every)
            try:
                point, answer = self.answer(bar, models)
            except Exception as e:  # that bar gets no answer; the next one will
                self._error(f"answer to bar {n}", e)
                self.player.all_notes_off()
                continue
            self.player.play(answer, target * STEPS_PER_BAR)
            self.compute_s.append(time.monotonic() - bar["closed_at"])
            self.answered += 1
            self.bus.publish("points", {"bar": n, "point": np.asarray(point)})
            self.bus.publish("answers", {"bar": target, "sequence": answer, "input": bar["sequence"]})
        subscription.close()

    def _error(self, where: str, error: Exception) -> None:
        self.last_error = f"{where}: {type(error).__name__}: {error}"
        self.bus.publish("status", {**self.status(), "traceback": traceback.format_exc()})
