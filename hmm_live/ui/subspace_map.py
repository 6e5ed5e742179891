"""The subspace map: every training clip as its Gaussian, the live point, and a pad.

Each clip is drawn as an ellipse one sigma wide around its mean (the original
2-D device's blobs); the responder's points stream in as a fading trail; the
cursor marks what the sliders or the pad decode. Click a spot to move the
cursor there (the 2-D pad). A 4-D (or any n-D) subspace shows every pair of
dimensions.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence

import ipywidgets as widgets
import numpy as np
from bokeh.events import Tap
from bokeh.layouts import gridplot
from bokeh.models import ColumnDataSource
from bokeh.plotting import figure

from hmm_live.live.messages import Point, TrainingDone, TrainingProgress
from hmm_live.session import Session
from hmm_live.ui.bokeh import BokehView, ShowsPlots
from hmm_live.ui.monitor import Listening

TRAIL = 32  # responder points kept on the map
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


class SubspaceMap(ShowsPlots, Listening, widgets.VBox):
    """`set_cursor(point)`; `on_pick(point)` is called when the performer clicks the map."""

    def __init__(self, session: Session, on_pick: Callable[[np.ndarray], None] | None = None, size: int = 320):
        super().__init__()
        self.add_class("hmm-subspace-map")
        self.session, self.on_pick, self.size = session, on_pick, size
        self.dims: int | None = None
        self.streamed = self.batches = 0  # trail rows, and updates, sent to the browser (tests, benchmarks)
        self.view: BokehView | None = None
        self._doc = threading.Lock()  # the UI thread and the kernel's thread both change the plot
        self._cursor = np.zeros(0, np.float32)
        self.message = widgets.HTML()
        self.refresh()
        self.listen(session.bus, "points", self._points)
        self.listen(session.bus, "training", self._trained)

    def close(self) -> None:
        if self.view is not None:
            self.view.close()
        super().close()

    # -- drawing ------------------------------------------------------------------
    def refresh(self) -> None:
        """Redraw for the session's current subspace (new dims, new clips)."""
        subspacer = self.session.subspacer
        if subspacer is None:
            self.message.value = "<i>No subspace yet: train one to see the map.</i>"
            self.children = [self.message]
            return
        if subspacer.latent_dims < 2:
            self.message.value = "<i>A 1-D subspace has no map: use its slider.</i>"
            self.children = [self.message]
            return
        mu, sigma, dims = subspacer.clip_mu, subspacer.clip_sigma, subspacer.latent_dims
        clips = {
            **self._columns(mu, dims),
            **{f"w{d}": (2 * sigma[:, d]).tolist() for d in range(dims)},
            "name": subspacer.clip_names,
            "color": [PALETTE[i % len(PALETTE)] for i in range(len(mu))],
        }
        with self._doc:
            if dims != self.dims:
                self._build(dims, clips)  # data first: a view only gets what it is built with
            else:
                self.clips.data = clips
                if not subspacer.info.get("aligned_on"):  # an aligned map keeps the responder's trail
                    self.trail.data = self._columns(np.zeros((0, dims)), dims)
        self.set_cursor(self._cursor if len(self._cursor) == dims else np.zeros(dims))
        self.message.value = f"{len(mu)} clips in a {dims}-D subspace; click to move the cursor"
        self.children = [self.message, self.view]

    @staticmethod
    def _columns(points: np.ndarray, dims: int) -> dict[str, list[float]]:
        rows = np.asarray(points, np.float64).reshape(-1, dims)
        return {f"d{d}": rows[:, d].tolist() for d in range(dims)}

    def _build(self, dims: int, clips: dict[str, list]) -> None:
        self.dims = dims
        self.clips = ColumnDataSource(clips, name="hmm_clips")
        self.trail = ColumnDataSource(self._columns(np.zeros((0, dims)), dims), name="hmm_trail")
        self.cursor = ColumnDataSource(self._columns(np.zeros((1, dims)), dims), name="hmm_cursor")
        pairs = list(itertools.combinations(range(dims), 2))
        size = self.size if len(pairs) == 1 else self.size * 2 // 3
        plots = [self._plot(x, y, size) for x, y in pairs]
        layout = plots[0] if len(plots) == 1 else gridplot(plots, ncols=3, toolbar_location=None)
        if self.view is not None:
            self.view.close()
        self.view = BokehView(layout)

    def _plot(self, x: int, y: int, size: int):
        fx, fy = f"d{x}", f"d{y}"
        p = figure(
            width=size,
            height=size,
            tools="tap,pan,wheel_zoom,reset",
            toolbar_location="below",
            x_axis_label=f"dim {x + 1}",
            y_axis_label=f"dim {y + 1}",
            tooltips=[("clip", "@name")],
            match_aspect=True,
        )
        p.ellipse(
            fx,
            fy,
            width=f"w{x}",
            height=f"w{y}",
            source=self.clips,
            fill_color="color",
            fill_alpha=0.18,
            line_color="color",
            line_alpha=0.6,
        )
        p.scatter(fx, fy, source=self.clips, color="color", size=5)
        p.line(fx, fy, source=self.trail, line_color="#333", line_alpha=0.35)
        p.scatter(fx, fy, source=self.trail, color="#333", size=6, alpha=0.6)
        p.scatter(fx, fy, source=self.cursor, marker="cross", size=18, line_width=3, color="#d62728")
        p.on_event(Tap, lambda event: self._tap(x, y, event.x, event.y))
        return p

    # -- updates --------------------------------------------------------------------
    def set_cursor(self, point: Sequence[float] | np.ndarray) -> None:
        """Move the cursor (what the sliders or the pad play) to a subspace point."""
        self._cursor = np.asarray(point, np.float32).reshape(-1)
        if self.dims is None or len(self._cursor) != self.dims:
            return
        with self._doc:
            self.cursor.data = self._columns(self._cursor[None], self.dims)

    def _tap(self, x: int, y: int, px: float, py: float) -> None:
        assert self.dims is not None  # taps come from a plot, and plots from _build
        point = self._cursor.copy() if len(self._cursor) == self.dims else np.zeros(self.dims, np.float32)
        point[x], point[y] = px, py
        self.set_cursor(point)
        if self.on_pick is not None:
            self.on_pick(point)

    def _points(self, items: list[Point]) -> None:
        """Responder points (UI thread): one stream call however many arrived."""
        if self.dims is None:
            return
        points = np.array([i.point for i in items if np.size(i.point) == self.dims]).reshape(-1, self.dims)
        if not len(points):
            return
        with self._doc:
            self.trail.stream(self._columns(points, self.dims), rollover=TRAIL)  # type: ignore[arg-type]  # bokeh's stub: its own invariant dict type
        self.streamed += len(points)
        self.batches += 1

    def _trained(self, items: list[TrainingProgress | TrainingDone]) -> None:
        if any(isinstance(i, TrainingDone) and not i.error for i in items):
            self.refresh()
