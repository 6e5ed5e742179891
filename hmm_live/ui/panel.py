"""The instrument panel: every widget of a session assembled, wired together.

Laid out to fit a notebook at 1400 px wide with the file browser open (about
950 px of output): rows wrap rather than run off the right edge.
"""

from __future__ import annotations

import html

import ipywidgets as widgets

from hmm_live.session import Session
from hmm_live.ui.bokeh import ShowsPlots
from hmm_live.ui.controls import EngineState, PortPicker, StatusLights, Transport
from hmm_live.ui.library import ClipLibraryPanel
from hmm_live.ui.live_roll import LiveRoll
from hmm_live.ui.sliders import LatentSliders
from hmm_live.ui.sound import BrowserSound
from hmm_live.ui.subspace_map import SubspaceMap
from hmm_live.ui.training import TrainingPanel

WRAP = widgets.Layout(flex_flow="row wrap", align_items="flex-start")


def _section(title: str, *children: widgets.Widget) -> widgets.VBox:
    return widgets.VBox(
        [widgets.HTML(f"<b>{html.escape(title)}</b>"), *children], layout=widgets.Layout(margin="0 24px 8px 0")
    )


def _row(*sections: widgets.Widget) -> widgets.HBox:
    return widgets.HBox(list(sections), layout=WRAP)


class Panel(ShowsPlots, widgets.VBox):
    """The engine's state and lights, transport, ports, the live piano roll, map and sliders,
    training and clips; `close()` ends it."""

    def __init__(self, session: Session):
        super().__init__()
        self.add_class("hmm-panel")
        self.session = session
        self.problem = widgets.HTML(
            f'<span class="hmm-error" style="color:#b00020">{html.escape(session.problem)}</span>'
            if session.problem
            else ""
        )
        self.state, self.lights = EngineState(session), StatusLights(session)
        self.transport, self.ports = Transport(session), PortPicker(session)
        self.roll = LiveRoll(session, width=900)
        self.sliders = LatentSliders(session)
        self.map = SubspaceMap(session, on_pick=self.sliders.set_point)
        self.sliders.on_point = self.map.set_cursor
        self.training, self.clips = TrainingPanel(session), ClipLibraryPanel(session)
        self.sound = BrowserSound(session)
        self.children = [
            self.problem,
            self.state,
            self.lights,
            self.sound,
            _row(_section("Transport", self.transport), _section("Ports", self.ports)),
            _section("Bars", self.roll),
            _row(_section("Subspace", self.map), _section("Sliders", self.sliders)),
            _row(_section("Training", self.training), _section("Clips", self.clips)),
        ]

    def close(self) -> None:
        for w in (
            self.state,
            self.lights,
            self.transport,
            self.ports,
            self.roll,
            self.sliders,
            self.map,
            self.training,
            self.clips,
            self.sound,
        ):
            w.close()
        super().close()
