"""The jam's piano roll: what you played and what the machine answered, on one pitch scale,
scrolling a bar at a time, with the machine's next answer shown as soon as it is computed.

One plot (Bokeh) rather than a roll per part, so a pitch sits at the same height
whoever played it, and pitch names are on the axis rather than in hover tips.
Bars are numbered from 1 on screen (the engine counts from 0): x = 5 is where
bar 5 starts. The engine publishes an answer about half a step before the bar it
plays in; until that bar starts it is drawn dashed, as the plan.
"""

from __future__ import annotations

import threading
import time

import ipywidgets as widgets
from bokeh.models import ColumnDataSource, FixedTicker, HoverTool, Range1d, SingleIntervalTicker
from bokeh.models.annotations import BoxAnnotation, Legend, LegendItem, Span  # bokeh.models' stub lacks them
from bokeh.plotting import figure

from hmm_live.live.messages import Answer, CapturedBar
from hmm_live.music.sequences import STEPS_PER_BAR, NoteSequence, quantize
from hmm_live.session import Session
from hmm_live.ui.bokeh import BokehView, ShowsPlots
from hmm_live.ui.monitor import Listening
from hmm_live.ui.roll import pitch_name

BARS = 8  # bars in view: the bar playing, the ones before it, and the next one (for the plan)
KINDS = {
    "played": ("#2b7bb9", "you played"),
    "answered": ("#ff7f0e", "the machine answered"),
    "plan": ("#ff7f0e", "its next answer (the plan)"),
}
WHITE_KEYS = (0, 2, 4, 5, 7, 9, 11)  # pitch classes named on the axis when many octaves are in view
Notes = list[tuple[int, int, int]]  # (pitch, start step, end step) within a bar
Quad = tuple[int, int, int, int, str]  # (bar, pitch, start step, end step, hover text): a drawn note


def clock_bar(session: Session) -> float | None:
    """Where the engine's clock is, in bars from its start (0-based), or None when it is not running."""
    engine = session.engine
    if engine is None or not engine.running or not engine.clock.running:
        return None
    return engine.clock.bar_at(time.monotonic())


def bar_notes(sequence: NoteSequence) -> Notes:
    return [(n.pitch, n.quantized_start_step, n.quantized_end_step) for n in quantize(sequence).notes]


class LiveRoll(ShowsPlots, Listening, widgets.VBox):
    """The last `bars` bars; the bar playing is shaded and a playhead moves through it by 8ths."""

    def __init__(self, session: Session, bars: int = BARS, width: int = 1000, height: int = 260):
        super().__init__()
        self.add_class("hmm-live-roll")
        self.session, self.bars = session, bars
        self.played: dict[int, Notes] = {}  # bar index -> what was played in it
        self.answers: dict[int, tuple[int, Notes]] = {}  # bar index it plays in -> (bar it answers, notes)
        self.now: int | None = None  # the bar playing (or last played), 0-based
        self._eighth: float | None = None
        self._doc = threading.Lock()  # the UI thread draws; the kernel's thread built the plot
        self.sources = {kind: ColumnDataSource(self._columns([]), name=f"hmm_roll_{kind}") for kind in KINDS}
        self.plot = figure(
            width=width,
            height=height,
            toolbar_location=None,
            x_range=Range1d(start=1, end=1 + bars),
            y_range=Range1d(start=57.5, end=74.5),
            x_axis_label="bar",
            name="hmm_roll",
        )
        self.plot.xaxis.ticker = SingleIntervalTicker(interval=1, num_minor_ticks=4)
        self.plot.xgrid.grid_line_color = "#999"
        self.plot.xgrid.minor_grid_line_color = "#eee"
        self.plot.ygrid.grid_line_color = None
        self.plot.yaxis.name = "hmm_roll_pitch_axis"
        self.plot.yaxis.major_label_overrides = {p: pitch_name(p) for p in range(128)}
        self.pitch_ticks = FixedTicker(ticks=[])
        self.plot.yaxis.ticker = self.pitch_ticks
        self.plot.yaxis.major_label_text_font_size = "9px"
        self.current = BoxAnnotation(left=1, right=2, fill_color="#fff3b0", fill_alpha=0.5, level="underlay")
        self.playhead = Span(location=1, dimension="height", line_color="#d62728", line_width=2, visible=False)
        self.plot.add_layout(self.current)
        self.plot.add_layout(self.playhead)
        items = []
        for kind, (color, label) in KINDS.items():
            plan = kind == "plan"
            glyph = self.plot.quad(
                left="x0",
                right="x1",
                bottom="y0",
                top="y1",
                source=self.sources[kind],
                fill_color=color,
                fill_alpha=0.25 if plan else 0.8 if kind == "played" else 0.6,
                line_color=color,
                line_dash="dashed" if plan else "solid",
                line_width=1.5 if plan else 1,
            )
            items.append(LegendItem(label=label, renderers=[glyph]))  # type: ignore[list-item]  # bokeh's stub: list[GlyphRenderer[Glyph]], invariant
        self.plot.add_layout(
            Legend(
                items=items,
                orientation="horizontal",
                location="top_left",
                label_text_font_size="11px",
                border_line_alpha=0,
            ),
            "above",
        )
        self.plot.add_tools(HoverTool(tooltips=[("", "@info")]))
        self.view = BokehView(self.plot)
        self.children = [self.view]
        self.listen(session.bus, "capture", self._captured)
        self.listen(session.bus, "answers", self._answered)
        self.listen(session.bus, "status", lambda items: self._follow_clock(), every_tick=True)

    def close(self) -> None:
        self.view.close()
        super().close()

    # -- what arrives (UI thread) -------------------------------------------------------
    def _captured(self, items: list[CapturedBar]) -> None:
        for item in items:
            self.played[item.bar] = bar_notes(item.sequence)
        self._draw()

    def _answered(self, items: list[Answer]) -> None:
        for item in items:
            self.answers[item.bar] = (item.answering, bar_notes(item.sequence))
        self._draw()

    def _follow_clock(self) -> None:
        position = clock_bar(self.session)
        if position is None:
            if self.playhead.visible:
                with self._doc:
                    self.playhead.visible = False
            return
        bar, eighth = int(position), int(position * 8) / 8
        if bar != self.now:
            self.now = bar
            self._draw()
        if eighth != self._eighth:
            self._eighth = eighth
            with self._doc:
                self.playhead.update(location=eighth + 1, visible=True)

    # -- drawing --------------------------------------------------------------------------
    def _columns(self, notes: list[Quad]) -> dict[str, list]:
        """(bar, pitch, start, end, info) notes as quads in 1-based bar coordinates."""
        return {
            "x0": [b + 1 + s / STEPS_PER_BAR for b, _, s, _, _ in notes],
            "x1": [b + 1 + e / STEPS_PER_BAR for b, _, _, e, _ in notes],
            "y0": [p - 0.4 for _, p, _, _, _ in notes],
            "y1": [p + 0.4 for _, p, _, _, _ in notes],
            "info": [info for *_, info in notes],
        }

    def _draw(self) -> None:
        known = list(self.played) + list(self.answers)
        now = self.now if self.now is not None else max(known, default=0)
        last = max(now + 1, self.bars - 1)  # the next bar stays in view, for the plan
        first = last + 1 - self.bars
        for table in (self.played, self.answers):
            for bar in [b for b in table if b < first]:
                del table[bar]
        shown: dict[str, list[Quad]] = {kind: [] for kind in KINDS}
        for bar, notes in self.played.items():
            shown["played"] += [(bar, p, s, e, f"{pitch_name(p)}: you played, bar {bar + 1}") for p, s, e in notes]
        for bar, (answering, notes) in self.answers.items():
            kind = "plan" if self.now is None or bar > self.now else "answered"
            shown[kind] += [
                (
                    bar,
                    p,
                    s,
                    e,
                    f"{pitch_name(p)}: the answer to bar {answering + 1}, "
                    f"{'plays in' if kind == 'plan' else 'played in'} bar {bar + 1}",
                )
                for p, s, e in notes
                if bar <= last
            ]
        pitches = [n[1] for notes in shown.values() for n in notes]
        lowest, highest = (min(pitches), max(pitches)) if pitches else (60, 72)
        pad = max(0, 14 - (highest - lowest)) / 2  # at least an octave and a bit, centred on the notes
        low, high = lowest - pad - 1.5, highest + pad + 1.5
        named = range(12) if high - low <= 15 else WHITE_KEYS if high - low <= 30 else (0, 4, 7)
        ticks = [p for p in range(int(low) + 1, int(high) + 1) if p % 12 in named]
        with self._doc:
            for kind, quads in shown.items():
                self.sources[kind].data = self._columns(quads)
            self.plot.x_range.update(start=first + 1, end=last + 2)
            self.plot.y_range.update(start=low, end=high)
            self.pitch_ticks.ticks = ticks
            self.current.update(left=now + 1, right=now + 2)
