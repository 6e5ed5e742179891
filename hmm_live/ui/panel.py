"""The instrument panel: every widget of a session assembled, wired together."""
from __future__ import annotations

import html

import ipywidgets as widgets

from hmm_live.session import Session
from hmm_live.ui.controls import LastBars, PortPicker, StatusLights, Transport
from hmm_live.ui.library import ClipLibraryPanel
from hmm_live.ui.sliders import LatentSliders
from hmm_live.ui.subspace_map import SubspaceMap
from hmm_live.ui.training import TrainingPanel


def _section(title: str, *children: widgets.Widget) -> widgets.VBox:
    return widgets.VBox([widgets.HTML(f"<b>{html.escape(title)}</b>"), *children])


class Panel(widgets.VBox):
    """Transport, ports, lights, map and sliders, last bars, training and clips; `close()` ends it."""

    def __init__(self, session: Session):
        super().__init__()
        self.add_class("hmm-panel")
        self.session = session
        self.problem = widgets.HTML(f'<span class="hmm-error" style="color:#b00020">{html.escape(session.problem)}'
                                    f'</span>' if session.problem else "")
        self.transport, self.ports, self.lights = Transport(session), PortPicker(session), StatusLights(session)
        self.sliders = LatentSliders(session)
        self.map = SubspaceMap(session, on_pick=self.sliders.set_point)
        self.sliders.on_point = self.map.set_cursor
        self.last_bars, self.training = LastBars(session), TrainingPanel(session)
        self.clips = ClipLibraryPanel(session)
        self.children = [self.problem, self.lights,
                         widgets.HBox([_section("Transport", self.transport), _section("Ports", self.ports)]),
                         widgets.HBox([_section("Subspace", self.map), _section("Sliders", self.sliders)]),
                         _section("Last bars", self.last_bars),
                         widgets.HBox([_section("Training", self.training), _section("Clips", self.clips)])]

    def close(self) -> None:
        for w in (self.transport, self.ports, self.lights, self.sliders, self.map, self.last_bars, self.training,
                  self.clips):
            w.close()
        super().close()
