"""The jam controls: transport, port pickers, status lights and the last bars played."""
from __future__ import annotations

import html
import time

import ipywidgets as widgets

from hmm_live.live import ports
from hmm_live.live.answers import ANSWERS
from hmm_live.live.engine import MODES
from hmm_live.session import CLOCK_SOURCES, Session
from hmm_live.ui.message import Message, released_on_error
from hmm_live.ui.monitor import Listening
from hmm_live.ui.roll import PianoRoll

VIRTUAL = "(virtual port)"
NONE = "(none)"


class Transport(widgets.VBox):
    """Start/stop, tempo, clock source, temperature, mode, and how the machine answers:
    the design and the listen <-> lead control (both act on the next bar)."""

    def __init__(self, session: Session):
        super().__init__()
        self.add_class("hmm-transport")
        self.session = session
        s = session.settings
        self.play = widgets.ToggleButton(description="Start", icon="play", value=session.playing)
        self.bpm = widgets.BoundedFloatText(s["bpm"], min=20, max=400, step=1, description="BPM")
        self.clock = widgets.Dropdown(options=CLOCK_SOURCES, value=s["clock"], description="clock")
        self.temperature = widgets.FloatSlider(s["temperature"] or 0.0, min=0.0, max=2.0, step=0.05,
                                               description="temperature", continuous_update=False)
        self.mode = widgets.Dropdown(options=MODES, value=s["mode"], description="mode")
        self.answers = widgets.Dropdown(options=ANSWERS, value=s["answers"], description="answers")
        self.lead = widgets.FloatSlider(s["lead"], min=0.0, max=1.0, step=0.05, description="listen/lead",
                                        continuous_update=False, style={"description_width": "initial"})
        self.message = Message()
        self.children = [self.play, self.bpm, self.clock, self.temperature, self.mode, self.answers, self.lead,
                         self.message]
        self.play.observe(self.message.guard(self._toggle), "value")
        self.bpm.observe(self.message.guard(lambda c: session.configure(bpm=c["new"])), "value")
        self.clock.observe(self.message.guard(lambda c: self._restart_note(clock=c["new"])), "value")
        self.mode.observe(self.message.guard(lambda c: self._restart_note(mode=c["new"])), "value")
        self.temperature.observe(self.message.guard(
            lambda c: session.configure(temperature=c["new"] or None)), "value")  # 0: greedy
        self.answers.observe(self.message.guard(lambda c: session.configure(answers=c["new"])), "value")
        self.lead.observe(self.message.guard(lambda c: session.configure(lead=c["new"])), "value")

    def _toggle(self, change: dict) -> None:
        if change["new"] == self.session.playing:
            return
        if change["new"]:
            with released_on_error(self.play):
                self.session.start()
            self.message.info(f"playing at {self.session.settings['bpm']:g} BPM")
        else:
            self.session.stop()
            self.message.info("stopped")
        self.play.description, self.play.icon = ("Stop", "stop") if change["new"] else ("Start", "play")

    def _restart_note(self, **settings) -> None:
        self.session.configure(**settings)
        if self.session.playing:
            self.message.info("takes effect at the next start")


class PortPicker(widgets.VBox):
    """Input and output ports, listed when asked (each listing opens a MIDI client)."""

    def __init__(self, session: Session):
        super().__init__()
        self.add_class("hmm-port-picker")
        self.session = session
        self.input = widgets.Dropdown(description="MIDI in")
        self.output = widgets.Dropdown(description="MIDI out")
        self.refresh_button = widgets.Button(description="Refresh ports", icon="refresh")
        self.message = Message()
        self.children = [self.input, self.output, self.refresh_button, self.message]
        self.refresh_button.on_click(self.message.guard(lambda _: self.refresh()))
        self.refresh()
        self.input.observe(self.message.guard(lambda c: self._pick("input", c["new"])), "value")
        self.output.observe(self.message.guard(lambda c: self._pick("output", c["new"])), "value")

    def refresh(self) -> None:
        api = self.session.settings["api"]
        try:
            found = {"input": ports.list_inputs(api), "output": ports.list_outputs(api)}
        except ports.PortError as e:
            found = {"input": [], "output": []}
            self.message.error(str(e))
        for kind, dropdown in (("input", self.input), ("output", self.output)):
            current = self._label(self.session.settings[kind])
            options = [VIRTUAL, NONE] + [p for p in found[kind] if not p.startswith("hmm_live")]
            dropdown.options = options if current in options else options + [current]
            dropdown.value = current

    def _label(self, setting: str | None | bool) -> str:
        return VIRTUAL if setting is None else NONE if setting is False else setting

    def _pick(self, kind: str, label: str) -> None:
        setting = None if label == VIRTUAL else False if label == NONE else label
        if isinstance(setting, str):
            present = ports.list_inputs(self.session.settings["api"]) if kind == "input" else \
                ports.list_outputs(self.session.settings["api"])
            if setting not in present:
                self.message.error(f"the MIDI {kind} {setting!r} has vanished; pick another or refresh")
                return
        self.session.configure(**{kind: setting})
        self.message.info(f"MIDI {kind}: {label}" + (" (from the next start)" if self.session.playing else ""))


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
            for name, (state, why) in self.state.items())

    def _capture(self, items: list[dict]) -> None:
        notes = len(items[-1]["sequence"].notes)
        self._set("capture", "on" if notes else "off", f"bar {items[-1]['bar']}: {notes} notes")

    def _answers(self, items: list[dict]) -> None:
        self._set("responder", "on", f"answered bar {items[-1]['bar']}")

    def _status(self, items: list[dict]) -> None:
        last = items[-1]
        if not last.get("running"):
            self._set("capture", "off", "stopped")
            self._set("responder", "off", "stopped")
        elif any(i.get("traceback") for i in items):
            self._set("responder", "error", last.get("last_error") or "")

    def _training(self, items: list[dict]) -> None:
        last = items[-1]
        if not last.get("done"):
            self._set("training", "busy", f"{last['stage']} epoch {last['epoch']}"
                                          + (f" of {last['epochs']}" if last["epochs"] else ""))
        elif last.get("error"):
            self._set("training", "error", last["error"])
        else:
            self._set("training", "on", f"trained at {time.strftime('%H:%M:%S')}")


class LastBars(Listening, widgets.HBox):
    """Piano rolls of the last bar played in and the machine's last answer."""

    def __init__(self, session: Session):
        super().__init__()
        self.add_class("hmm-last-bars")
        self.played = PianoRoll("you played")
        self.answered = PianoRoll("the machine answered", color="#ff7f0e")
        self.children = [self.played, self.answered]
        self.listen(session.bus, "capture", lambda items: self.played.show(items[-1]["sequence"]))
        self.listen(session.bus, "answers", lambda items: self.answered.show(items[-1]["sequence"]))
