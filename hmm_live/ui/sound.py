"""The browser as the instrument: answers played in the browser (Web Audio, General MIDI
samples rendered by FluidSynth in the kernel), and a Web MIDI keyboard played into the
kernel's capture, for a kernel anywhere (a laptop, a studio PC, a cloud GPU box).

Timing: the kernel's answers carry their times on the engine's clock (time.monotonic),
known about half a step before they sound. Every message to the browser says when the
kernel sent it; the quickest one tells the kernel clock's offset from the browser's (to
within its delivery time: a ms or two on one machine); answers to the browser's pings
keep such messages coming. The browser schedules each note at its time on the
AudioContext clock. Web MIDI notes go the other way with the
browser's timestamps, translated to the kernel's clock, so the capture places them where
they were played, not where they arrived.

One named thread ("hmm_live browser sound") sends the answers the moment they are
published (the UI thread's throttling would eat the half step).
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import anywidget
import mido
import traitlets

from hmm_live.live.messages import Answer, Settings
from hmm_live.live.synth import ANSWER_PROGRAM, render_notes
from hmm_live.music.drums import DrumsConverter
from hmm_live.session import Session

MELODY_PITCHES = tuple(range(33, 100, 3))  # a sample every 3 semitones; the browser shifts by at most 1.5
DRUM_PITCHES = tuple(range(35, 82))  # General MIDI's drum kit, each sound its own sample
SAMPLE_RATE = 22050


class BrowserSound(anywidget.AnyWidget):
    """ "Sound in this browser" and "Web MIDI in" switches, the volume, and what the browser reports.

    The browser asks for the samples when sound is switched on (a click: browsers only start
    audio after a gesture), and again after a page reload."""

    _esm = Path(__file__).with_name("sound.js")
    volume = traitlets.Float(0.8).tag(sync=True)
    web_midi = traitlets.Bool(False).tag(sync=True)
    browser_status = traitlets.Unicode("sound off: click to hear the answers in this browser").tag(sync=True)
    key = traitlets.Unicode().tag(sync=True)  # the browser keeps one audio engine per key

    def __init__(self, session: Session):
        super().__init__(key=uuid.uuid4().hex)
        self.add_class("hmm-browser-sound")
        self.session = session
        self.midi_received = 0
        self._sent: tuple[int | None] | None = None  # (instrument,) of the samples the browser has
        self.on_msg(self._message)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._send_answers, name="hmm_live browser sound", daemon=True)
        self._thread.start()

    def _message(self, _widget, content: dict, buffers: list) -> None:
        kind = content.get("type")
        if kind == "ping":
            self.send({"type": "pong", "perf": content["perf"], "kernel": time.monotonic()})
        elif kind == "ready":
            self._send_samples()
        elif kind == "midi":
            self._play_in(content)

    def _send_samples(self) -> None:
        drums = isinstance(self.session.musicvae.data_converter, DrumsConverter)
        program = self.session.settings["instrument"]
        pitches = DRUM_PITCHES if drums else MELODY_PITCHES
        samples = render_notes(
            pitches, ANSWER_PROGRAM if program is None else int(program), drums, sample_rate=SAMPLE_RATE
        )
        self._sent = (program,)
        self.send(
            {"type": "samples", "pitches": list(samples), "rate": SAMPLE_RATE, "drums": drums},
            [samples[p].tobytes() for p in samples],
        )

    def _play_in(self, content: dict) -> None:
        """A Web MIDI message, timed on the kernel's clock by the browser, into the engine."""
        engine = self.session.engine
        if engine is None or not engine.running:
            return
        try:
            message = mido.Message.from_bytes(content["data"])
        except (ValueError, KeyError, TypeError):
            return  # not a MIDI message we know: the capture would ignore it too
        self.midi_received += 1
        engine.feed(message, float(content["kernel"]))

    def _send_answers(self) -> None:
        """Each answer to the browser as soon as it is computed; new samples when the instrument changes."""
        answers = self.session.bus.subscribe("answers", maxlen=64)
        settings = self.session.bus.subscribe("settings", maxlen=8)
        while not self._stop.is_set():
            changed: list[Settings] = settings.drain()
            if changed and self._sent is not None and (changed[-1].values["instrument"],) != self._sent:
                self._send_samples()
            try:
                item: Answer = answers.get(timeout=0.2)
            except TimeoutError:
                continue
            step, start = item.step_seconds, item.time
            notes = [
                [n.pitch, start + n.quantized_start_step * step, start + n.quantized_end_step * step, n.velocity or 100]
                for n in item.sequence.notes
            ]
            if notes:
                self.send({"type": "notes", "bar": item.bar, "notes": notes, "kernel": time.monotonic()})
        answers.close()
        settings.close()

    def close(self) -> None:
        self._stop.set()
        super().close()
