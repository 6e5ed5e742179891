"""The Engine: clock, capture, responder and player as named threads in the kernel.

- "hmm_live clock" closes each bar half a step before the next bar line and
  publishes it (stream "capture");
- "hmm_live responder" first warms the models up (Start returns at once), then
  answers each captured bar (answers.py: from the bar's
  own code blended towards its subspace point by `lead`, or the original
  Responder -> subspace point -> decode), scheduled for the bar after it
  (streams "points" and "answers"); it never blocks the clock; an empty bar
  (the performer resting) gets no answer;
- with a tap2drum model (`drummer`), "hmm_live drummer" turns each closed bar's
  rhythm into a bar of drums on the next bar (drummer.py; stream "drums"), on
  the General MIDI drum channel beside the answers; the drums go first: the
  responder waits for them (at most DRUMS_FIRST_S) before answering the same bar;
- "hmm_live player" sends the answers (and the drums) on time, micro-timing kept;
- with a LinkClock, "hmm_live link" keeps the clock on an Ableton Link session.
MIDI input is read by the port's own thread ("hmm_live input", never the MIDI
server's: see ports.py) and goes straight to the capture.
With ports opened by name, "hmm_live ports" checks twice a second that they
still exist: a port that disappears is reported and reopened when it returns,
while the clock and the capture go on.

Where the machine has no MIDI system (no ALSA sequencer: a server, a container,
WSL) the default virtual ports come from a private JACK server started for the
process, else the engine runs without ports (fed by `feed()`, e.g. from the
browser); `status()["midi"]` says which. With `synth=True` the answers (and,
with `echo`, what the performer plays) sound through the built-in FluidSynth.
"""

from __future__ import annotations

import collections
import functools
import gc
import logging
import os
import threading
import time
import traceback
from collections.abc import Iterator
from typing import Literal

import mido
import numpy as np

from hmm_live.errors import ConfigError, PortError, SynthError
from hmm_live.live import jack, ports
from hmm_live.live.answers import Models, check_settings, make_answer
from hmm_live.live.bus import Bus, Subscription
from hmm_live.live.capture import Capture
from hmm_live.live.clock import Clock, first_step
from hmm_live.live.drummer import HUMANIZE, MAX_EARLY, TAP2DRUM, Performer, check_groove
from hmm_live.live.messages import Answer, CapturedBar, Drums, Point, Status
from hmm_live.live.player import ANSWERS, DRUMS, Player
from hmm_live.live.synth import ANSWER_CHANNEL, DRUM_CHANNEL, ECHO_CHANNEL, Synth
from hmm_live.models import MusicVAE, Responder, Subspacer
from hmm_live.music.drums import DrumsConverter
from hmm_live.music.sequences import STEPS_PER_BAR, NoteSequence, from_notes

log = logging.getLogger("hmm_live.live")

# The drums of a bar are due at its close (an early hit of the next bar's first step is half a step before
# that bar line) and take a fraction of the answer's time: the answer to the bar waits for them, so neither
# thread's TensorFlow ops queue behind the other's on a small machine, but never longer than this.
DRUMS_FIRST_S = 0.05


class Engine:
    """`start()`, `stop()`, `status()`; a context manager; safe to recreate many times.

    `input` / `output`: a port name or substring to open, None for a virtual
    port ("hmm_live in" / "hmm_live out") other programs connect to, or False
    for none (feed the capture with `feed()`; answers still go to the bus).
    `clock`: where the tempo and the bar lines come from (clock.py); None: an
    internal `Clock(bpm)` (`bpm` is used for nothing else). A `ClockFollower`
    follows the MIDI clock arriving at the input (the engine waits for Start),
    a `ClockSender` also sends MIDI clock (and Start) on the output, as
    master, and a `LinkClock` follows an Ableton Link session (4 beats a bar;
    needs the `link` extra). `mode` "continuous" answers each bar on the next,
    "call_response" listens `every` bars and answers them in the `every` after.
    `answers` and `lead` choose how an answer is made (see answers.py); both,
    like `temperature`, may change live.
    `synth`: also play through the built-in synth (`echo`: the performer's notes
    too; `volume`, `mute`, `instrument`: a General MIDI program for the answers;
    change them live with `set_sound`).
    `out_channel` None: 9 (General MIDI drums) for drum models, else 0.
    `drummer`: a GrooVAE tap2drum model (drummer.py): each closed bar's rhythm,
    on any instrument, becomes drums on the next bar, on channel 9, beside the
    answers. `humanize`: a GrooVAE humanize model, for a drum MusicVAE: each drum
    answer gets velocities and micro-timing before it is played. Both may change
    live (`set_drummer`, `set_humanize`); each is made ready to perform when it is
    given (drummer.Performer: converted to TFLite, about 2 s), with its weights then.
    """

    def __init__(
        self,
        musicvae: MusicVAE,
        subspacer: Subspacer,
        responder: Responder,
        *,
        input: str | Literal[False] | None = None,
        output: str | Literal[False] | None = None,
        api: str | None = None,
        bpm: float = 120.0,
        channel: int | None = None,
        out_channel: int | None = None,
        temperature: float | None = None,
        mode: str = "continuous",
        every: int = 1,
        answers: str = "listen",
        lead: float = 0.5,
        clock: Clock | None = None,
        synth: bool = False,
        echo: bool = False,
        volume: float = 0.8,
        mute: bool = False,
        instrument: int | None = None,
        bus: Bus | None = None,
        drummer: MusicVAE | None = None,
        humanize: MusicVAE | None = None,
    ):
        check_settings(answers, lead, mode, every)
        self.models = Models(musicvae, subspacer, responder)
        self.bus = bus or Bus()
        self.clock = Clock(bpm) if clock is None else clock
        self.capture = Capture(self.clock, self.bus, channel=channel)
        self.temperature, self.mode, self.every = temperature, mode, int(every)
        self.answers, self.lead = answers, float(lead)
        self._input_spec, self._output_spec, self.api = input, output, api
        self._in_port: ports.Input | None = None
        self._out_port: mido.ports.BaseOutput | None = None
        drums = isinstance(musicvae.data_converter, DrumsConverter)
        # the GrooVAEs ready to perform (drummer.Performer): made here, not in a live bar
        self._drums = None if drummer is None else Performer(check_groove(drummer, TAP2DRUM, "the drummer"))
        self._humanizer = None if humanize is None else Performer(check_humanize(humanize, musicvae))
        self._synth_channel = DRUM_CHANNEL if drums else ANSWER_CHANNEL
        self.player = Player(self.clock, channel=(DRUM_CHANNEL if drums else 0) if out_channel is None else out_channel)
        self.use_synth, self.echo, self.instrument = synth, echo, instrument
        self.volume, self.mute = float(volume), mute
        self.synth: Synth | None = None
        self.midi = self.sound = "not started"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._bars: Subscription | None = None  # closed bars, for the responder thread
        self._drummer_bars: Subscription | None = None  # and for the drummer's
        self._drummer_thread: threading.Thread | None = None
        self._drums_done = threading.Condition()  # notified as the drummer is through with each bar
        self._drummed_bar = -1  # the last bar it is through with
        self.last_bar: int | None = None
        self.last_error: str | None = None
        self.answered = self.drummed = 0
        self.events: collections.deque = collections.deque(maxlen=100)
        self.compute_s: collections.deque = collections.deque(maxlen=10000)  # bar closed -> answer scheduled
        self.drum_s: collections.deque = collections.deque(maxlen=10000)  # bar closed -> drums scheduled

    # -- models ----------------------------------------------------------------
    def set_models(
        self, musicvae: MusicVAE | None = None, subspacer: Subspacer | None = None, responder: Responder | None = None
    ) -> None:
        """Swap in retrained models; the responder thread picks them up at the next bar.

        The new models answer a test bar first: if they cannot, this raises and
        the old ones stay."""
        m = self.models
        models = Models(musicvae or m.musicvae, subspacer or m.subspacer, responder or m.responder)
        self._warm_up(models)
        self.models = models

    def _warm_up(self, models: Models) -> None:
        """Answer a short bar, so no graph is traced during the first live bar. The "listen" design
        runs every graph the "responder" one does, and the encoder: either can be picked live."""
        make_answer(models, from_notes([(60, 0, 1), (64, 4, 8)], STEPS_PER_BAR), "listen", 0.5, self.temperature)

    @property
    def drummer(self) -> MusicVAE | None:
        """The tap2drum model drumming to each bar (`set_drummer`), or None."""
        return None if self._drums is None else self._drums.model

    @property
    def humanize(self) -> MusicVAE | None:
        """The humanize model performing the drum answers (`set_humanize`), or None."""
        return None if self._humanizer is None else self._humanizer.model

    def set_drummer(self, drummer: MusicVAE | None) -> None:
        """Play drums with this tap2drum model from the next bar (None: no drums). It is made
        ready and drums a test bar first: if it cannot, this raises and the old drummer stays."""
        self._drums = None if drummer is None else Performer(check_groove(drummer, TAP2DRUM, "the drummer"))
        if drummer is not None and self.running and not (self._drummer_thread and self._drummer_thread.is_alive()):
            self._start_drummer()

    def set_humanize(self, humanize: MusicVAE | None) -> None:
        """Humanise the drum answers with this GrooVAE humanize model from the next bar (None: off)."""
        self._humanizer = None if humanize is None else Performer(check_humanize(humanize, self.models.musicvae))

    def answer(self, bar: NoteSequence, models: Models | None = None) -> tuple[np.ndarray, NoteSequence]:
        """One captured bar -> (its subspace point, the one-bar answer), with the current settings."""
        return make_answer(models or self.models, bar, self.answers, self.lead, self.temperature)

    # -- life cycle ----------------------------------------------------------------
    def start(self) -> Engine:
        if self.running:
            return self
        self._stop.clear()
        gc.freeze()  # what is loaded by now (the models) is never walked by a full collection: no 30-260 ms stall
        self._open_ports()
        self._open_synth()
        try:
            self.clock.start()
        except Exception:
            self._close_ports()
            self._close_synth()
            raise
        self._send_clock(0, 1)
        self.player.start()
        bars = self._bars = self.bus.subscribe("capture")
        self._threads = [
            threading.Thread(target=self._clock_loop, name="hmm_live clock", daemon=True),
            threading.Thread(target=self._responder_loop, args=(bars,), name="hmm_live responder", daemon=True),
        ]
        if isinstance(self._input_spec, str) or isinstance(self._output_spec, str):
            self._threads.append(threading.Thread(target=self._port_watch, name="hmm_live ports", daemon=True))
        for t in self._threads:
            t.start()
        if self.drummer is not None:
            self._start_drummer()
        self.bus.publish("status", Status(**self.status()))
        return self

    def _start_drummer(self) -> None:
        bars = self._drummer_bars = self.bus.subscribe("capture")
        thread = self._drummer_thread = threading.Thread(
            target=self._drummer_loop, args=(bars,), name="hmm_live drummer", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def stop(self) -> None:
        """Stop every thread (joined within 1 s), end every note, close the ports."""
        self._stop.set()
        for bars in (self._bars, self._drummer_bars):
            if bars is not None:
                bars.close()  # wakes the responder (and the drummer) at once
        deadline = time.monotonic() + 1.0
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self.player.stop(max(0.05, deadline - time.monotonic()))
        self.clock.stop()
        if self._out_port is not None:
            time.sleep(0.02)  # a MIDI server delivers once per period: let the final note-offs out
        self._close_ports()
        self._close_synth()
        self._threads, self._drummer_thread = [], None
        gc.unfreeze()  # off stage, the kernel's garbage is collected as usual again
        self.bus.publish("status", Status(**self.status()))

    def __enter__(self) -> Engine:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def status(self) -> dict:
        """The engine's state, JSON-ready: the fields of `messages.Status`, the "status" stream's items."""
        return {
            "running": self.running,
            "bar": self.last_bar,
            "answered": self.answered,
            "drummed": self.drummed,
            "last_error": self.last_error,
            "last_event": self.events[-1] if self.events else None,
            "bpm": self.clock.bpm,
            "ignored": dict(self.capture.ignored),
            "midi": self.midi,
            "sound": self.sound,
            "ports": {
                "input": self._in_port.name if self._in_port else None,
                "output": self._out_port.name if self._out_port else None,
            },
        }

    def feed(self, message: mido.Message, t: float | None = None) -> None:
        """What the input port receives: what the clock takes (MIDI clock) goes to it, the rest to the capture."""
        t = time.monotonic() if t is None else t
        if self.clock.feed(message, t):
            return
        self.capture.feed(message, t)
        synth = self.synth
        if self.echo and synth is not None and message.type in ("note_on", "note_off"):
            synth.send(message.copy(channel=DRUM_CHANNEL if self._synth_channel == DRUM_CHANNEL else ECHO_CHANNEL))

    # -- threads -----------------------------------------------------------------
    def _open_ports(self) -> None:
        if self._input_spec is False and self._output_spec is False:
            self.midi = "none (no ports asked for)"
            return
        self._find_midi()
        if self._input_spec is not False:
            self._open("input")
        if self._output_spec is not False:
            try:
                self._open("output")
            except Exception:
                self._close_ports()
                raise

    def _find_midi(self) -> None:
        """Check the MIDI system; where there is none, fall back to a private JACK server, else
        to no ports (only for the default virtual ports: a port asked for by name is an error)."""
        missing = ports.unavailable(self.api)
        if missing is None:
            self.midi = ports.api_name(self.api)
            return
        named = [spec for spec in (self._input_spec, self._output_spec) if isinstance(spec, str)]
        if (self.api or os.environ.get("HMM_LIVE_MIDI_API") or "jack").lower() == "jack":
            try:
                server = jack.shared_server()
            except (FileNotFoundError, RuntimeError) as e:
                missing += f"; no private JACK server either ({e})"
            else:
                self.api = "jack"
                if _private_midi_problem(server) is None:
                    self.midi = f"JACK (private server {server}, because {missing})"
                    self._report(f"MIDI: {self.midi}", logging.INFO)  # a choice, not a fault: no red box
                    return
        if named:
            raise PortError(f"cannot open the MIDI port {named[0]!r}: {missing}")
        self._input_spec = self._output_spec = False
        self.midi = f"none: {missing}; play in with feed() or the browser's Web MIDI"
        self._report(f"MIDI: {self.midi}")

    def _close_ports(self) -> None:
        self.player.set_output("midi", None)
        for port in (self._in_port, self._out_port):
            if port is not None:
                port.close()
        self._in_port = self._out_port = None

    def _open_synth(self) -> None:
        if not self.use_synth:
            self.sound = "off (the built-in synth is not used)"
            return
        try:
            synth = self.synth = Synth(volume=self.volume)
            self.set_sound()
        except SynthError as e:
            self.sound = f"off: {e}"
            self._report(f"sound: {self.sound}")
            return
        channel, answers = self._synth_channel, self.player.channel

        def send(msg: mido.Message) -> None:  # the answers to the synth's channel for them; the drummer's stay on 9
            synth.send(msg.copy(channel=channel) if getattr(msg, "channel", None) == answers else msg)

        self.player.set_output("synth", send)

    def set_sound(
        self,
        volume: float | None = None,
        mute: bool | None = None,
        echo: bool | None = None,
        instrument: int | None = None,
    ) -> None:
        """Change the built-in synth's volume (0..1), mute, echo or answer instrument, at once."""
        self.volume = self.volume if volume is None else float(volume)
        self.mute = self.mute if mute is None else bool(mute)
        self.echo = self.echo if echo is None else bool(echo)
        self.instrument = self.instrument if instrument is None else int(instrument)
        synth = self.synth
        if synth is not None:
            synth.set_volume(self.volume)
            synth.set_mute(self.mute)
            if self.instrument is not None and self._synth_channel != DRUM_CHANNEL:
                synth.program(self._synth_channel, self.instrument)
            self.sound = synth.description + self._audible_note(synth)

    def _audible_note(self, synth: Synth) -> str:
        if synth.driver == "jack" and jack.is_private(os.environ.get("JACK_DEFAULT_SERVER")):
            return " (a private JACK server with no sound card: not audible here; play the answers in the browser)"
        return ""

    def _close_synth(self) -> None:
        self.player.set_output("synth", None)
        if self.synth is not None:
            self.synth.close()
            self.synth = None

    def _open(self, kind: str) -> None:
        if kind == "input":
            self._in_port = ports.open_input(
                self._input_spec or ports.IN_PORT, callback=self.feed, virtual=self._input_spec is None, api=self.api
            )
        else:
            out_port = self._out_port = ports.open_output(
                self._output_spec or ports.OUT_PORT, virtual=self._output_spec is None, api=self.api
            )
            self.player.set_output("midi", out_port.send)

    def _port_watch(self) -> None:
        lost = set()
        try:
            watcher = ports.PortWatcher(self.api)
        except PortError as e:
            self._report(f"ports are not watched: {e}")
            return
        while not self._stop.wait(0.5):
            for kind, spec in (("input", self._input_spec), ("output", self._output_spec)):
                if not isinstance(spec, str):
                    continue
                present = watcher.exists(kind, spec)
                if not present and kind not in lost:
                    lost.add(kind)
                    self._report(f"the MIDI {kind} {spec!r} disappeared: waiting for it to come back")
                elif present and kind in lost:
                    old = self._in_port if kind == "input" else self._out_port
                    try:
                        self._open(kind)
                    except PortError as e:
                        self._report(f"the MIDI {kind} {spec!r} is back but cannot be opened: {e}")
                        continue
                    if old is not None:
                        old.close()
                    lost.discard(kind)
                    if kind == "output":
                        self.player.all_notes_off()
                    self._report(f"the MIDI {kind} {spec!r} is back and reconnected")
        watcher.close()

    def _clock_loop(self) -> None:
        """Close each bar half a step before the next bar line (waking at least every
        20 ms, so an external clock's tempo changes are followed)."""
        bar = None
        while not self._stop.is_set():
            if not self.clock.running:  # waiting for an external Start or Continue
                bar = None
                self._stop.wait(0.01)
                continue
            if bar is None:
                bar = max(0, self.clock.open_bar(time.monotonic()))
            wait = self.clock.close_time(bar) - time.monotonic()
            if wait > 0:
                self._stop.wait(min(wait, 0.02))
                continue
            try:
                self.capture.close_bar(bar)
                self.last_bar = bar
            except Exception as e:  # never let one bad bar stop the clock
                self._error(f"capture of bar {bar}", e)
            self._send_clock(bar + 2)
            bar += 1

    def _send_clock(self, *bars: int) -> None:
        """Schedule what the clock sends on the output for these bars (MIDI clock, as master)."""
        messages = [m for bar in bars for m in self.clock.to_send(bar)]
        if messages:
            self.player.send_at(messages)

    def _closed_bars(self, bars: Subscription) -> Iterator[CapturedBar]:
        """The bars from `bars` as they close, until stop() (which closes it)."""
        while not self._stop.is_set():
            try:
                yield bars.get(timeout=0.5)
            except TimeoutError:
                continue
            except EOFError:
                return

    def _responder_loop(self, bars: Subscription) -> None:
        """Answer each closed bar; first a warm-up answer (well before the first bar closes), so
        Start returns at once and the first live bar traces no graph."""
        current = self.models
        try:
            self._warm_up(current)
        except Exception as e:  # the live bars will say it again, each with its own error
            self._error("warm-up answer", e)
        for bar in self._closed_bars(bars):
            models = self.models
            if models is not current:  # retrained: silence the old model's notes first (the drums play on)
                self.player.all_notes_off(ANSWERS)
                current = models
            n = bar.bar
            if not bar.sequence.notes:
                continue
            if self.mode == "call_response" and n % (2 * self.every) >= self.every:
                continue  # the machine's own turn: nothing to answer
            self._wait_for_drums(n)
            target = n + (1 if self.mode == "continuous" else self.every)
            try:
                point, answer = self.answer(bar.sequence, models)
            except Exception as e:  # that bar gets no answer; the next one will
                self._error(f"answer to bar {n}", e)
                self.player.all_notes_off(ANSWERS)  # the drums of that bar play on
                continue
            performance = self._humanized(answer, n)
            if performance is None:
                self.player.play(answer, first_step(target))
            else:
                self.player.perform(performance, first_step(target), earliest=MAX_EARLY)
            self.compute_s.append(time.monotonic() - bar.closed_at)
            self.answered += 1
            self.bus.publish("points", Point(n, np.asarray(point)))
            at, step = self.clock.bar_time(target), self.clock.step_seconds
            self.bus.publish("answers", Answer(target, n, answer, bar.sequence, at, step, performance))

    def _wait_for_drums(self, n: int) -> None:
        """Until the drummer is through with bar `n` (at most DRUMS_FIRST_S); at once without one."""
        with self._drums_done:
            self._drums_done.wait_for(
                lambda: self._drummed_bar >= n or not (self._drummer_thread and self._drummer_thread.is_alive()),
                DRUMS_FIRST_S,
            )

    def _humanized(self, answer: NoteSequence, n: int) -> NoteSequence | None:
        """The drum answer as the humanize model performs it; None when off, for a rest, or when
        it fails (the error goes to status and the quantised answer is played)."""
        humanize = self._humanizer
        if humanize is None or not answer.notes:
            return None
        try:
            return humanize(answer, self.clock.bpm)
        except Exception as e:
            self._error(f"humanizing the answer to bar {n}", e)
            return None

    def _drummer_loop(self, bars: Subscription) -> None:
        """Drum to each closed bar with notes, on the next bar; a failure costs that bar only."""
        for bar in self._closed_bars(bars):
            drummer = self._drums
            if drummer is not None and bar.sequence.notes:
                self._drum(drummer, bar)
            with self._drums_done:
                self._drummed_bar = bar.bar
                self._drums_done.notify_all()

    def _drum(self, drummer: Performer, bar: CapturedBar) -> None:
        n, target = bar.bar, bar.bar + 1
        try:
            drums = drummer(bar.sequence, self.clock.bpm)
        except Exception as e:  # that bar gets no drums; the next one will
            self._error(f"drums for bar {n}", e)
            return
        self.player.perform(drums, first_step(target), DRUM_CHANNEL, MAX_EARLY, DRUMS)
        self.drum_s.append(time.monotonic() - bar.closed_at)
        self.drummed += 1
        at, step = self.clock.bar_time(target), self.clock.step_seconds
        self.bus.publish("drums", Drums(target, n, drums, bar.sequence, at, step))

    def _error(self, where: str, error: Exception) -> None:
        self.last_error = f"{where}: {type(error).__name__}: {error}"
        self.bus.publish("status", Status(**self.status(), traceback=traceback.format_exc()))

    def _report(self, event: str, level: int = logging.WARNING) -> None:
        """A port event: logged, kept in `events` and published on "status"."""
        self.events.append(f"bar {self.last_bar}: {event}")
        log.log(level, event)
        self.bus.publish("status", Status(**self.status(), event=event))


def check_humanize(humanize: MusicVAE, musicvae: MusicVAE) -> MusicVAE:
    """A humanize GrooVAE, for an engine whose answers are drums; else a ConfigError saying which is wrong."""
    check_groove(humanize, HUMANIZE, "the humanize model")
    if not isinstance(musicvae.data_converter, DrumsConverter):
        raise ConfigError(
            f"humanize works on drum answers, and the answers come from a {musicvae.data_converter.js_type} "
            f"model: play with a drum MusicVAE (e.g. drums_2bar_lokl_small_q1), or leave humanize off"
        )
    return humanize


@functools.cache
def _private_midi_problem(server: str) -> str | None:
    """Why rtmidi cannot make ports on this process's private JACK server (None: it can), checked
    once per server: the probe costs a JACK client, and Start should not wait for it twice."""
    return ports.unavailable("jack")
