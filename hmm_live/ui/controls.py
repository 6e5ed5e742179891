"""The jam controls: transport, port pickers, status lights and the engine's state (bar counter)."""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Literal

import ipywidgets as widgets

from hmm_live.errors import PortError
from hmm_live.live import ports
from hmm_live.live.answers import ANSWERS, MODES
from hmm_live.live.clock import BPM_RANGE
from hmm_live.live.messages import Answer, CapturedBar, Status, TrainingDone, TrainingProgress
from hmm_live.session import CLOCK_SOURCES, Session, SessionSettings
from hmm_live.ui.live_roll import clock_bar
from hmm_live.ui.message import Message
from hmm_live.ui.monitor import Listening

VIRTUAL = "(virtual port)"
NONE = "(none)"
STYLE = {"description_width": "90px"}  # room for "temperature" and "listen/lead" in full
DRUMMERS = ("tap2drum_1bar", "tap2drum_2bar")  # the published tap2drum models the panel offers (downloaded once)


class Transport(Listening, widgets.VBox):
    """Start/stop, tempo, clock source, temperature, mode, and how the machine answers:
    the design and the listen <-> lead control, and the drummer (all act on the next bar).

    Start/Stop shows whether the engine runs, however it was started or stopped
    (from code, another panel, an error): it follows the session's "status" stream."""

    def __init__(self, session: Session):
        super().__init__()
        self.add_class("hmm-transport")
        self.session = session
        s = session.settings
        self.play = widgets.Button(description="Start", icon="play")  # a click is a command: no value to fall
        self.play.add_class("hmm-play")  # out of step with the engine's state
        self.bpm = widgets.BoundedFloatText(
            s["bpm"], min=BPM_RANGE[0], max=BPM_RANGE[1], step=1, description="BPM", style=STYLE
        )
        self.clock = widgets.Dropdown(options=CLOCK_SOURCES, value=s["clock"], description="clock", style=STYLE)
        self.temperature = widgets.FloatSlider(
            s["temperature"] or 0.0,
            min=0.0,
            max=2.0,
            step=0.05,
            description="temperature",
            continuous_update=False,
            style=STYLE,
        )
        self.mode = widgets.Dropdown(options=MODES, value=s["mode"], description="mode", style=STYLE)
        self.answers = widgets.Dropdown(options=ANSWERS, value=s["answers"], description="answers", style=STYLE)
        self.lead = widgets.FloatSlider(
            s["lead"], min=0.0, max=1.0, step=0.05, description="listen/lead", continuous_update=False, style=STYLE
        )
        drummers = [("off", None), *((d, d) for d in DRUMMERS)]
        if s["drummer"] is not None and s["drummer"] not in DRUMMERS:  # a folder
            drummers.append((Path(s["drummer"]).name, s["drummer"]))
        self.drummer = widgets.Dropdown(options=drummers, value=s["drummer"], description="drummer", style=STYLE)
        self.message = Message()
        self.children = [
            self.play,
            self.bpm,
            self.clock,
            self.temperature,
            self.mode,
            self.answers,
            self.lead,
            self.drummer,
            self.message,
        ]
        self._show()
        self.play.on_click(self.message.guard(lambda _: self._toggle()))
        self.bpm.observe(self.message.guard(lambda c: session.configure(bpm=c["new"])), "value")
        self.clock.observe(self.message.guard(lambda c: self._restart_note(clock=c["new"])), "value")
        self.mode.observe(self.message.guard(lambda c: self._restart_note(mode=c["new"])), "value")
        self.temperature.observe(
            self.message.guard(lambda c: session.configure(temperature=c["new"] or None)), "value"
        )  # 0: greedy
        self.answers.observe(self.message.guard(lambda c: session.configure(answers=c["new"])), "value")
        self.lead.observe(self.message.guard(lambda c: session.configure(lead=c["new"])), "value")
        self.drummer.observe(self.message.guard(self._set_drummer), "value")
        self.listen(session.bus, "status", lambda items: self._show())

    def _show(self) -> None:
        """The button's label as the engine is."""
        self.play.description, self.play.icon = ("Stop", "stop") if self.session.playing else ("Start", "play")

    def _toggle(self) -> None:
        """A click does what the button said when it was clicked."""
        try:
            if self.play.description == "Stop":
                self.session.stop()
                self.message.info("stopped")
            elif not self.session.playing:
                self.session.start()
                self.message.info(f"playing at {self.session.settings['bpm']:g} BPM")
        finally:
            self._show()

    def _set_drummer(self, change: dict) -> None:
        """A tap2drum model from the next bar (a name is downloaded the first time); one that
        cannot be loaded leaves the drummer as it was, and the list says so."""
        if change["new"] == self.session.settings["drummer"]:
            return
        try:
            self.session.configure(drummer=change["new"])
        except Exception:
            self.drummer.value = change["old"]
            raise
        self.message.info(f"drums from the next bar: {change['new']}" if change["new"] else "no drummer")

    def _restart_note(self, **settings) -> None:
        self.session.configure(**settings)
        if self.session.playing:
            self.message.info("takes effect at the next start")


class PortPicker(Listening, widgets.VBox):
    """Input and output ports, listed when asked (each listing opens a MIDI client), and the
    real names of the ports the running engine opened (a virtual port's name depends on the
    MIDI system: under JACK it is e.g. "RtMidiOut Client:hmm_live out")."""

    def __init__(self, session: Session):
        super().__init__()
        self.add_class("hmm-port-picker")
        self.session = session
        self.input = widgets.Dropdown(description="MIDI in", style=STYLE)
        self.output = widgets.Dropdown(description="MIDI out", style=STYLE)
        self.refresh_button = widgets.Button(description="Refresh ports", icon="refresh")
        self.opened = widgets.HTML()
        self.opened.add_class("hmm-ports-opened")
        self.message = Message()
        self.children = [self.input, self.output, self.refresh_button, self.opened, self.message]
        self.refresh_button.on_click(self.message.guard(lambda _: self.refresh()))
        self.refresh(listing=session.playing)  # else the engine has not picked its MIDI system yet
        self.input.observe(self.message.guard(lambda c: self._pick("input", c["new"])), "value")
        self.output.observe(self.message.guard(lambda c: self._pick("output", c["new"])), "value")
        engine = session.engine
        self._opened(Status(**engine.status()) if engine is not None else None)
        self.listen(session.bus, "status", lambda items: self._opened(items[-1]))

    @property
    def api(self) -> str | None:
        """The MIDI system in use: the engine's (it may have fallen back to JACK), else the setting."""
        engine = self.session.engine
        return engine.api if engine is not None else self.session.settings["api"]

    def refresh(self, listing: bool = True) -> None:
        """The pickers' choices: this machine's ports when `listing`, else only the settings'."""
        found: dict[str, list[str]] = {"input": [], "output": []}
        try:
            if listing:
                found = {"input": ports.list_inputs(self.api), "output": ports.list_outputs(self.api)}
        except PortError as e:
            self.message.error(
                f"no ports to list: {e}. Start still works: the engine finds a MIDI system "
                f"or plays without ports (the line at the top says which)"
            )
        ours = (ports.IN_PORT, ports.OUT_PORT)  # the engine's own virtual ports, under any client name
        settings = self.session.settings
        for kind, setting, dropdown in (
            ("input", settings["input"], self.input),
            ("output", settings["output"], self.output),
        ):
            current = self._label(setting)
            options = [VIRTUAL, NONE] + [p for p in found[kind] if not any(name in p for name in ours)]
            dropdown.options = options if current in options else options + [current]
            dropdown.value = current

    def _label(self, setting: str | Literal[False] | None) -> str:
        return VIRTUAL if setting is None else NONE if setting is False else setting

    def _pick(self, kind: Literal["input", "output"], label: str) -> None:
        setting: str | Literal[False] | None = None if label == VIRTUAL else False if label == NONE else label
        if isinstance(setting, str):
            present = ports.list_inputs(self.api) if kind == "input" else ports.list_outputs(self.api)
            if setting not in present:
                self.message.error(f"the MIDI {kind} {setting!r} has vanished; pick another or refresh")
                return
        change: SessionSettings = {"input": setting} if kind == "input" else {"output": setting}
        self.session.configure(**change)
        self.message.info(f"MIDI {kind}: {label}" + (" (from the next start)" if self.session.playing else ""))

    def _opened(self, status: Status | None) -> None:
        if status is None or not status.running:
            self.opened.value = "<i>the ports open when the engine starts; Refresh lists the others</i>"
            return
        self.opened.value = "<br>".join(
            f'{label}: <b class="hmm-port" data-kind="{kind}">{html.escape(status.ports.get(kind) or "none")}</b>'
            for kind, label in (("input", "playing in from"), ("output", "answering to"))
        )


LIGHT = {"off": "#bbb", "on": "#2ca02c", "busy": "#ffbf00", "error": "#d62728"}


class StatusLights(Listening, widgets.HTML):
    """Capture, responder and training lights, like the original devices' status light.

    Green: working (a bar with notes captured, an answer sent, a model trained);
    amber: training; red: the last attempt failed (hover for why); grey: idle.
    """

    def __init__(self, session: Session):
        super().__init__()
        self.add_class("hmm-status-lights")
        self.session = session
        trained = "on" if session.trained else "off"
        self.state = {"capture": ("off", ""), "responder": ("off", ""), "training": (trained, "")}
        for stream in ("capture", "answers", "status", "training"):
            self.listen(session.bus, stream, getattr(self, f"_{stream}"))
        self._draw()

    def _set(self, light: str, state: str, why: str = "") -> None:
        self.state[light] = (state, why)
        self._draw()

    def _draw(self) -> None:
        self.value = "".join(
            f'<span class="hmm-light" data-light="{name}" data-state="{state}" title="{html.escape(why)}" '
            f'style="display:inline-block;margin-right:12px"><span style="display:inline-block;width:12px;'
            f'height:12px;border-radius:6px;background:{LIGHT[state]};vertical-align:middle"></span> {name}</span>'
            for name, (state, why) in self.state.items()
        )

    def _capture(self, items: list[CapturedBar]) -> None:
        notes = len(items[-1].sequence.notes)
        self._set("capture", "on" if notes else "off", f"bar {items[-1].bar + 1}: {notes} notes")

    def _answers(self, items: list[Answer]) -> None:
        last = items[-1]
        self._set("responder", "on", f"answered bar {last.answering + 1} in bar {last.bar + 1}")

    def _status(self, items: list[Status]) -> None:
        last = items[-1]
        if not last.running:
            self._set("capture", "off", "stopped")
            self._set("responder", "off", "stopped")
        elif any(i.traceback for i in items):
            self._set("responder", "error", last.last_error or "")

    def _training(self, items: list[TrainingProgress | TrainingDone]) -> None:
        last = items[-1]
        if isinstance(last, TrainingProgress):
            self._set(
                "training", "busy", f"{last.stage} epoch {last.epoch}" + (f" of {last.epochs}" if last.epochs else "")
            )
        elif last.error:
            self._set("training", "error", last.error)
        else:
            self._set("training", "on", f"trained at {time.strftime('%H:%M:%S')}")


class EngineState(Listening, widgets.HTML):
    """Whether the engine plays, the bar playing (counted from 1, from the engine's clock), the
    tempo, and where MIDI and sound go (the engine's status: these depend on the machine)."""

    def __init__(self, session: Session):
        super().__init__()
        self.add_class("hmm-engine-state")
        self.session = session
        self.status = Status(**session.engine.status()) if session.engine is not None else None
        self._received = 0  # status items so far: with the bar, what the text was drawn from
        self._shown: tuple | None = None
        self._draw()
        self.listen(session.bus, "status", self._update, every_tick=True)

    def _update(self, items: list[Status]) -> None:
        if items:
            self.status, self._received = items[-1], self._received + len(items)
        self._draw()

    def _draw(self) -> None:
        position = clock_bar(self.session)
        bar = None if position is None else int(position) + 1
        status = self.status
        shown = (bar, self._received)
        if shown == self._shown:
            return
        self._shown = shown
        if bar is not None:
            state = f"&#9654; playing &middot; bar <b>{bar}</b> &middot; {status.bpm if status else 0:g} BPM"
        else:
            last = status.bar if status else None
            state = "&#9632; stopped" + (f" after bar {last + 1}" if last is not None else "")
        where = (
            [
                f"{label}: {html.escape(value)}"
                for value, label in ((status.midi, "MIDI"), (status.sound, "sound"))
                if value
            ]
            if status
            else []
        )
        self.value = (
            f'<span class="hmm-state" data-running="{str(bar is not None).lower()}" '
            f'data-bar="{bar or ""}">{state}</span>' + "".join(f'<br><span class="hmm-where">{w}</span>' for w in where)
        )
